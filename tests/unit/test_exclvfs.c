/*
 * test_exclvfs.c: unit tests for tenantd/exclvfs.c, the VFS under the
 * tenant VFS that keeps unix-excl's locking without its list of open
 * files.
 *
 * What a user of tenantd would notice if it were wrong: two connections
 * inside tenantd to one tenant (a handle and a backup) not seeing each
 * other's commits, both writing at once, a reader's snapshot changing
 * under it; another process opening a tenant tenantd has open (or not
 * being able to once tenantd closed it); a tenant file deleted under an
 * open handle still taking writes; a descriptor shortage not reported as
 * EMFILE (the cache gives descriptors back on it).  Each is checked here,
 * with several threads writing one file through separate connections, and
 * thousands of files open at once (the file table grows).
 *
 * Everything lives under one mkdtemp folder that is removed at the end.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tenantd.h"
#include "tap.h"

static char	dir[64];
static char	path[128];

static sqlite3 *
open_vfs(const char *p, const char *vfs, int *rc)
{
	sqlite3	*db = NULL;

	*rc = sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
	if (*rc == SQLITE_OK)
		sqlite3_extended_result_codes(db, 1);
	return (db);
}

static int
exec(sqlite3 *db, const char *sql)
{
	return (sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* A connection as tenantd's handles have: WAL, no checkpoint at close, the
 * WAL kept (exec_open). */
static sqlite3 *
open_kept(const char *p, int *rc)
{
	sqlite3	*db = open_vfs(p, TENANT_VFS, rc);
	int	 one = 1;

	if (*rc != SQLITE_OK)
		return (db);
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	if ((*rc = exec(db, "PRAGMA journal_mode=WAL")) == SQLITE_OK)
		*rc = exec(db, "PRAGMA wal_autocheckpoint=0");
	return (db);
}

static long long
count(sqlite3 *db, int *rc)
{
	sqlite3_stmt	*st = NULL;
	long long	 n = -1;

	*rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL);
	if (*rc == SQLITE_OK && (*rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return (n);
}

/* Descriptors of this process open on file p. */
static int
fds_on(const char *p)
{
	DIR		*d;
	struct dirent	*e;
	char		 link[300], target[256];
	ssize_t		 n;
	int		 k = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL) {
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(link, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, p) == 0)
			k++;
	}
	closedir(d);
	return (k);
}

/*
 * Another process reads the file with SQLite's own unix VFS (as the
 * sqlite3 shell would): the count it read, or -2 for "database is
 * locked", or -1 for any other failure.
 */
static long long
other_process_count(const char *p)
{
	pid_t	pid;
	int	status, rc;
	int	fd[2];
	long long n = -1;

	if (pipe(fd) == -1)
		return (-1);
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		sqlite3	*db;

		close(fd[0]);
		db = open_vfs(p, NULL, &rc);
		if (rc == SQLITE_OK)
			n = count(db, &rc);
		if (rc == SQLITE_BUSY || (rc & 0xff) == SQLITE_BUSY)
			n = -2;
		else if (rc != SQLITE_OK)
			n = -1;
		if (write(fd[1], &n, sizeof n) != (ssize_t)sizeof n)
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &n, sizeof n) != (ssize_t)sizeof n)
		n = -1;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return (n);
}

struct writer {
	int	id;
	int	rows;
	int	failed;
};

static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	int		 rc, i;

	db = open_vfs(path, TENANT_VFS, &rc);
	if (rc != SQLITE_OK) {
		w->failed = 1;
		sqlite3_close(db);
		return (NULL);
	}
	sqlite3_busy_timeout(db, 60000);
	if (sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?)", -1, &st,
	    NULL) != SQLITE_OK) {
		w->failed = 1;
		sqlite3_close(db);
		return (NULL);
	}
	for (i = 0; i < w->rows; i++) {
		sqlite3_bind_int(st, 1, w->id * 100000 + i);
		if (sqlite3_step(st) != SQLITE_DONE)
			w->failed++;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (NULL);
}

/*
 * Nowait mode (exclvfs_nowait, the loop opening a tenant itself): a file
 * whose pages are cached opens and reads; anything that would wait for
 * the disk fails and says so (exclvfs_blocked), and leaves no trace: no
 * file made, nothing written; the same open without it works.
 */
static void
test_nowait(void)
{
	sqlite3		*db;
	struct statfs	 fs;
	char		 p[128], q[128];
	int		 rc, fd;

	snprintf(p, sizeof p, "%s/nowait.db", dir);
	db = open_kept(p, &rc);
	exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	sqlite3_close(db);

	exclvfs_nowait(1);
	db = open_kept(p, &rc);
	is_int(count(db, &rc), 1, "nowait: a file just written opens and reads");
	is_int(exclvfs_blocked(), 0, "without anything that would wait");
	rc = exec(db, "INSERT INTO t VALUES (2)");
	ok(rc != SQLITE_OK, "nowait: a write fails (%d)", rc);
	is_int(exclvfs_blocked(), 1, "and says it would have waited");
	sqlite3_close(db);
	exclvfs_nowait(0);
	db = open_kept(p, &rc);
	is_int(count(db, &rc), 1, "the write left nothing behind");
	sqlite3_close(db);

	snprintf(q, sizeof q, "%s/nowait-new.db", dir);
	exclvfs_nowait(1);
	db = open_vfs(q, TENANT_VFS, &rc);
	ok(rc != SQLITE_OK && exclvfs_blocked(),
	    "nowait: a file that does not exist is not made (%d)", rc);
	sqlite3_close(db);
	exclvfs_nowait(0);
	ok(access(q, F_OK) == -1 && errno == ENOENT, "and is not there");

	/* Its pages dropped from memory: the first read would wait. */
	if (statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
		ok(1, "# SKIP %s is on tmpfs: pages cannot be dropped", dir);
		return;
	}
	if ((fd = open(p, O_RDONLY)) != -1) {
		(void)fdatasync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	exclvfs_nowait(1);
	db = open_kept(p, &rc);
	if (rc == SQLITE_OK)
		(void)count(db, &rc);
	ok(rc != SQLITE_OK && exclvfs_blocked(),
	    "nowait: a file whose pages are not in memory fails (%d)", rc);
	sqlite3_close(db);
	exclvfs_nowait(0);
	db = open_kept(p, &rc);
	is_int(count(db, &rc), 1, "and opens and reads without nowait");
	sqlite3_close(db);
}

int
main(void)
{
	sqlite3		*a, *b, *u;
	struct writer	 w[4];
	pthread_t	 th[4];
	struct rlimit	 rl, saved;
	sqlite3		**many;
	char		 p[160], cmd[160];
	long long	 n;
	int		 rc, i, nmany, opened, sys, moved;

	snprintf(dir, sizeof dir, "%s/test_exclvfs.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	snprintf(path, sizeof path, "%s/t.db", dir);
	if (sqlite3_initialize() != SQLITE_OK || vfs_init() != 0) {
		printf("# cannot register the tenant VFS\n");
		return (1);
	}

	/* Two connections, one file: one record, one descriptor. */
	a = open_vfs(path, TENANT_VFS, &rc);
	is_int(rc, SQLITE_OK, "first connection opens (creates) the file");
	ok(exec(a, "PRAGMA journal_mode=WAL") == SQLITE_OK &&
	    exec(a, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)") == SQLITE_OK &&
	    exec(a, "INSERT INTO t (v) VALUES (1), (2), (3)") == SQLITE_OK,
	    "WAL, a table, three rows");
	b = open_vfs(path, TENANT_VFS, &rc);
	is_int(rc, SQLITE_OK, "second connection opens");
	is_int(count(b, &rc), 3, "the second connection reads the first's rows");
	is_int(exclvfs_open_files(), 1, "one record for the two connections");
	is_int(fds_on(path), 1, "and one descriptor on the database file");

	/* Writers exclude each other; a reader keeps its snapshot. */
	ok(exec(a, "BEGIN IMMEDIATE") == SQLITE_OK, "a takes the write lock");
	is_int(exec(b, "BEGIN IMMEDIATE"), SQLITE_BUSY,
	    "b cannot write meanwhile (SQLITE_BUSY)");
	is_int(count(b, &rc), 3, "but b still reads");
	ok(exec(a, "INSERT INTO t (v) VALUES (4)") == SQLITE_OK &&
	    exec(a, "COMMIT") == SQLITE_OK, "a commits a fourth row");
	is_int(count(b, &rc), 4, "b sees the commit");
	ok(exec(b, "BEGIN") == SQLITE_OK && count(b, &rc) == 4,
	    "b opens a read transaction");
	ok(exec(a, "INSERT INTO t (v) VALUES (5)") == SQLITE_OK,
	    "a commits beside b's read transaction");
	is_int(count(b, &rc), 4, "b's snapshot does not move");
	ok(exec(b, "COMMIT") == SQLITE_OK, "b ends it");
	is_int(count(b, &rc), 5, "and then sees the fifth row");
	ok(exec(b, "INSERT INTO t (v) VALUES (6)") == SQLITE_OK,
	    "b writes once a is done");
	is_int(count(a, &rc), 6, "a sees b's row");

	/* A rollback-journal file (a tenant made before it went WAL, an
	 * import being checked) relies on the file locks alone. */
	{
		sqlite3	*c, *d;

		snprintf(p, sizeof p, "%s/journal.db", dir);
		c = open_vfs(p, TENANT_VFS, &rc);
		d = open_vfs(p, TENANT_VFS, &rc);
		ok(exec(c, "PRAGMA journal_mode=DELETE") == SQLITE_OK &&
		    exec(c, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)") ==
		    SQLITE_OK && exec(c, "INSERT INTO t (v) VALUES (1)") ==
		    SQLITE_OK, "a rollback-journal file with a row");
		ok(exec(c, "BEGIN IMMEDIATE") == SQLITE_OK, "c reserves it");
		is_int(exec(d, "BEGIN IMMEDIATE"), SQLITE_BUSY,
		    "d cannot reserve it too");
		is_int(count(d, &rc), 1, "d reads beside the reservation");
		ok(exec(c, "COMMIT") == SQLITE_OK, "c lets go");
		ok(exec(d, "BEGIN") == SQLITE_OK && count(d, &rc) == 1,
		    "d holds a shared lock (a read transaction)");
		ok(exec(c, "INSERT INTO t (v) VALUES (2)") == SQLITE_BUSY,
		    "c cannot commit while d reads (exclusive needs d gone)");
		ok(exec(d, "COMMIT") == SQLITE_OK, "d ends its read");
		ok(exec(c, "INSERT INTO t (v) VALUES (2)") == SQLITE_OK,
		    "now c commits");
		ok(exec(c, "BEGIN EXCLUSIVE") == SQLITE_OK, "c locks it "
		    "exclusively");
		count(d, &rc);
		is_int(rc, SQLITE_BUSY, "d cannot even read then");
		ok(exec(c, "COMMIT") == SQLITE_OK && count(d, &rc) == 2,
		    "once c is done d reads both rows");
		sqlite3_close(c);
		sqlite3_close(d);
	}

	/* Other processes and other VFSes are kept out while open. */
	is_int(other_process_count(path), -2,
	    "another process gets \"database is locked\"");
	u = open_vfs(path, NULL, &rc);
	n = rc == SQLITE_OK ? count(u, &rc) : -1;
	ok((rc & 0xff) == SQLITE_BUSY, "a connection of this process through "
	    "SQLite's unix VFS is locked out too (rc %d), not let in beside "
	    "the lock", rc);
	sqlite3_close(u);
	is_int(count(a, &rc), 6, "and the file's own connections go on");

	/* Threads writing one file through their own connections. */
	for (i = 0; i < 4; i++) {
		w[i].id = i + 1;
		w[i].rows = 300;
		w[i].failed = 0;
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ok(!w[0].failed && !w[1].failed && !w[2].failed && !w[3].failed,
	    "four threads each inserted 300 rows through their own "
	    "connection");
	is_int(count(a, &rc), 6 + 4 * 300, "all 1,206 rows are there");
	{
		sqlite3_stmt	*st = NULL;
		const char	*res = NULL;

		if (sqlite3_prepare_v2(a, "PRAGMA integrity_check", -1, &st,
		    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			res = (const char *)sqlite3_column_text(st, 0);
		is_str(res, "ok", "integrity_check");
		sqlite3_finalize(st);
	}

	/* The last close lets the file go. */
	sqlite3_close(b);
	is_int(other_process_count(path), -2,
	    "still locked while one connection is open");
	sqlite3_close(a);
	is_int(exclvfs_open_files(), 0, "no record once both closed");
	is_int(other_process_count(path), 1206,
	    "another process reads the file once it is closed");

	/* A file deleted or replaced under an open connection is seen as
	 * moved (SQLite then refuses to checkpoint into it on close). */
	a = open_vfs(path, TENANT_VFS, &rc);
	is_int(count(a, &rc), 1206, "reopened");
	moved = -1;
	sqlite3_file_control(a, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
	is_int(moved, 0, "the open file has not moved");
	snprintf(p, sizeof p, "%s.old", path);
	rename(path, p);
	moved = -1;
	sqlite3_file_control(a, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
	is_int(moved, 1, "renamed away: moved");
	b = open_vfs(path, TENANT_VFS, &rc);	/* a new file at its name */
	moved = -1;
	sqlite3_file_control(a, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
	is_int(moved, 1, "another file in its place: moved");
	is_int(exclvfs_open_files(), 2, "the new file has a record of its own");
	sqlite3_close(b);
	sqlite3_close(a);
	unlink(path);
	rename(p, path);

	/* Kept WAL indexes: a file closed with frames in its WAL keeps its
	 * index for the next open, unless a file changed meanwhile. */
	{
		struct exclvfs_kept	k0, k1;
		sqlite3			*c;
		char			 kp[160];

		snprintf(kp, sizeof kp, "%s/kept.db", dir);
		c = open_kept(kp, &rc);
		ok(rc == SQLITE_OK && exec(c, "CREATE TABLE t (k INTEGER "
		    "PRIMARY KEY, v)") == SQLITE_OK, "a WAL file, no "
		    "checkpoint at close (as tenantd's handles)");
		for (i = 0; i < 40; i++)
			exec(c, "INSERT INTO t (v) VALUES (randomblob(100))");
		exclvfs_kept_stats(&k0);
		sqlite3_close(c);
		exclvfs_kept_stats(&k1);
		is_int((long long)(k1.count - k0.count), 1,
		    "closed with 41 commits in its WAL: its index is kept");
		ok(k1.bytes >= k0.bytes + 32768, "one region of 32 KiB (%zu "
		    "bytes kept)", k1.bytes);

		c = open_kept(kp, &rc);
		is_int(count(c, &rc), 40, "reopened: 40 rows");
		exclvfs_kept_stats(&k0);
		is_int((long long)(k0.reused - k1.reused), 1,
		    "through the kept index");
		is_int((long long)k0.count, (long long)k1.count - 1,
		    "which is no longer kept (the file has it)");
		ok(exec(c, "INSERT INTO t (v) VALUES (1)") == SQLITE_OK &&
		    exec(c, "UPDATE t SET v = 2 WHERE k = 3") == SQLITE_OK,
		    "two more commits on top of it");
		sqlite3_close(c);

		/* Another connection, through SQLite's own VFS, appends to
		 * the WAL while the file is closed here. */
		c = open_vfs(kp, NULL, &rc);
		ok(rc == SQLITE_OK && sqlite3_db_config(c,
		    SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) == SQLITE_OK &&
		    exec(c, "INSERT INTO t (v) VALUES (3)") == SQLITE_OK,
		    "the unix VFS appends a commit to the WAL meanwhile");
		sqlite3_close(c);
		exclvfs_kept_stats(&k1);
		c = open_kept(kp, &rc);
		is_int(count(c, &rc), 42, "reopened here: all 42 rows, the "
		    "other connection's too");
		exclvfs_kept_stats(&k0);
		is_int((long long)(k0.stale - k1.stale), 1,
		    "the kept index was dropped as stale");
		is_int((long long)(k0.reused - k1.reused), 0,
		    "not taken over");
		{
			sqlite3_stmt	*st = NULL;
			const char	*res = NULL;

			if (sqlite3_prepare_v2(c, "PRAGMA integrity_check",
			    -1, &st, NULL) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_ROW)
				res = (const char *)sqlite3_column_text(st, 0);
			is_str(res, "ok", "integrity_check");
			sqlite3_finalize(st);
		}
		sqlite3_close(c);

		/* The same through a checkpoint into the database file, the
		 * WAL emptied (as a sqlite3 shell's close does). */
		c = open_vfs(kp, NULL, &rc);
		ok(rc == SQLITE_OK && exec(c, "INSERT INTO t (v) VALUES (4)")
		    == SQLITE_OK && exec(c, "PRAGMA wal_checkpoint(TRUNCATE)")
		    == SQLITE_OK, "the unix VFS commits and checkpoints");
		sqlite3_close(c);
		exclvfs_kept_stats(&k1);
		c = open_kept(kp, &rc);
		is_int(count(c, &rc), 43, "reopened here: 43 rows");
		exclvfs_kept_stats(&k0);
		is_int((long long)(k0.stale - k1.stale), 1, "stale again");
		sqlite3_close(c);

		/* A bounded number is kept: the oldest go first. */
		exclvfs_kept_clear();
		for (i = 0; i < 1100; i++) {
			snprintf(kp, sizeof kp, "%s/kept%d.db", dir, i);
			c = open_kept(kp, &rc);
			if (rc != SQLITE_OK || exec(c, "PRAGMA synchronous=OFF;"
			    "CREATE TABLE t (x); INSERT INTO t VALUES (1)") !=
			    SQLITE_OK)
				break;
			sqlite3_close(c);
		}
		is_int(i, 1100, "1,100 files closed with WAL frames");
		exclvfs_kept_stats(&k0);
		is_int((long long)k0.count, 1024, "1,024 indexes kept");
		ok(k0.bytes <= ((size_t)32 << 20), "in %zu bytes", k0.bytes);
		snprintf(kp, sizeof kp, "%s/kept0.db", dir);
		c = open_kept(kp, &rc);
		is_int(count(c, &rc), 1, "the first file, its index dropped, "
		    "reads from its WAL");
		sqlite3_close(c);
		exclvfs_kept_stats(&k1);
		is_int((long long)(k1.reused - k0.reused), 0,
		    "without a kept index");
		snprintf(kp, sizeof kp, "%s/kept1099.db", dir);
		c = open_kept(kp, &rc);
		is_int(count(c, &rc), 1, "the last one reads too");
		sqlite3_close(c);
		exclvfs_kept_stats(&k0);
		is_int((long long)(k0.reused - k1.reused), 1,
		    "with its kept index");
		exclvfs_kept_clear();
		exclvfs_kept_stats(&k0);
		ok(k0.count == 0 && k0.bytes == 0, "cleared: none kept");
	}

	/* Thousands of files at once: each its own record, all found. */
	getrlimit(RLIMIT_NOFILE, &saved);
	rl = saved;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	nmany = rl.rlim_cur > 3200 ? 3000 : (int)rl.rlim_cur - 200;
	many = calloc((size_t)nmany, sizeof *many);
	opened = 0;
	for (i = 0; i < nmany; i++) {
		snprintf(p, sizeof p, "%s/m%d.db", dir, i);
		many[i] = open_vfs(p, TENANT_VFS, &rc);
		if (rc == SQLITE_OK && exec(many[i], "CREATE TABLE t (x); "
		    "INSERT INTO t VALUES (1)") == SQLITE_OK)
			opened++;
	}
	is_int(opened, nmany, "%d files opened and written at once", nmany);
	is_int(exclvfs_open_files(), nmany, "one record each");
	for (i = 0, n = 0; i < nmany; i++)
		if (count(many[i], &rc) == 1)
			n++;
	is_int(n, nmany, "each connection reads its own file");
	for (i = 0; i < nmany; i++)
		sqlite3_close(many[i]);
	free(many);
	is_int(exclvfs_open_files(), 0, "no record left");

	/* Out of descriptors: the open fails and says EMFILE. */
	a = open_vfs(path, TENANT_VFS, &rc);	/* remade: it was deleted */
	rl.rlim_cur = 0;
	setrlimit(RLIMIT_NOFILE, &rl);
	snprintf(p, sizeof p, "%s/nofd.db", dir);
	b = open_vfs(p, TENANT_VFS, &rc);
	sys = b != NULL ? sqlite3_system_errno(b) : 0;
	setrlimit(RLIMIT_NOFILE, &saved);
	is_int(rc, SQLITE_CANTOPEN, "an open with no descriptor left fails");
	is_int(sys, EMFILE, "and sqlite3_system_errno says EMFILE");
	sqlite3_close(b);
	sqlite3_close(a);

	test_nowait();

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return (tap_done());
}
