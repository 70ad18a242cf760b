/*
 * fuzz_migrate.c: libFuzzer target for the migration set loader and
 * runner in migrate/migrate.c.
 *
 * The input is a migration set of up to three versions: byte 0x1e starts
 * the next version's up file, byte 0x1f starts the current version's
 * down file, so "UP1 \x1f DOWN1 \x1e UP2 \x1e UP3" is written as
 * 0001_a.sql, 0001_a.down.sql, 0002_b.sql and 0003_c.sql into a folder
 * fz/ under a temporary directory made once per process (files not used
 * by this input are removed).  migrate_set_load() must accept it or name
 * at least one problem; a loaded set must look as migrate.h says and must
 * apply (it already ran once on the loader's scratch database) to a fresh
 * :memory: database, reach its latest version and verify; then a dry run
 * and a full down plan run for coverage (their results are not checked:
 * the loader only proves each down file lets its up file run again).
 * abort() on a broken promise.
 *
 * Fuzzed SQL may try to run for ever or allocate a gigabyte, which would
 * only show up as libFuzzer timeouts and out-of-memory reports.  So every
 * SQLite connection the process opens (the loader's scratch database too)
 * gets, through sqlite3_auto_extension(), a progress handler that stops a
 * statement after FUZZ_VM_STEPS virtual machine steps and small length
 * limits, and the process a hard heap limit.  These bound the fuzzed SQL,
 * not migrate.c.  Single-threaded.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "migrate.h"

#define FUZZ_VERSIONS	3
#define FUZZ_VM_STEPS	200000		/* per statement */
#define FUZZ_HEAP_MAX	(256 * 1024 * 1024)
#define SEP_UP		0x1e
#define SEP_DOWN	0x1f

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 setdir[512];
static char	 tmpdir[256];

static const char *up_names[FUZZ_VERSIONS] = {
	"0001_a.sql", "0002_b.sql", "0003_c.sql"
};
static const char *down_names[FUZZ_VERSIONS] = {
	"0001_a.down.sql", "0002_b.down.sql", "0003_c.down.sql"
};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_migrate: broken: %s\n", what);
		abort();
	}
}

static int
stop_statement(void *arg)
{
	return (1);	/* called after FUZZ_VM_STEPS steps: interrupt */
}

static int
bound_connection(sqlite3 *db, char **errmsg, const void *api)
{
	sqlite3_progress_handler(db, FUZZ_VM_STEPS, stop_statement, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1024 * 1024);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1024 * 1024);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 50);
	sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 20);
	return (SQLITE_OK);
}

static void
cleanup(void)
{
	size_t	i;
	char	path[1024];

	for (i = 0; i < FUZZ_VERSIONS; i++) {
		snprintf(path, sizeof path, "%s/%s", setdir, up_names[i]);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s", setdir, down_names[i]);
		unlink(path);
	}
	rmdir(setdir);
	rmdir(tmpdir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/fuzz_migrate.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("fuzz_migrate: mkdtemp");
		exit(1);
	}
	snprintf(setdir, sizeof setdir, "%s/fz", tmpdir);
	if (mkdir(setdir, 0700) == -1) {
		perror("fuzz_migrate: mkdir");
		exit(1);
	}
	atexit(cleanup);
	sqlite3_auto_extension((void (*)(void))bound_connection);
	sqlite3_hard_heap_limit64(FUZZ_HEAP_MAX);
	return (0);
}

/* Write n bytes to setdir/name, or remove it when data is NULL. */
static void
put_file(const char *name, const uint8_t *data, size_t n)
{
	char	path[1024];
	int	fd;

	snprintf(path, sizeof path, "%s/%s", setdir, name);
	if (data == NULL) {
		if (unlink(path) == -1 && errno != ENOENT) {
			perror("fuzz_migrate: unlink");
			abort();
		}
		return;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (n > 0 && write(fd, data, n) != (ssize_t)n) || close(fd) == -1) {
		perror("fuzz_migrate: write");
		abort();
	}
}

/* Split the input into up and down files and write them. */
static void
write_set(const uint8_t *data, size_t size)
{
	const uint8_t	*up[FUZZ_VERSIONS] = { NULL }, *down[FUZZ_VERSIONS] = {
	    NULL };
	size_t		 uplen[FUZZ_VERSIONS] = { 0 }, downlen[FUZZ_VERSIONS] = {
	    0 };
	size_t		 i, v = 0, start = 0;
	int		 in_down = 0;

	for (i = 0; i <= size; i++) {
		if (i < size && data[i] != SEP_UP && data[i] != SEP_DOWN)
			continue;
		if (in_down && down[v] == NULL) {
			down[v] = data + start;
			downlen[v] = i - start;
		} else if (!in_down && up[v] == NULL) {
			up[v] = data + start;
			uplen[v] = i - start;
		}
		if (i == size)
			break;
		if (data[i] == SEP_UP) {
			if (v + 1 == FUZZ_VERSIONS)
				break;	/* the rest is ignored */
			v++;
			in_down = 0;
		} else
			in_down = 1;
		start = i + 1;
	}
	for (i = 0; i < FUZZ_VERSIONS; i++) {
		put_file(up_names[i], up[i], uplen[i]);
		put_file(down_names[i], down[i], downlen[i]);
	}
}

static void
check_set(const struct migrate_set *set)
{
	const struct migrate_step	*s;
	int				 v, latest;
	size_t				 i;

	check(strcmp(migrate_set_name(set), "fz") == 0, "set name is not fz");
	latest = migrate_set_latest(set);
	check(latest >= 1 && latest <= FUZZ_VERSIONS, "latest out of range");
	check(migrate_set_step(set, 0) == NULL, "a step for version 0");
	check(migrate_set_step(set, latest + 1) == NULL,
	    "a step past the latest version");
	for (v = 1; v <= latest; v++) {
		s = migrate_set_step(set, v);
		check(s != NULL && s->version == v, "step missing or misnumbered");
		check(s->up_sql != NULL && s->name != NULL && s->file != NULL,
		    "step without up SQL or names");
		check(strcmp(s->file, up_names[v - 1]) == 0,
		    "step file is not the one written");
		check((s->down_sql == NULL) == (s->down_file == NULL),
		    "down SQL and down file disagree");
		check(s->checksum != NULL && strlen(s->checksum) == 64,
		    "checksum not 64 characters");
		for (i = 0; i < 64; i++)
			check(strchr("0123456789abcdef", s->checksum[i]) != NULL,
			    "checksum not lower-case hex");
	}
}

static void
apply_set(const struct migrate_set *set)
{
	struct migrate_error	 err;
	sqlite3			*db = NULL;
	int			 rc, reached = -2, version = -2, latest;

	latest = migrate_set_latest(set);
	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		fprintf(stderr, "fuzz_migrate: sqlite3_open: %s\n",
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		abort();
	}

	/* Dry run: nothing may change. */
	rc = migrate_apply(db, set, latest, MIGRATE_DRY_RUN, &reached, &err);
	check(rc <= 0 && reached >= -1 && reached <= latest,
	    "dry run: bad code or version");
	check(rc == MIGRATE_OK || err.message[0] != '\0',
	    "dry run failed without a message");
	check(migrate_db_version(db, &version, NULL) == MIGRATE_OK &&
	    version == 0, "dry run changed the database version");

	/* For real: the loader already ran this set, so it must apply. */
	rc = migrate_apply(db, set, latest, 0, &reached, &err);
	if (rc != MIGRATE_OK && strstr(err.message, "interrupted") == NULL &&
	    strstr(err.message, "out of memory") == NULL) {
		fprintf(stderr, "fuzz_migrate: a loaded set did not apply: %s "
		    "(%s)\n", err.message, migrate_strerror(rc));
		abort();
	}
	if (rc == MIGRATE_OK) {
		check(reached == latest, "applied, but not at latest");
		check(migrate_db_version(db, &version, &err) == MIGRATE_OK &&
		    version == latest, "applied, but user_version differs");
		check(migrate_verify(db, set, &err) == MIGRATE_OK,
		    "applied, but does not verify");
		/* All the way down when every step has a down file. */
		rc = migrate_apply(db, set, 0, 0, &reached, &err);
		check(rc <= 0 && reached >= -1 && reached <= latest,
		    "down: bad code or version");
		check(rc == MIGRATE_OK || err.message[0] != '\0',
		    "down failed without a message");
	}
	check(migrate_apply(db, set, latest + 1, 0, NULL, &err) ==
	    MIGRATE_ERANGE, "a target past latest was not refused");
	sqlite3_close(db);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migrate_problems	 probs;
	struct migrate_set	*set = NULL;
	size_t			 i;
	int			 rc;

	write_set(data, size);
	rc = migrate_set_load(setdir, &set, &probs);
	if (rc != MIGRATE_OK) {
		check(rc < 0, "failed load returned a positive code");
		check(set == NULL, "failed load returned a set");
		check(probs.count > 0 && probs.items != NULL,
		    "failed load named no problem");
		check(probs.items[0].code == rc,
		    "return code is not the first problem's");
		for (i = 0; i < probs.count; i++)
			check(probs.items[i].message[0] != '\0' &&
			    memchr(probs.items[i].message, '\0',
			    sizeof probs.items[i].message) != NULL,
			    "problem without a message");
		migrate_problems_free(&probs);
		return (0);
	}
	check(set != NULL && probs.count == 0, "loaded, but no set or problems");
	migrate_problems_free(&probs);
	check_set(set);
	apply_set(set);
	migrate_set_free(set);
	return (0);
}
