/*
 * test_migrate.c: unit tests for migrate/ (the migration library).
 *
 * Two halves.  Loader cases are data: every folder under
 * tests/data/migrate/good/<case>/ and tests/data/migrate/bad/<case>/ holds
 * one set folder and an expect file (format in each file's first line),
 * found through $TOP_SRCDIR (default ".").  Apply tests run on database
 * files in a private temp folder, with sets from the data tree or written
 * there at test time, and check what a user would see: versions, records,
 * tables, error fields, and file bytes that must not change.
 *
 * Single-threaded; everything it creates lives under one mkdtemp folder
 * that is removed at the end.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "migrate.h"
#include "tap.h"

#define SHA256_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char	*top;
static char		 tmp[PATH_MAX];

/* Expected steps of a good case, from its expect file. */
struct expect_step {
	int	version;
	char	file[256];
	char	down[256];	/* "" if none */
	char	sha[65];
};

struct expect_good {
	char			schema[128];
	size_t			nsteps;
	struct expect_step	steps[32];
};

static void	rm_tree(const char *);

static void __attribute__((noreturn))
bail(const char *what, const char *path)
{
	printf("Bail out! %s %s: %s\n", what, path, strerror(errno));
	if (tmp[0] != '\0')
		rm_tree(tmp);
	exit(2);
}

/* snprintf that bails out instead of truncating. */
static void __attribute__((format(printf, 3, 4)))
xsnprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		bail("path too long:", dst);
	}
}

static char *
read_all(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		bail("cannot open", path);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		bail("cannot seek", path);
	if ((buf = malloc((size_t)n + 1)) == NULL)
		bail("out of memory reading", path);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		bail("cannot read", path);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return (buf);
}

static void
write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*f;

	xsnprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		bail("cannot create", path);
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
		bail("cannot write", path);
}

static void
write_text(const char *dir, const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

/* A new folder under the temp folder; returns its path in a static slot. */
static const char *
tmp_dir(const char *name)
{
	static char	paths[16][PATH_MAX];
	static int	next;
	char		*p = paths[next++ % 16];

	xsnprintf(p, PATH_MAX, "%s/%s", tmp, name);
	if (mkdir(p, 0755) != 0)
		bail("cannot mkdir", p);
	return (p);
}

static void
copy_file(const char *from_dir, const char *to_dir, const char *name,
    const char *as)
{
	char	 path[PATH_MAX], *text;
	size_t	 len;

	xsnprintf(path, sizeof path, "%s/%s", from_dir, name);
	text = read_all(path, &len);
	write_file(to_dir, as != NULL ? as : name, text, len);
	free(text);
}

/* rm -rf path (what the tests created; no symlinks in there). */
static void
rm_tree(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 sub[PATH_MAX];

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			xsnprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	if (remove(path) != 0)
		printf("# cannot remove %s: %s\n", path, strerror(errno));
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Sorted names of the sub-folders of dir (hidden ones left out). */
static size_t
list_dirs(const char *dir, char names[][256], size_t max)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX], *ptrs[64], sorted[64][256];
	size_t		 n = 0, i;

	if ((d = opendir(dir)) == NULL)
		bail("cannot open", dir);
	while ((de = readdir(d)) != NULL && n < max && n < 64) {
		if (de->d_name[0] == '.')
			continue;
		xsnprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(sorted[n], sizeof sorted[n], "%s", de->d_name);
		ptrs[n] = sorted[n];
		n++;
	}
	closedir(d);
	qsort(ptrs, n, sizeof *ptrs, name_cmp);
	for (i = 0; i < n; i++)
		snprintf(names[i], 256, "%s", ptrs[i]);
	return (n);
}

/* The single set folder inside a case folder. */
static int
case_set_dir(const char *casedir, char *out, size_t size)
{
	char	names[4][256];

	if (list_dirs(casedir, names, 4) != 1)
		return (-1);
	xsnprintf(out, size, "%s/%s", casedir, names[0]);
	return (0);
}

static void
parse_good(const char *casedir, struct expect_good *eg)
{
	char			 path[PATH_MAX], *text, *line, *save = NULL;
	struct expect_step	*s;

	memset(eg, 0, sizeof *eg);
	xsnprintf(path, sizeof path, "%s/expect", casedir);
	text = read_all(path, NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "schema %127s", eg->schema) == 1)
			continue;
		if (eg->nsteps == 32)
			break;
		s = &eg->steps[eg->nsteps];
		if (sscanf(line, "step %d %255s %255s %64s", &s->version,
		    s->file, s->down, s->sha) != 4) {
			printf("# %s: bad expect line: %s\n", path, line);
			continue;
		}
		if (strcmp(s->down, "-") == 0)
			s->down[0] = '\0';
		eg->nsteps++;
	}
	free(text);
}

static sqlite3 *
db_open(const char *name)
{
	char	 path[PATH_MAX];
	sqlite3	*db;

	if (strcmp(name, ":memory:") == 0)
		xsnprintf(path, sizeof path, "%s", name);
	else
		xsnprintf(path, sizeof path, "%s/%s", tmp, name);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		printf("# %s\n", sqlite3_errmsg(db));
		bail("cannot open database", path);
	}
	return (db);
}

static char *
db_bytes(const char *name, size_t *lenp)
{
	char	path[PATH_MAX];

	xsnprintf(path, sizeof path, "%s/%s", tmp, name);
	return (read_all(path, lenp));
}

static int
same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	return (alen == blen && memcmp(a, b, alen) == 0);
}

/* One integer from a query, -1 on error. */
static long long
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*stmt;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		printf("# %s: %s\n", sql, sqlite3_errmsg(db));
		return (-1);
	}
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return (v);
}

static int
db_exec(sqlite3 *db, const char *sql)
{
	int	rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		printf("# %s: %s\n", sql, sqlite3_errmsg(db));
	return (rc);
}

static int
has_table(sqlite3 *db, const char *name)
{
	char	sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = '%s'", name);
	return (db_int(db, sql) == 1);
}

static size_t
nrecords(sqlite3 *db)
{
	struct migrate_record	*recs;
	size_t			 n;

	if (migrate_db_records(db, &recs, &n, NULL) != MIGRATE_OK)
		return ((size_t)-1);
	free(recs);
	return (n);
}

static struct migrate_set *
load_ok(const char *dir)
{
	struct migrate_set	*set = NULL;
	struct migrate_problems	 probs;
	size_t			 i;
	int			 rc;

	rc = migrate_set_load(dir, &set, &probs);
	if (rc != MIGRATE_OK) {
		for (i = 0; i < probs.count; i++)
			printf("# %s: %s\n", migrate_strerror(
			    probs.items[i].code), probs.items[i].message);
		errno = 0;
		bail("set does not load:", dir);
	}
	migrate_problems_free(&probs);
	return (set);
}

/* --- loader cases from tests/data/migrate -------------------------------- */

static void
test_good_case(const char *casedir, const char *name)
{
	struct migrate_set		*set = NULL;
	struct migrate_problems		 probs;
	const struct migrate_step	*s;
	struct expect_good		 eg;
	struct expect_step		*es;
	struct migrate_error		 err;
	char				 setdir[PATH_MAX], stem[256];
	sqlite3				*db;
	size_t				 i;
	int				 rc, reached, alldown = 1;

	if (case_set_dir(casedir, setdir, sizeof setdir) != 0) {
		ok(0, "good/%s: has exactly one set folder", name);
		return;
	}
	parse_good(casedir, &eg);
	ok(eg.nsteps > 0, "good/%s: expect lists steps", name);
	rc = migrate_set_load(setdir, &set, &probs);
	is_int(rc, MIGRATE_OK, "good/%s: loads", name);
	is_int(probs.count, 0, "good/%s: no problems", name);
	for (i = 0; i < probs.count; i++)
		printf("#   %s\n", probs.items[i].message);
	migrate_problems_free(&probs);
	if (set == NULL)
		return;
	is_str(migrate_set_name(set), eg.schema, "good/%s: schema name",
	    name);
	is_int(migrate_set_latest(set), eg.nsteps, "good/%s: latest", name);
	for (i = 0; i < eg.nsteps; i++) {
		es = &eg.steps[i];
		s = migrate_set_step(set, es->version);
		ok(s != NULL && s->version == es->version,
		    "good/%s: step %d exists", name, es->version);
		if (s == NULL)
			continue;
		snprintf(stem, sizeof stem, "%.*s", (int)strlen(es->file) - 4,
		    es->file);
		is_str(s->file, es->file, "good/%s: step %d file", name,
		    es->version);
		is_str(s->name, stem, "good/%s: step %d name", name,
		    es->version);
		is_str(s->checksum, es->sha, "good/%s: step %d checksum is"
		    " sha256sum's", name, es->version);
		ok(s->up_sql != NULL, "good/%s: step %d has its SQL", name,
		    es->version);
		if (es->down[0] != '\0') {
			is_str(s->down_file, es->down, "good/%s: step %d down"
			    " file", name, es->version);
			ok(s->down_sql != NULL, "good/%s: step %d down SQL",
			    name, es->version);
		} else {
			ok(s->down_file == NULL && s->down_sql == NULL,
			    "good/%s: step %d has no down file", name,
			    es->version);
			alldown = 0;
		}
	}
	ok(migrate_set_step(set, 0) == NULL &&
	    migrate_set_step(set, (int)eg.nsteps + 1) == NULL,
	    "good/%s: no step 0 or latest+1", name);

	/* What the loader validated must apply on a fresh database. */
	db = db_open(":memory:");
	rc = migrate_apply(db, set, (int)eg.nsteps, 0, &reached, &err);
	is_int(rc, MIGRATE_OK, "good/%s: applies to latest%s%s", name,
	    rc != MIGRATE_OK ? ": " : "", rc != MIGRATE_OK ? err.message : "");
	is_int(reached, eg.nsteps, "good/%s: reached latest", name);
	if (alldown) {
		rc = migrate_apply(db, set, 0, 0, &reached, &err);
		is_int(rc, MIGRATE_OK, "good/%s: goes down to 0", name);
		is_int(reached, 0, "good/%s: reached 0", name);
	}
	sqlite3_close(db);
	migrate_set_free(set);
}

/* Does problem p match one expect line? */
static int
bad_match(const struct migrate_error *p, char *line)
{
	char	*code, *file, *lno, *text, *save = NULL;

	code = strtok_r(line, " \t", &save);
	file = strtok_r(NULL, " \t", &save);
	lno = strtok_r(NULL, " \t", &save);
	text = strtok_r(NULL, "", &save);
	if (code == NULL || strcmp(code, migrate_strerror(p->code)) != 0)
		return (0);
	if (file != NULL &&
	    strcmp(strcmp(file, "-") == 0 ? "" : file, p->file) != 0)
		return (0);
	if (lno != NULL && strcmp(lno, "-") != 0 && atoi(lno) != p->line)
		return (0);
	if (text != NULL && strstr(p->message, text) == NULL)
		return (0);
	return (1);
}

static void
test_bad_case(const char *casedir, const char *name)
{
	struct migrate_set	*set = (struct migrate_set *)&set;
	struct migrate_problems	 probs;
	char			 setdir[PATH_MAX], path[PATH_MAX], *text, *line;
	char			*save = NULL, copy[1024];
	char			 used[64];
	size_t			 nexpect = 0, i, nfound = 0;
	int			 rc, rc2, found;
	const struct migrate_error *p;

	if (case_set_dir(casedir, setdir, sizeof setdir) != 0) {
		ok(0, "bad/%s: has exactly one set folder", name);
		return;
	}
	rc = migrate_set_load(setdir, &set, &probs);
	ok(set == NULL, "bad/%s: no set", name);
	ok(rc != MIGRATE_OK && probs.count > 0 &&
	    rc == probs.items[0].code, "bad/%s: returns the first problem's"
	    " code (%s)", name, migrate_strerror(rc));
	memset(used, 0, sizeof used);

	xsnprintf(path, sizeof path, "%s/expect", casedir);
	text = read_all(path, NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		nexpect++;
		found = 0;
		for (i = 0; i < probs.count && i < sizeof used; i++) {
			if (used[i])
				continue;
			snprintf(copy, sizeof copy, "%s", line);
			if (bad_match(&probs.items[i], copy)) {
				used[i] = 1;
				found = 1;
				nfound++;
				break;
			}
		}
		ok(found, "bad/%s: reports %s", name, line);
	}
	free(text);
	is_int(probs.count, nexpect, "bad/%s: reports every problem, and"
	    " only those", name);
	if (nfound != probs.count) {
		for (i = 0; i < probs.count; i++) {
			p = &probs.items[i];
			printf("#   %s %s %d: %s\n", migrate_strerror(p->code),
			    p->file[0] != '\0' ? p->file : "-", p->line,
			    p->message);
		}
	}
	found = 1;
	for (i = 0; i < probs.count; i++) {
		p = &probs.items[i];
		if (p->message[0] == '\0' || (p->file[0] != '\0' &&
		    strstr(p->message, p->file) == NULL))
			found = 0;
	}
	ok(found, "bad/%s: every message names its file", name);
	migrate_problems_free(&probs);
	ok(probs.count == 0 && probs.items == NULL, "bad/%s: problems freed",
	    name);

	set = (struct migrate_set *)&set;
	rc2 = migrate_set_load(setdir, &set, NULL);
	ok(rc2 == rc && set == NULL, "bad/%s: same result without a"
	    " problem list", name);
}

static void
test_data_cases(void)
{
	char	dir[PATH_MAX], casedir[PATH_MAX], names[64][256];
	size_t	n, i;

	xsnprintf(dir, sizeof dir, "%s/tests/data/migrate/good", top);
	n = list_dirs(dir, names, 64);
	ok(n >= 3, "found %zu good cases in %s", n, dir);
	for (i = 0; i < n; i++) {
		xsnprintf(casedir, sizeof casedir, "%s/%s", dir, names[i]);
		test_good_case(casedir, names[i]);
	}
	xsnprintf(dir, sizeof dir, "%s/tests/data/migrate/bad", top);
	n = list_dirs(dir, names, 64);
	ok(n >= 12, "found %zu bad cases in %s", n, dir);
	for (i = 0; i < n; i++) {
		xsnprintf(casedir, sizeof casedir, "%s/%s", dir, names[i]);
		test_bad_case(casedir, names[i]);
	}
}

/* --- loader cases built at test time ------------------------------------- */

static void
test_load_runtime(void)
{
	struct migrate_set		*set;
	struct migrate_problems		 probs;
	const struct migrate_step	*s;
	const char			*d;
	char				 path[PATH_MAX];
	int				 rc;

	/* The SHA-256 of an empty file is the well-known vector. */
	d = tmp_dir("empty-file");
	write_text(d, "0001_nothing.sql", "");
	set = load_ok(d);
	s = migrate_set_step(set, 1);
	is_str(s != NULL ? s->checksum : NULL, SHA256_EMPTY,
	    "checksum of an empty file is sha256(\"\")");
	migrate_set_free(set);

	/* A NUL byte: not text, reported on its line. */
	d = tmp_dir("nul-byte");
	write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
	write_file(d, "0002_b.sql", "CREATE TABLE b (x);\n\nSELECT 1;\0x\n",
	    sizeof "CREATE TABLE b (x);\n\nSELECT 1;\0x\n" - 1);
	set = (struct migrate_set *)&set;
	rc = migrate_set_load(d, &set, &probs);
	is_int(rc, MIGRATE_ESQL, "NUL byte: MIGRATE_ESQL");
	ok(set == NULL, "NUL byte: no set");
	ok(probs.count == 1 && probs.items[0].line == 3 &&
	    strcmp(probs.items[0].file, "0002_b.sql") == 0,
	    "NUL byte: file and line 3");
	migrate_problems_free(&probs);

	/* A truly empty folder (git cannot hold one in tests/data). */
	d = tmp_dir("really-empty");
	set = (struct migrate_set *)&set;
	rc = migrate_set_load(d, &set, &probs);
	ok(rc == MIGRATE_EEMPTY && set == NULL && probs.count == 1 &&
	    probs.items[0].code == MIGRATE_EEMPTY,
	    "empty folder: MIGRATE_EEMPTY, one problem");
	migrate_problems_free(&probs);

	/* A trailing slash does not change the schema name. */
	d = tmp_dir("slashed");
	write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
	xsnprintf(path, sizeof path, "%s//", d);
	set = load_ok(path);
	is_str(migrate_set_name(set), "slashed", "schema name ignores a"
	    " trailing slash");
	migrate_set_free(set);

	/* A folder that does not exist. */
	xsnprintf(path, sizeof path, "%s/no-such-set", tmp);
	set = (struct migrate_set *)&set;
	rc = migrate_set_load(path, &set, &probs);
	is_int(rc, MIGRATE_EIO, "missing folder: MIGRATE_EIO");
	ok(set == NULL && probs.count == 1 &&
	    strstr(probs.items[0].message, "no-such-set") != NULL,
	    "missing folder: one problem naming the folder");
	migrate_problems_free(&probs);

	/* Too long a schema name. */
	d = tmp_dir("a-schema-name-that-is-far-too-long-to-be-accepted-because-"
	    "it-has-more-than-64-chars");
	write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
	rc = migrate_set_load(d, &set, NULL);
	is_int(rc, MIGRATE_ENAME, "schema name over 64 chars: MIGRATE_ENAME");

	/* An unreadable file (root reads anything, so only as a user). */
	if (geteuid() != 0) {
		d = tmp_dir("unreadable");
		write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
		xsnprintf(path, sizeof path, "%s/0001_a.sql", d);
		if (chmod(path, 0) != 0)
			bail("cannot chmod", path);
		rc = migrate_set_load(d, &set, &probs);
		is_int(rc, MIGRATE_EIO, "unreadable file: MIGRATE_EIO");
		ok(probs.count == 1 &&
		    strcmp(probs.items[0].file, "0001_a.sql") == 0 &&
		    strstr(probs.items[0].message, "Permission denied") !=
		    NULL, "unreadable file: named, with the reason");
		migrate_problems_free(&probs);
		chmod(path, 0644);
	} else
		printf("# running as root: unreadable-file test skipped\n");

	/* Bad arguments. */
	rc = migrate_set_load(NULL, &set, &probs);
	is_int(rc, MIGRATE_EINVAL, "NULL folder: MIGRATE_EINVAL");
	ok(probs.count == 1 && set == NULL, "NULL folder: one problem");
	migrate_problems_free(&probs);
	is_int(migrate_set_load(tmp, NULL, NULL), MIGRATE_EINVAL,
	    "NULL set pointer: MIGRATE_EINVAL");
	ok(migrate_set_name(NULL) == NULL && migrate_set_latest(NULL) == 0 &&
	    migrate_set_step(NULL, 1) == NULL, "accessors accept NULL");
	migrate_set_free(NULL);
	migrate_problems_free(NULL);
}

/* --- applying ------------------------------------------------------------ */

static void
test_apply_basic(const char *notes, const struct expect_good *eg)
{
	struct migrate_set	*set;
	struct migrate_record	*recs = NULL;
	struct migrate_error	 err;
	sqlite3			*db;
	char			*before, *after, applied[3][32];
	size_t			 n, blen, alen, i;
	int			 rc, v, reached, good;

	set = load_ok(notes);
	db = db_open("a.db");
	db_exec(db, "PRAGMA foreign_keys = ON");

	rc = migrate_db_version(db, &v, &err);
	ok(rc == MIGRATE_OK && v == 0, "fresh file is at version 0");
	rc = migrate_db_records(db, &recs, &n, &err);
	ok(rc == MIGRATE_OK && n == 0 && recs == NULL,
	    "fresh file has no records");
	is_int(migrate_verify(db, set, &err), MIGRATE_OK,
	    "fresh file verifies");

	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	is_int(rc, MIGRATE_OK, "apply to latest");
	is_int(reached, 3, "apply to latest: reached 3");
	is_int(err.code, MIGRATE_OK, "apply to latest: err says OK");
	is_int(db_int(db, "PRAGMA user_version"), 3, "user_version is 3");
	rc = migrate_db_version(db, &v, &err);
	ok(rc == MIGRATE_OK && v == 3, "migrate_db_version says 3");
	ok(has_table(db, "notes") && has_table(db, "tags") &&
	    has_table(db, "note_words"), "tables of steps 1 to 3 exist");
	ok(has_table(db, MIGRATE_TABLE), "record table exists");

	rc = migrate_db_records(db, &recs, &n, &err);
	is_int(rc, MIGRATE_OK, "records read");
	is_int(n, 3, "three records");
	for (i = 0; i < n && i < 3; i++) {
		is_int(recs[i].version, i + 1, "record %zu version", i + 1);
		ok(strncmp(recs[i].name, eg->steps[i].file,
		    strlen(recs[i].name)) == 0 && strcmp(eg->steps[i].file +
		    strlen(recs[i].name), ".sql") == 0,
		    "record %zu name %s", i + 1, recs[i].name);
		is_str(recs[i].checksum, eg->steps[i].sha,
		    "record %zu checksum is sha256sum of the file", i + 1);
		good = strlen(recs[i].applied_at) == 24 &&
		    recs[i].applied_at[4] == '-' &&
		    recs[i].applied_at[10] == 'T' &&
		    recs[i].applied_at[19] == '.' &&
		    recs[i].applied_at[23] == 'Z';
		ok(good, "record %zu applied_at is RFC 3339 UTC: %s", i + 1,
		    recs[i].applied_at);
		ok(recs[i].duration_ms >= 0 && recs[i].duration_ms < 60000,
		    "record %zu duration_ms %.3f", i + 1, recs[i].duration_ms);
		snprintf(applied[i], sizeof applied[i], "%s",
		    recs[i].applied_at);
	}
	free(recs);

	/* The trigger from 0003 is one statement and works. */
	db_exec(db, "INSERT INTO notes (title) VALUES ('Hello')");
	is_int(db_int(db, "SELECT count(*) FROM note_words WHERE"
	    " word = 'hello'"), 1, "trigger from 0003 indexes a new note");
	db_exec(db, "INSERT INTO tags VALUES (1, 'greeting')");

	/* Again: nothing to do, nothing written. */
	before = db_bytes("a.db", &blen);
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "re-apply is a no-op");
	after = db_bytes("a.db", &alen);
	ok(same_bytes(before, blen, after, alen),
	    "re-apply leaves the file bytes identical");
	free(after);
	rc = migrate_db_records(db, &recs, &n, &err);
	ok(rc == MIGRATE_OK && n == 3 &&
	    strcmp(recs[0].applied_at, applied[0]) == 0 &&
	    strcmp(recs[2].applied_at, applied[2]) == 0,
	    "re-apply keeps the records as they were");
	free(recs);

	/* Out of range targets change nothing. */
	rc = migrate_apply(db, set, 4, 0, &reached, &err);
	is_int(rc, MIGRATE_ERANGE, "target latest+1: MIGRATE_ERANGE");
	ok(reached == 3 && strstr(err.message, "4") != NULL &&
	    err.code == MIGRATE_ERANGE, "target latest+1: reached 3, message"
	    " names the target");
	rc = migrate_apply(db, set, -1, 0, &reached, &err);
	is_int(rc, MIGRATE_ERANGE, "target -1: MIGRATE_ERANGE");
	after = db_bytes("a.db", &alen);
	ok(same_bytes(before, blen, after, alen),
	    "out of range targets leave the file bytes identical");
	free(after);

	/* Bad arguments and an open transaction. */
	is_int(migrate_apply(db, set, 3, 0x100, &reached, &err),
	    MIGRATE_EINVAL, "unknown flag: MIGRATE_EINVAL");
	is_int(migrate_apply(NULL, set, 3, 0, &reached, &err),
	    MIGRATE_EINVAL, "NULL db: MIGRATE_EINVAL");
	is_int(reached, -1, "NULL db: reached -1");
	db_exec(db, "BEGIN");
	is_int(migrate_apply(db, set, 1, 0, NULL, &err), MIGRATE_EINVAL,
	    "open transaction: MIGRATE_EINVAL");
	db_exec(db, "ROLLBACK");
	is_int(db_int(db, "PRAGMA user_version"), 3,
	    "refused calls left version 3");

	/* Dry run down to 0: every down step runs, nothing changes. */
	rc = migrate_apply(db, set, 0, MIGRATE_DRY_RUN, &reached, &err);
	is_int(rc, MIGRATE_OK, "dry run down to 0");
	is_int(reached, 0, "dry run reports the would-be version 0");
	after = db_bytes("a.db", &alen);
	ok(same_bytes(before, blen, after, alen),
	    "dry run leaves the file bytes identical");
	free(after);
	ok(db_int(db, "PRAGMA user_version") == 3 && nrecords(db) == 3 &&
	    has_table(db, "tags") && sqlite3_get_autocommit(db),
	    "dry run: still version 3 with tables, no transaction left");
	free(before);

	/* Down to 1 and back up; data of step 1 survives. */
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 1, "down to 1");
	is_int(db_int(db, "PRAGMA user_version"), 1, "down: user_version 1");
	is_int(nrecords(db), 1, "down: one record left");
	ok(!has_table(db, "tags") && !has_table(db, "note_words") &&
	    has_table(db, "notes"), "down: tables of 2 and 3 are gone");
	is_int(db_int(db, "SELECT count(*) FROM notes"), 1,
	    "down: the note is still there");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "back up to 3");
	ok(db_int(db, "PRAGMA user_version") == 3 && nrecords(db) == 3,
	    "back up: version 3, three records");
	is_int(db_int(db, "SELECT count(*) FROM note_words WHERE"
	    " word = 'hello'"), 1, "back up: 0003 indexed the existing note");
	is_int(migrate_verify(db, set, &err), MIGRATE_OK, "verify after"
	    " down and up");

	/* All the way down: the record table stays, empty. */
	rc = migrate_apply(db, set, 0, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 0, "down to 0");
	rc = migrate_db_version(db, &v, &err);
	ok(rc == MIGRATE_OK && v == 0 && nrecords(db) == 0 &&
	    !has_table(db, "notes"), "at 0: no records, no tables");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "up again from 0");

	sqlite3_close(db);
	migrate_set_free(set);
}

/* A step that fails on real data: the file stays at the last good one. */
static void
test_apply_failure(void)
{
	struct migrate_set	*set;
	struct migrate_error	 err;
	sqlite3			*db;
	const char		*d;
	char			*before, *after;
	size_t			 blen, alen;
	int			 rc, reached, v;

	d = tmp_dir("fail");
	write_text(d, "0001_t.sql", "CREATE TABLE t (x INTEGER);\n");
	write_text(d, "0002_u.sql", "CREATE TABLE u (y INTEGER);\n"
	    "INSERT INTO u VALUES (1);\n");
	write_text(d, "0003_uniq.sql", "-- x must be unique from now on\n"
	    "CREATE TABLE v (z INTEGER);\n"
	    "\n"
	    "CREATE UNIQUE INDEX t_x\n"
	    "    ON t (x);\n"
	    "CREATE TABLE w (z INTEGER);\n");
	set = load_ok(d);	/* fine on an empty database */

	db = db_open("fail.db");
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 1, "fail set: apply to 1");
	db_exec(db, "INSERT INTO t VALUES (7), (7)");

	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	is_int(rc, MIGRATE_ESQL, "failing step: MIGRATE_ESQL");
	is_int(err.code, MIGRATE_ESQL, "failing step: err.code");
	is_int(reached, 2, "failing step: reached the last good version");
	is_str(err.file, "0003_uniq.sql", "failing step: err.file");
	is_int(err.version, 3, "failing step: err.version");
	is_int(err.line, 4, "failing step: err.line is where the statement"
	    " starts");
	is_str(err.stmt, "CREATE UNIQUE INDEX t_x ON t (x);",
	    "failing step: err.stmt");
	is_str(err.message, "0003_uniq.sql line 4: UNIQUE constraint failed:"
	    " t.x", "failing step: err.message");
	is_int(db_int(db, "PRAGMA user_version"), 2,
	    "failing step: user_version 2");
	rc = migrate_db_version(db, &v, NULL);
	ok(rc == MIGRATE_OK && v == 2 && nrecords(db) == 2,
	    "failing step: two records, consistent");
	ok(has_table(db, "u") && !has_table(db, "v") && !has_table(db, "w"),
	    "failing step: step 2 kept, all of step 3 rolled back");
	ok(sqlite3_get_autocommit(db), "failing step: no transaction left"
	    " open");
	sqlite3_close(db);

	/* Dry run from 1 over the same failure. */
	db = db_open("dry.db");
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	ok(rc == MIGRATE_OK, "dry set: apply to 1");
	db_exec(db, "INSERT INTO t VALUES (7), (7)");
	before = db_bytes("dry.db", &blen);
	rc = migrate_apply(db, set, 3, MIGRATE_DRY_RUN, &reached, &err);
	is_int(rc, MIGRATE_ESQL, "dry run over a failing step: MIGRATE_ESQL");
	is_int(reached, 2, "dry run: would have stopped at 2");
	ok(strcmp(err.file, "0003_uniq.sql") == 0 && err.line == 4,
	    "dry run: names the file and line");
	after = db_bytes("dry.db", &alen);
	ok(same_bytes(before, blen, after, alen),
	    "failed dry run leaves the file bytes identical");
	free(after);
	is_int(db_int(db, "PRAGMA user_version"), 1, "dry run: still at 1");

	db_exec(db, "DELETE FROM t");
	free(before);
	before = db_bytes("dry.db", &blen);
	rc = migrate_apply(db, set, 3, MIGRATE_DRY_RUN, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "dry run without bad data"
	    " would reach 3");
	after = db_bytes("dry.db", &alen);
	ok(same_bytes(before, blen, after, alen),
	    "successful dry run leaves the file bytes identical");
	free(after);
	free(before);
	ok(db_int(db, "PRAGMA user_version") == 1 && nrecords(db) == 1 &&
	    !has_table(db, "u"), "dry run: still at 1, nothing created");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "then the real run reaches 3");
	sqlite3_close(db);
	migrate_set_free(set);
}

/* Deferred foreign keys fail at COMMIT, and a dry run must see that. */
static void
test_apply_foreign_keys(void)
{
	struct migrate_set	*set;
	struct migrate_error	 err;
	sqlite3			*db;
	const char		*d;
	char			*before, *after;
	size_t			 blen, alen;
	int			 rc, reached;

	d = tmp_dir("fk");
	write_text(d, "0001_pc.sql", "CREATE TABLE parent (id INTEGER PRIMARY"
	    " KEY);\nCREATE TABLE child (pid INTEGER REFERENCES parent (id)"
	    " DEFERRABLE INITIALLY DEFERRED);\n");
	write_text(d, "0002_orphan.sql", "INSERT INTO child VALUES (99);\n");
	set = load_ok(d);

	db = db_open("fk.db");
	db_exec(db, "PRAGMA foreign_keys = ON");
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 1, "fk: apply to 1");
	before = db_bytes("fk.db", &blen);
	rc = migrate_apply(db, set, 2, MIGRATE_DRY_RUN, &reached, &err);
	is_int(rc, MIGRATE_ESQL, "fk: dry run sees the COMMIT would fail");
	ok(reached == 1 && strcmp(err.file, "0002_orphan.sql") == 0 &&
	    strstr(err.message, "FOREIGN KEY") != NULL,
	    "fk: dry run names the file and the constraint");
	rc = migrate_apply(db, set, 2, 0, &reached, &err);
	is_int(rc, MIGRATE_ESQL, "fk: COMMIT fails");
	ok(reached == 1 && strcmp(err.file, "0002_orphan.sql") == 0 &&
	    strstr(err.message, "FOREIGN KEY constraint failed") != NULL,
	    "fk: error names the file and the constraint");
	after = db_bytes("fk.db", &alen);
	ok(same_bytes(before, blen, after, alen) &&
	    db_int(db, "PRAGMA user_version") == 1 && nrecords(db) == 1,
	    "fk: still at 1, file bytes identical");
	free(after);
	free(before);
	ok(sqlite3_get_autocommit(db), "fk: no transaction left open");
	db_exec(db, "PRAGMA foreign_keys = OFF");
	rc = migrate_apply(db, set, 2, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 2, "fk: without enforcement the"
	    " same step applies");
	sqlite3_close(db);
	migrate_set_free(set);
}

/* Copy the notes set into a new temp folder named as the schema. */
static const char *
copy_notes(const char *notes, const char *where)
{
	static const char *const files[] = {
		"0001_notes.sql", "0001_notes.down.sql", "0002_tags.sql",
		"0002_tags.down.sql", "0003_search.sql", "0003_search.down.sql",
	};
	const char	*d;
	char		 name[PATH_MAX];
	size_t		 i;

	tmp_dir(where);
	xsnprintf(name, sizeof name, "%s/notes", where);
	d = tmp_dir(name);
	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		copy_file(notes, d, files[i], NULL);
	return (d);
}

static void
test_verify(const char *notes, const struct expect_good *eg)
{
	struct migrate_set		*set, *edited, *renamed, *older;
	const struct migrate_step	*s;
	struct migrate_error		 err;
	sqlite3				*db;
	const char			*d;
	char				*before, *after, want[512], path[PATH_MAX];
	size_t				 blen, alen;
	int				 rc, reached;

	set = load_ok(notes);
	d = copy_notes(notes, "edited");
	write_text(d, "0002_tags.sql", "-- edited after release\n"
	    "CREATE TABLE tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL);\n");
	edited = load_ok(d);
	s = migrate_set_step(edited, 2);
	ok(s != NULL && strcmp(s->checksum, eg->steps[1].sha) != 0,
	    "edited file has a new checksum");

	/* Editing a file not applied yet is fine. */
	db = db_open("v1.db");
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 1, "verify: db at 1");
	is_int(migrate_verify(db, edited, &err), MIGRATE_OK,
	    "an edit above the database's version is not an error");
	rc = migrate_apply(db, edited, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "and the edited set applies");
	sqlite3_close(db);

	db = db_open("v3.db");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "verify: db at 3");
	rc = migrate_verify(db, edited, &err);
	is_int(rc, MIGRATE_ECHECKSUM, "edited applied file: MIGRATE_ECHECKSUM");
	is_str(err.file, "0002_tags.sql", "edited: err.file");
	is_int(err.version, 2, "edited: err.version");
	snprintf(want, sizeof want, "0002_tags.sql was edited after it was"
	    " applied (checksum in database %s, file now %s)",
	    eg->steps[1].sha, s != NULL ? s->checksum : "?");
	is_str(err.message, want, "edited: message gives both checksums");
	before = db_bytes("v3.db", &blen);
	rc = migrate_apply(db, edited, 1, 0, &reached, &err);
	ok(rc == MIGRATE_ECHECKSUM && reached == 3 &&
	    strcmp(err.file, "0002_tags.sql") == 0,
	    "apply with an edited set is refused before anything runs");
	after = db_bytes("v3.db", &alen);
	ok(same_bytes(before, blen, after, alen), "refused apply leaves the"
	    " file bytes identical");
	free(after);

	/* A renamed file, same content. */
	d = copy_notes(notes, "renamed");
	xsnprintf(path, sizeof path, "%s/0002_tags.sql", d);
	unlink(path);
	xsnprintf(path, sizeof path, "%s/0002_tags.down.sql", d);
	unlink(path);
	copy_file(notes, d, "0002_tags.sql", "0002_labels.sql");
	renamed = load_ok(d);
	rc = migrate_verify(db, renamed, &err);
	is_int(rc, MIGRATE_ECHECKSUM, "renamed applied file:"
	    " MIGRATE_ECHECKSUM");
	ok(strcmp(err.file, "0002_labels.sql") == 0 &&
	    strstr(err.message, "0002_tags") != NULL,
	    "renamed: names the new file and the applied name");

	/* A set that ends below the database's version. */
	d = copy_notes(notes, "older");
	xsnprintf(path, sizeof path, "%s/0003_search.sql", d);
	unlink(path);
	xsnprintf(path, sizeof path, "%s/0003_search.down.sql", d);
	unlink(path);
	older = load_ok(d);
	is_int(migrate_verify(db, older, &err), MIGRATE_EDB,
	    "database newer than the set: MIGRATE_EDB");
	rc = migrate_apply(db, older, 2, 0, &reached, &err);
	ok(rc == MIGRATE_EDB && reached == 3, "apply refuses a database newer"
	    " than the set");
	after = db_bytes("v3.db", &alen);
	ok(same_bytes(before, blen, after, alen), "still unchanged");
	free(after);
	free(before);
	is_int(migrate_verify(db, set, &err), MIGRATE_OK,
	    "the original set still verifies");
	is_int(migrate_verify(NULL, set, &err), MIGRATE_EINVAL,
	    "verify NULL db: MIGRATE_EINVAL");

	sqlite3_close(db);
	migrate_set_free(older);
	migrate_set_free(renamed);
	migrate_set_free(edited);
	migrate_set_free(set);
}

/*
 * The first migration's PRAGMA page_size is the set's page size, for
 * whoever makes a file for it; a set without one has 0.
 */
static void
test_page_size(void)
{
	struct migrate_set	*set;
	struct migrate_error	 err;
	sqlite3			*db;
	const char		*d;
	char			 ps[48];
	int			 rc, reached;

	d = tmp_dir("pagesize");
	write_text(d, "0001_a.sql", "-- small tenants\n"
	    "PRAGMA page_size = 1024;\nCREATE TABLE a (x);\n");
	write_text(d, "0002_b.sql", "CREATE TABLE b (x);\n");
	set = load_ok(d);
	is_int(migrate_set_page_size(set), 1024,
	    "page size: 0001's PRAGMA page_size is the set's");

	/* As a maker of files does: the size first, then the steps. */
	db = db_open("pagesize.db");
	snprintf(ps, sizeof ps, "PRAGMA page_size=%d",
	    migrate_set_page_size(set));
	db_exec(db, ps);
	rc = migrate_apply(db, set, 2, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 2, "page size: applied to 2");
	is_int(db_int(db, "PRAGMA page_size"), 1024,
	    "page size: the file made has 1024-byte pages");
	sqlite3_close(db);
	migrate_set_free(set);

	d = tmp_dir("pagesize0");
	write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
	set = load_ok(d);
	is_int(migrate_set_page_size(set), 0,
	    "page size: none set, 0 (SQLite's default)");
	is_int(migrate_set_page_size(NULL), 0, "page size: no set, 0");
	migrate_set_free(set);
}

static void
test_nodown(void)
{
	struct migrate_set	*set;
	struct migrate_error	 err;
	sqlite3			*db;
	const char		*d;
	char			*before, *after;
	size_t			 blen, alen;
	int			 rc, reached;

	d = tmp_dir("nodown");
	write_text(d, "0001_a.sql", "CREATE TABLE a (x);\n");
	write_text(d, "0001_a.down.sql", "DROP TABLE a;\n");
	write_text(d, "0002_b.sql", "CREATE TABLE b (x);\n");
	write_text(d, "0003_c.sql", "CREATE TABLE c (x);\n");
	write_text(d, "0003_c.down.sql", "DROP TABLE c;\n");
	set = load_ok(d);

	db = db_open("nodown.db");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 3, "nodown: at 3");
	before = db_bytes("nodown.db", &blen);
	rc = migrate_apply(db, set, 1, 0, &reached, &err);
	is_int(rc, MIGRATE_ENODOWN, "down past a step without .down.sql:"
	    " MIGRATE_ENODOWN");
	ok(reached == 3 && strcmp(err.file, "0002_b.sql") == 0 &&
	    err.version == 2 && strstr(err.message, "0002_b.down.sql") != NULL,
	    "nodown: names the missing down file");
	after = db_bytes("nodown.db", &alen);
	ok(same_bytes(before, blen, after, alen) && has_table(db, "c") &&
	    db_int(db, "PRAGMA user_version") == 3,
	    "nodown: refused before step 3 went down");
	free(after);
	free(before);
	rc = migrate_apply(db, set, 1, MIGRATE_DRY_RUN, &reached, &err);
	is_int(rc, MIGRATE_ENODOWN, "nodown: a dry run is refused too");
	rc = migrate_apply(db, set, 2, 0, &reached, &err);
	ok(rc == MIGRATE_OK && reached == 2 && !has_table(db, "c"),
	    "nodown: going down only as far as the down files allows works");
	sqlite3_close(db);
	migrate_set_free(set);
}

static void
test_db_state(const char *notes)
{
	struct migrate_set	*set;
	struct migrate_error	 err;
	sqlite3			*db;
	int			 rc, v, reached;

	set = load_ok(notes);

	/* A file with a user_version but no records: not ours. */
	db = db_open("foreign.db");
	db_exec(db, "CREATE TABLE x (y); PRAGMA user_version = 5");
	rc = migrate_db_version(db, &v, &err);
	is_int(rc, MIGRATE_EDB, "user_version without records: MIGRATE_EDB");
	ok(v == -1 && strstr(err.message, MIGRATE_TABLE) != NULL,
	    "foreign file: version -1, message names the table");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_EDB && reached == -1 && !has_table(db, "notes"),
	    "foreign file: apply refuses, nothing created");
	sqlite3_close(db);

	/* user_version and records disagree. */
	db = db_open("skew.db");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	ok(rc == MIGRATE_OK, "skew: at 3");
	db_exec(db, "PRAGMA user_version = 2");
	rc = migrate_db_version(db, &v, &err);
	is_int(rc, MIGRATE_EDB, "user_version 2, records to 3: MIGRATE_EDB");
	rc = migrate_apply(db, set, 3, 0, &reached, &err);
	is_int(rc, MIGRATE_EDB, "skew: apply refuses");
	is_int(migrate_verify(db, set, &err), MIGRATE_EDB,
	    "skew: verify refuses");
	db_exec(db, "PRAGMA user_version = 3");
	db_exec(db, "DELETE FROM " MIGRATE_TABLE " WHERE version = 2");
	rc = migrate_db_version(db, &v, &err);
	is_int(rc, MIGRATE_EDB, "records missing version 2: MIGRATE_EDB");
	sqlite3_close(db);

	/* Not a database at all. */
	write_text(tmp, "garbage.db", "this is not an SQLite database, just"
	    " some text that is long enough to fill a header page........\n");
	db = db_open("garbage.db");
	rc = migrate_db_version(db, &v, &err);
	is_int(rc, MIGRATE_EDB, "not a database: MIGRATE_EDB");
	sqlite3_close(db);
	is_int(migrate_db_version(NULL, &v, &err), MIGRATE_EINVAL,
	    "migrate_db_version NULL db: MIGRATE_EINVAL");

	migrate_set_free(set);
}

static void
test_strerror(void)
{
	static const struct {
		int		 code;
		const char	*name;
	} names[] = {
		{ MIGRATE_OK, "MIGRATE_OK" },
		{ MIGRATE_EIO, "MIGRATE_EIO" },
		{ MIGRATE_ENAME, "MIGRATE_ENAME" },
		{ MIGRATE_EGAP, "MIGRATE_EGAP" },
		{ MIGRATE_EDUP, "MIGRATE_EDUP" },
		{ MIGRATE_ETXN, "MIGRATE_ETXN" },
		{ MIGRATE_ESQL, "MIGRATE_ESQL" },
		{ MIGRATE_ECHECKSUM, "MIGRATE_ECHECKSUM" },
		{ MIGRATE_ENODOWN, "MIGRATE_ENODOWN" },
		{ MIGRATE_ERANGE, "MIGRATE_ERANGE" },
		{ MIGRATE_EDB, "MIGRATE_EDB" },
		{ MIGRATE_EEMPTY, "MIGRATE_EEMPTY" },
		{ MIGRATE_ENOMEM, "MIGRATE_ENOMEM" },
		{ MIGRATE_EINVAL, "MIGRATE_EINVAL" },
	};
	size_t	i;
	int	good = 1;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(migrate_strerror(names[i].code), names[i].name) != 0)
			good = 0;
	}
	ok(good, "migrate_strerror names every code");
	is_str(migrate_strerror(-99), "MIGRATE_EUNKNOWN",
	    "migrate_strerror of an unknown code");
}

int
main(void)
{
	struct expect_good	 eg;
	const char		*base;
	char			 notes[PATH_MAX], casedir[PATH_MAX];

	if ((top = getenv("TOP_SRCDIR")) == NULL || *top == '\0')
		top = ".";
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	snprintf(tmp, sizeof tmp, "%s/test_migrate.XXXXXX", base);
	if (mkdtemp(tmp) == NULL) {
		tmp[0] = '\0';	/* nothing to clean up */
		bail("cannot create a temp folder in", base);
	}

	test_strerror();
	test_data_cases();
	test_load_runtime();

	xsnprintf(casedir, sizeof casedir, "%s/tests/data/migrate/good/"
	    "three-steps", top);
	xsnprintf(notes, sizeof notes, "%s/notes", casedir);
	parse_good(casedir, &eg);
	if (eg.nsteps != 3) {
		errno = 0;
		bail("expect should list 3 steps:", casedir);
	}
	test_apply_basic(notes, &eg);
	test_apply_failure();
	test_apply_foreign_keys();
	test_verify(notes, &eg);
	test_nodown();
	test_page_size();
	test_db_state(notes);

	rm_tree(tmp);
	return (tap_done());
}
