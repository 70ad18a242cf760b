/*
 * test_vfs.c: unit tests for tenantd/vfs.c, the tenant VFS.
 *
 * A tenant's database file remembers its size instead of asking the file
 * on every read transaction (vfs.c says why).  If that size were ever
 * wrong, SQLite would count the wrong number of pages: rows would vanish
 * or the file would read as corrupt.  Each case here changes the file's
 * size the ways SQLite does (checkpoints that grow it, VACUUM that
 * shrinks it, a chunk size that rounds it up, a second connection that
 * writes while the first is open) and checks after every step that the size the VFS
 * reports is the size on disk, that the rows are all there and that
 * integrity_check passes, on the open connection and after a reopen.
 *
 * Single-threaded; everything lives under one mkdtemp folder that is
 * removed at the end.
 */
#include "config.h"

#include <sys/stat.h>

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
open_tenant(void)
{
	sqlite3	*db = NULL;
	int	 rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, TENANT_VFS);
	if (rc != SQLITE_OK) {
		printf("# open: %s\n", db ? sqlite3_errmsg(db) : "no memory");
		exit(1);
	}
	/* As exec_open does: WAL, kept on close, never cut below 8 MiB. */
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA journal_size_limit=8388608", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		printf("# pragmas: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	return (db);
}

static void
run(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		printf("# %s: %s\n", sql, msg ? msg : "?");
		exit(1);
	}
}

static long long
one(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static int
integrity_ok(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 good = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		good = strcmp((const char *)sqlite3_column_text(st, 0),
		    "ok") == 0;
	sqlite3_finalize(st);
	return (good);
}

/* The size the VFS reports for the main file, and the size on disk. */
static void
sizes(sqlite3 *db, sqlite3_int64 *vfs_size, long long *disk_size)
{
	sqlite3_file	*f = NULL;
	struct stat	 sb;

	*vfs_size = -1;
	*disk_size = -2;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) ==
	    SQLITE_OK && f != NULL && f->pMethods != NULL &&
	    f->pMethods->xFileSize(f, vfs_size) != SQLITE_OK)
		*vfs_size = -1;
	if (stat(path, &sb) == 0)
		*disk_size = (long long)sb.st_size;
}

/* After a step: the sizes agree, every row is there, the file is sound. */
static void
check(sqlite3 *db, long long rows, const char *step)
{
	sqlite3_int64	 v;
	long long	 d;

	sizes(db, &v, &d);
	is_int(v, d, "%s: the VFS's size is the file's", step);
	is_int(one(db, "SELECT count(*) FROM t"), rows, "%s: %lld rows", step,
	    rows);
	ok(integrity_ok(db), "%s: integrity_check", step);
}

/*
 * WAL frames in one write.  A tenant's WAL file gets each frame's header
 * and page in one write; what lands in the file must be what SQLite
 * meant.  The checks copy the database and its WAL while the connection
 * is still open (as a crash would leave them) and open the copy with
 * SQLite's own VFS, which rebuilds the WAL index from the frames on disk:
 * a frame header missing or stale there and the commits from it on are
 * not in the copy.
 */
static sqlite3 *
open_wal_db(const char *p, int page_size)
{
	sqlite3	*db = NULL;
	char	 sql[128];

	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    TENANT_VFS) != SQLITE_OK) {
		printf("# open %s: %s\n", p, db ? sqlite3_errmsg(db) : "?");
		exit(1);
	}
	snprintf(sql, sizeof sql, "PRAGMA page_size=%d;PRAGMA "
	    "journal_mode=WAL;PRAGMA synchronous=NORMAL;"
	    "PRAGMA wal_autocheckpoint=0", page_size);
	run(db, sql);
	return (db);
}

/* Copy database and WAL as they are now, open the copy with plain SQLite. */
static sqlite3 *
crash_copy(const char *p)
{
	sqlite3	*db = NULL;
	char	 cmd[1200], copy[200];

	snprintf(copy, sizeof copy, "%s.copy", p);
	snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' && cp '%s' '%s' && "
	    "cp '%s-wal' '%s-wal'", copy, copy, p, copy, p, copy);
	if (system(cmd) != 0 || sqlite3_open_v2(copy, &db,
	    SQLITE_OPEN_READWRITE, "unix") != SQLITE_OK) {
		printf("# copy of %s: %s\n", p, db ? sqlite3_errmsg(db) : "?");
		exit(1);
	}
	return (db);
}

static void
frames_one_write(void)
{
	sqlite3		*db, *copy;
	char		 p[160], sql[128];
	uint64_t	 w0;
	int		 i;

	/* 4 KiB pages: 40 commits of one page each, 40 writes (plus the
	 * WAL's own header), not 80. */
	snprintf(p, sizeof p, "%s/frames.db", dir);
	db = open_wal_db(p, 4096);
	run(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
	run(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 100) INSERT INTO t SELECT i, 'v' || i FROM c");
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	w0 = atomic_load(&vfs_wal_writes);
	for (i = 1; i <= 40; i++) {
		snprintf(sql, sizeof sql, "UPDATE t SET v = 'u%d' WHERE k = %d",
		    i, i);
		run(db, sql);
	}
	is_int((long long)(atomic_load(&vfs_wal_writes) - w0), 41,
	    "40 one-page commits: 40 frame writes and the WAL header");
	copy = crash_copy(p);
	is_int(one(copy, "SELECT count(*) FROM t WHERE v = 'u' || k"), 40,
	    "a copy taken while open has all 40 commits (plain SQLite)");
	ok(integrity_ok(copy), "and passes integrity_check");
	sqlite3_close(copy);

	/* A transaction larger than its cache spills frames, then writes
	 * some of them again in place and rewrites the checksums of the
	 * frames after them (SQLite's walRewriteChecksums: headers alone,
	 * the last one the commit's).  All must be in the file when the
	 * commit returns. */
	run(db, "PRAGMA cache_size=10");
	run(db, "BEGIN");
	run(db, "WITH RECURSIVE c(i) AS (SELECT 1001 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 3000) INSERT INTO t SELECT i, "
	    "printf('%0200d', i) FROM c");
	run(db, "UPDATE t SET v = 'again' WHERE k BETWEEN 1001 AND 1040 OR "
	    "k BETWEEN 2950 AND 3000");
	run(db, "COMMIT");
	copy = crash_copy(p);
	is_int(one(copy, "SELECT count(*) FROM t"), 2100,
	    "after a spilled transaction the copy has every row");
	is_int(one(copy, "SELECT count(*) FROM t WHERE v = 'again'"), 91,
	    "and the rows written again");
	ok(integrity_ok(copy), "and passes integrity_check");
	sqlite3_close(copy);
	sqlite3_close(db);

	/* Pages over 8 KiB go as SQLite writes them (header, then page). */
	snprintf(p, sizeof p, "%s/big.db", dir);
	db = open_wal_db(p, 16384);
	run(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
	run(db, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	w0 = atomic_load(&vfs_wal_writes);
	for (i = 0; i < 10; i++)
		run(db, "UPDATE t SET v = v || 'x' WHERE k = 1");
	is_int((long long)(atomic_load(&vfs_wal_writes) - w0), 21,
	    "16 KiB pages: two writes per frame");
	copy = crash_copy(p);
	is_int(one(copy, "SELECT length(v) FROM t WHERE k = 1"), 11,
	    "a copy of the 16 KiB-page WAL has all 10 commits");
	sqlite3_close(copy);
	sqlite3_close(db);
}

static long long
disk_size(void)
{
	struct stat	sb;

	return (stat(path, &sb) == 0 ? (long long)sb.st_size : -1);
}

int
main(void)
{
	sqlite3		*db, *other;
	sqlite3_int64	 v;
	long long	 before, after, d;
	int		 chunk = 65536;
	char		 cmd[160];

	snprintf(dir, sizeof dir, "%s/test_vfs.XXXXXX",
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

	db = open_tenant();
	run(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
	check(db, 0, "created");

	/* Rows go to the WAL; a checkpoint writes them past the file's
	 * old end. */
	run(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 3000) INSERT INTO t SELECT i, "
	    "printf('%0200d', i) FROM c");
	before = disk_size();
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	after = disk_size();
	ok(after > before, "the checkpoint grew the file (%lld -> %lld)",
	    before, after);
	check(db, 3000, "grown by a checkpoint");

	/* The WAL is empty now: reads take the size from the file. */
	is_int(one(db, "SELECT length(v) FROM t WHERE k = 2999"), 200,
	    "the last rows read back");

	/* Shrink: delete most rows, VACUUM, checkpoint (the file is cut). */
	run(db, "DELETE FROM t WHERE k > 100");
	run(db, "VACUUM");
	before = disk_size();
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	after = disk_size();
	ok(after < before, "VACUUM and a checkpoint cut the file (%lld -> "
	    "%lld)", before, after);
	check(db, 100, "cut by VACUUM");

	/* Grow again past the cut: the size follows. */
	run(db, "WITH RECURSIVE c(i) AS (SELECT 101 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 2000) INSERT INTO t SELECT i, "
	    "printf('%0200d', i) FROM c");
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	check(db, 2000, "grown again");

	/* A chunk size: the base rounds the file up to whole chunks, on
	 * writes (a size hint) and on truncation. */
	ok(sqlite3_file_control(db, "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk) ==
	    SQLITE_OK, "chunk size set");
	run(db, "WITH RECURSIVE c(i) AS (SELECT 2001 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 2500) INSERT INTO t SELECT i, "
	    "printf('%0200d', i) FROM c");
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	d = disk_size();
	is_int(d % chunk, 0, "the file is whole chunks (%lld bytes)", d);
	check(db, 2500, "grown in chunks");
	run(db, "DELETE FROM t WHERE k > 50");
	run(db, "VACUUM");
	run(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	d = disk_size();
	is_int(d % chunk, 0, "cut to whole chunks (%lld bytes)", d);
	check(db, 50, "cut in chunks");

	/* The file methods themselves, as SQLite calls them: a write past
	 * the end, a size hint that makes room in whole chunks, a cut. */
	{
		sqlite3_file	*f = NULL;
		sqlite3_int64	 end, hint;
		char		 page[4096];

		memset(page, 0, sizeof page);
		sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
		ok(f != NULL && f->pMethods->xFileSize(f, &end) == SQLITE_OK,
		    "the file's size asked");
		ok(f->pMethods->xWrite(f, page, sizeof page, end + chunk) ==
		    SQLITE_OK, "a write past the end");
		sizes(db, &v, &d);
		is_int(v, end + chunk + (long long)sizeof page, "the size "
		    "grew with the write");
		is_int(v, d, "and is the file's");
		hint = d + 3 * chunk + 1;
		ok(f->pMethods->xFileControl(f, SQLITE_FCNTL_SIZE_HINT, &hint) ==
		    SQLITE_OK, "a size hint");
		sizes(db, &v, &d);
		ok(d >= hint, "the hint made room (%lld bytes)", d);
		is_int(v, d, "the size after the hint is the file's");
		ok(f->pMethods->xTruncate(f, end) == SQLITE_OK, "cut back");
		sizes(db, &v, &d);
		is_int(v, d, "the size after the cut is the file's");
		check(db, 50, "after the direct calls");
	}

	/* A second connection through the same VFS (tenantd opens tenants
	 * beside their handles for backups and checks) grows the file while
	 * the first is open: the first sees the size it left. */
	other = NULL;
	if (sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, TENANT_VFS) !=
	    SQLITE_OK) {
		printf("# second open: %s\n", sqlite3_errmsg(other));
		return (1);
	}
	sizes(db, &v, &d);
	before = d;
	run(other, "WITH RECURSIVE c(i) AS (SELECT 51 UNION ALL SELECT i + 1 "
	    "FROM c WHERE i < 3000) INSERT INTO t SELECT i, "
	    "printf('%0200d', i) FROM c");
	run(other, "PRAGMA wal_checkpoint(TRUNCATE)");
	ok(disk_size() > before, "the second connection grew the file");
	check(db, 3000, "grown by a second connection");
	run(other, "DELETE FROM t WHERE k > 10");
	run(other, "VACUUM");
	run(other, "PRAGMA wal_checkpoint(TRUNCATE)");
	check(db, 10, "cut by a second connection");
	sqlite3_close(other);
	check(db, 10, "the second connection closed");

	frames_one_write();

	/* Reopen: a fresh size from the file, the same rows. */
	sqlite3_close(db);
	db = open_tenant();
	check(db, 10, "reopened");
	sizes(db, &v, &d);
	ok(v > 0, "the reopened file has a size (%lld)", (long long)v);
	sqlite3_close(db);

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return (tap_done());
}
