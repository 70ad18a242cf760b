/*
 * test_dump.c: unit tests for tenantd/dump.c (the SQL text dump).
 *
 * Each case builds a database in a private mkdtemp folder, dumps it with
 * dump_sql() to a file, loads the file with the real shell
 * ("sqlite3 -bail new.db < dump.sql") and compares what a user would see:
 * every table's rows value by value (type, integer, the bits of each real,
 * the bytes of each text and blob, rowids), sqlite_schema, user_version,
 * integrity_check, FTS5 integrity-check and MATCH results.  Where the
 * output is meant to equal the shell's own .dump, it is compared byte for
 * byte.  Error paths: an aborting write callback, an open transaction,
 * NULL arguments, a file that is not a database.
 *
 * Needs the sqlite3 shell on PATH.  Single-threaded; everything lives
 * under one temp folder that is removed at the end.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dump.h"
#include "tap.h"

#define NRANDOM_REALS	3000
#define BIG		(1024 * 1024)

static char	tmp[PATH_MAX];

/* The notes schema (schemas/notes/0001..0003), as migrations leave it. */
static const char *notes_schema =
    "CREATE TABLE _tenantd_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL, "
    "duration_ms REAL NOT NULL);\n"
    "CREATE TABLE notes (\n"
    "	id         INTEGER PRIMARY KEY,\n"
    "	title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),\n"
    "	body       TEXT NOT NULL DEFAULT '',\n"
    "	created_at TEXT NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "	updated_at TEXT NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))\n"
    ");\n"
    "CREATE INDEX notes_updated ON notes (updated_at);\n"
    "CREATE TABLE tags (\n"
    "	id   INTEGER PRIMARY KEY,\n"
    "	name TEXT NOT NULL UNIQUE COLLATE NOCASE\n"
    ");\n"
    "CREATE TABLE note_tags (\n"
    "	note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,\n"
    "	tag_id  INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,\n"
    "	PRIMARY KEY (note_id, tag_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX note_tags_tag ON note_tags (tag_id);\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5 (\n"
    "	title, body, content = 'notes', content_rowid = 'id'\n"
    ");\n"
    "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN\n"
    "	INSERT INTO notes_fts (rowid, title, body)\n"
    "	VALUES (new.id, new.title, new.body);\n"
    "END;\n"
    "CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN\n"
    "	INSERT INTO notes_fts (notes_fts, rowid, title, body)\n"
    "	VALUES ('delete', old.id, old.title, old.body);\n"
    "END;\n"
    "CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN\n"
    "	INSERT INTO notes_fts (notes_fts, rowid, title, body)\n"
    "	VALUES ('delete', old.id, old.title, old.body);\n"
    "	INSERT INTO notes_fts (rowid, title, body)\n"
    "	VALUES (new.id, new.title, new.body);\n"
    "END;\n"
    "INSERT INTO _tenantd_migrations VALUES "
    "(1, '0001_notes', 'aa', '2024-01-01T00:00:00Z', 12.0), "
    "(2, '0002_tags', 'bb', '2024-01-01T00:00:01Z', 3.0), "
    "(3, '0003_search', 'cc', '2024-01-01T00:00:02Z', 0.0);\n"
    "PRAGMA user_version = 3;\n"
    "INSERT INTO notes (id, title, body, created_at, updated_at) VALUES\n"
    " (1, 'hello world', 'first line\nsecond line', 'c1', 'u1'),\n"
    " (2, 'it''s a \"quote\"', 'carriage\r\nreturn', 'c2', 'u2'),\n"
    " (3, 'gone soon', 'deleted below', 'c3', 'u3'),\n"
    " (5, 'héllo wörld ✓', 'unicode 日本語 text', 'c5', 'u5'),\n"
    " (7, 'search me', 'the quick brown fox', 'c7', 'u7');\n"
    "DELETE FROM notes WHERE id = 3;\n"
    "UPDATE notes SET body = 'the lazy dog' WHERE id = 7;\n"
    "INSERT INTO tags (name) VALUES ('work'), ('home'), ('Misc');\n"
    "INSERT INTO note_tags VALUES (7, 1), (1, 2), (1, 1), (5, 3);\n"
    "CREATE VIRTUAL TABLE docs USING fts5 (title, body);\n"
    "INSERT INTO docs (rowid, title, body) VALUES (1, 'alpha beta', 'gamma'),"
    " (4, 'delta', 'alpha\nomega'), (9, 'x', 'y');\n"
    "DELETE FROM docs WHERE rowid = 9;\n"
    "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n);\n"
    "INSERT INTO counters (n) VALUES (1), (2), (3);\n"
    "DELETE FROM counters WHERE id = 3;\n"
    "ANALYZE;\n";

static const char *fts_queries[] = {
	"SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'hello' "
	    "ORDER BY rowid",
	"SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'lazy OR line' "
	    "ORDER BY rowid",
	"SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'brown OR dog' "
	    "ORDER BY rowid",
	"SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'title:world' "
	    "ORDER BY rowid",
	"SELECT rowid FROM notes_fts WHERE notes_fts MATCH '日本語' "
	    "ORDER BY rowid",
	"SELECT rowid, bm25(notes_fts) FROM notes_fts WHERE notes_fts "
	    "MATCH 'second OR return' ORDER BY rowid",
	"SELECT rowid FROM docs WHERE docs MATCH 'alpha' ORDER BY rowid",
	"SELECT rowid FROM docs WHERE docs MATCH 'x OR omega' ORDER BY rowid",
};

static void	rm_tree(const char *);

static void __attribute__((noreturn, format(printf, 1, 2)))
bail(const char *fmt, ...)
{
	va_list	ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (tmp[0] != '\0')
		rm_tree(tmp);
	exit(2);
}

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
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	if (remove(path) != 0)
		printf("# cannot remove %s: %s\n", path, strerror(errno));
}

/* A path inside the temp folder; each call returns a new string. */
static char *
tpath(const char *name)
{
	char	*p;

	if ((p = sqlite3_mprintf("%s/%s", tmp, name)) == NULL)
		bail("out of memory");
	return (p);
}

static sqlite3 *
db_open(const char *path, int flags)
{
	sqlite3	*db = NULL;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK)
		bail("open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
	return (db);
}

static sqlite3 *
db_create(const char *path)
{
	return (db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		bail("exec: %s: %.200s", err ? err : "?", sql);
}

static void
db_close(sqlite3 *db)
{
	if (sqlite3_close(db) != SQLITE_OK)
		bail("close: %s", sqlite3_errmsg(db));
}

/* First column of the first row as an integer (-1 if no row). */
static long long
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*stmt;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s: %s", sqlite3_errmsg(db), sql);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return (v);
}

/* First column of the first row as text, in buf. */
static const char *
db_text(sqlite3 *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt	*stmt;
	const char	*t;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s: %s", sqlite3_errmsg(db), sql);
	buf[0] = '\0';
	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    (t = (const char *)sqlite3_column_text(stmt, 0)) != NULL)
		snprintf(buf, size, "%s", t);
	sqlite3_finalize(stmt);
	return (buf);
}

/* Where the dump goes, and what the callback saw. */
struct sink {
	FILE	*f;
	size_t	 calls;
	size_t	 maxchunk;
	size_t	 total;
	size_t	 fail_at;	/* return non-zero on this call (1-based) */
	sqlite3	*writer;	/* if set: writes through it on call 1 */
	int	 writer_rc;
};

static int
sink_write(void *arg, const char *p, size_t n)
{
	struct sink	*s = arg;

	s->calls++;
	s->total += n;
	if (n > s->maxchunk)
		s->maxchunk = n;
	if (s->writer != NULL && s->calls == 1)
		s->writer_rc = sqlite3_exec(s->writer,
		    "INSERT INTO b (v) VALUES ('late 1'), ('late 2');"
		    "INSERT INTO a (v) VALUES ('late');", NULL, NULL, NULL);
	if (s->fail_at != 0 && s->calls >= s->fail_at)
		return (1);
	if (s->f != NULL && fwrite(p, 1, n, s->f) != n)
		return (1);
	return (0);
}

/* dump_sql() of the database at path into file out. */
static int
dump_file(const char *path, const char *out, struct sink *s, char *err,
    size_t errlen)
{
	sqlite3		*db;
	struct sink	 local;
	int		 rc;

	if (s == NULL) {
		memset(&local, 0, sizeof local);
		s = &local;
	}
	db = db_open(path, SQLITE_OPEN_READONLY);
	if ((s->f = fopen(out, "w")) == NULL)
		bail("fopen %s: %s", out, strerror(errno));
	rc = dump_sql(db, sink_write, s, err, errlen);
	if (fclose(s->f) != 0)
		bail("fclose %s: %s", out, strerror(errno));
	s->f = NULL;
	if (!sqlite3_get_autocommit(db))
		bail("dump_sql left a transaction open");
	db_close(db);
	return (rc);
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		bail("fopen %s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		bail("seek %s", path);
	if ((buf = malloc(n + 1)) == NULL)
		bail("out of memory");
	if (fread(buf, 1, n, f) != (size_t)n)
		bail("read %s", path);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

/* Run the shell with args (already quoted) and input file, output to out. */
static int
shell(const char *args, const char *in, const char *out)
{
	char	*cmd;
	int	 rc;

	cmd = sqlite3_mprintf("sqlite3 %s%s%s%s%s%s%s", args,
	    in ? " < '" : "", in ? in : "", in ? "'" : "",
	    out ? " > '" : "", out ? out : "", out ? "'" : "");
	if (cmd == NULL)
		bail("out of memory");
	fflush(stdout);
	rc = system(cmd);
	sqlite3_free(cmd);
	return (rc);
}

/* Load dump file in into a new database file out with the shell. */
static int
load(const char *in, const char *out)
{
	char	*args;
	int	 rc;

	unlink(out);
	if ((args = sqlite3_mprintf("-bail '%s'", out)) == NULL)
		bail("out of memory");
	rc = shell(args, in, NULL);
	sqlite3_free(args);
	return (rc);
}

/*
 * Run sql on both databases and compare the results value by value.
 * Returns 0 if they are the same; *nrows gets the number of rows.
 */
static int
same_rows(sqlite3 *a, sqlite3 *b, const char *sql, int *nrows)
{
	sqlite3_stmt	*sa, *sb;
	int		 ra, rb, i, n, t, bad = 0;
	double		 da, db;

	*nrows = 0;
	if (sqlite3_prepare_v2(a, sql, -1, &sa, NULL) != SQLITE_OK)
		bail("prepare: %s: %s", sqlite3_errmsg(a), sql);
	if (sqlite3_prepare_v2(b, sql, -1, &sb, NULL) != SQLITE_OK) {
		printf("# prepare on copy: %s: %s\n", sqlite3_errmsg(b), sql);
		sqlite3_finalize(sa);
		return (-1);
	}
	n = sqlite3_column_count(sa);
	if (sqlite3_column_count(sb) != n)
		bad = 1;
	while (!bad) {
		ra = sqlite3_step(sa);
		rb = sqlite3_step(sb);
		if (ra != rb) {
			printf("# row %d: step %d vs %d\n", *nrows, ra, rb);
			bad = 1;
		}
		if (bad || ra != SQLITE_ROW)
			break;
		for (i = 0; i < n && !bad; i++) {
			t = sqlite3_column_type(sa, i);
			if (sqlite3_column_type(sb, i) != t) {
				printf("# row %d col %d: type %d vs %d\n",
				    *nrows, i, t, sqlite3_column_type(sb, i));
				bad = 1;
				break;
			}
			switch (t) {
			case SQLITE_INTEGER:
				bad = sqlite3_column_int64(sa, i) !=
				    sqlite3_column_int64(sb, i);
				break;
			case SQLITE_FLOAT:
				da = sqlite3_column_double(sa, i);
				db = sqlite3_column_double(sb, i);
				bad = memcmp(&da, &db, sizeof da) != 0;
				if (bad)
					printf("# %.17g vs %.17g\n", da, db);
				break;
			case SQLITE_TEXT:
			case SQLITE_BLOB:
				if (t == SQLITE_TEXT) {
					sqlite3_column_text(sa, i);
					sqlite3_column_text(sb, i);
				}
				bad = sqlite3_column_bytes(sa, i) !=
				    sqlite3_column_bytes(sb, i) ||
				    (sqlite3_column_bytes(sa, i) > 0 &&
				    memcmp(sqlite3_column_blob(sa, i),
				    sqlite3_column_blob(sb, i),
				    sqlite3_column_bytes(sa, i)) != 0);
				break;
			}
			if (bad)
				printf("# row %d col %d differs\n", *nrows, i);
		}
		if (!bad)
			(*nrows)++;
	}
	if (bad)
		printf("# in: %s\n", sql);
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
	return (bad ? -1 : 0);
}

/* A name that reaches the rowid of table t in db, or NULL. */
static const char *
rowid_name(sqlite3 *db, const char *t)
{
	static const char	*names[] = { "rowid", "_rowid_", "oid" };
	sqlite3_stmt		*stmt;
	char			*sql;
	int			 i;

	for (i = 0; i < 3; i++) {
		sql = sqlite3_mprintf("SELECT count(*) FROM "
		    "pragma_table_xinfo(%Q) WHERE name = '%s' COLLATE NOCASE",
		    t, names[i]);
		if (sql == NULL)
			bail("out of memory");
		if (db_int(db, sql) == 0) {
			sqlite3_free(sql);
			break;
		}
		sqlite3_free(sql);
	}
	if (i == 3)
		return (NULL);
	sql = sqlite3_mprintf("SELECT %s FROM \"%w\"", names[i], t);
	if (sql == NULL)
		bail("out of memory");
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		stmt = NULL;
	sqlite3_finalize(stmt);
	sqlite3_free(sql);
	return (stmt != NULL ? names[i] : NULL);
}

/* Everything a user can see in src must be the same in dst. */
static void
compare_dbs(const char *srcpath, const char *dstpath, const char *label)
{
	sqlite3		*a, *b;
	sqlite3_stmt	*stmt;
	const char	*t, *rn;
	char		*sql, buf[256];
	int		 rc, n, ntables = 0, nbad = 0, nrows = 0;

	a = db_open(srcpath, SQLITE_OPEN_READONLY);
	b = db_open(dstpath, SQLITE_OPEN_READONLY);

	rc = same_rows(a, b, "SELECT type, name, tbl_name, sql FROM "
	    "sqlite_schema ORDER BY name", &n);
	ok(rc == 0, "%s: sqlite_schema entries the same (%d)", label, n);
	is_int(db_int(b, "PRAGMA user_version"),
	    db_int(a, "PRAGMA user_version"), "%s: user_version", label);

	if (sqlite3_prepare_v2(a, "SELECT name FROM sqlite_schema WHERE "
	    "type = 'table' ORDER BY name", -1, &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(a));
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(stmt, 0);
		if (strncmp(t, "sqlite_", 7) == 0)
			sql = sqlite3_mprintf("SELECT * FROM \"%w\" "
			    "ORDER BY 1, 2", t);
		else if ((rn = rowid_name(a, t)) != NULL)
			sql = sqlite3_mprintf("SELECT %s, * FROM \"%w\" "
			    "ORDER BY %s", rn, t, rn);
		else
			sql = sqlite3_mprintf("SELECT * FROM \"%w\"", t);
		if (sql == NULL)
			bail("out of memory");
		ntables++;
		if (same_rows(a, b, sql, &n) != 0) {
			printf("# table %s differs\n", t);
			nbad++;
		}
		nrows += n;
		sqlite3_free(sql);
	}
	sqlite3_finalize(stmt);
	ok(nbad == 0, "%s: rows of all %d tables the same "
	    "(%d rows)", label, ntables, nrows);
	is_str(db_text(b, "PRAGMA integrity_check", buf, sizeof buf), "ok",
	    "%s: integrity_check of the copy", label);
	is_int(db_int(b, "SELECT count(*) FROM pragma_foreign_key_check"),
	    db_int(a, "SELECT count(*) FROM pragma_foreign_key_check"),
	    "%s: foreign_key_check of the copy", label);
	db_close(b);
	db_close(a);
}

/* dump, load, compare; returns the dump text (free it). */
static char *
round_trip(const char *name, struct sink *s)
{
	char	*src, *out, *dst, *text, err[256];
	int	 rc;

	src = tpath(name);
	out = sqlite3_mprintf("%s.sql", src);
	dst = sqlite3_mprintf("%s.copy", src);
	if (out == NULL || dst == NULL)
		bail("out of memory");
	err[0] = '\0';
	rc = dump_file(src, out, s, err, sizeof err);
	is_int(rc, SQLITE_OK, "%s: dump_sql returns SQLITE_OK", name);
	if (rc != SQLITE_OK)
		printf("# %s\n", err);
	is_int(load(out, dst), 0, "%s: sqlite3 -bail loads the dump", name);
	compare_dbs(src, dst, name);
	text = slurp(out);
	sqlite3_free(dst);
	sqlite3_free(out);
	sqlite3_free(src);
	return (text);
}

/* Does this process's SQLite read s as want, bit for bit? */
static int
reads_exactly(const char *s, double want)
{
	sqlite3		*db;
	sqlite3_stmt	*stmt;
	double		 got = 0;

	db = db_open(":memory:", SQLITE_OPEN_READWRITE);
	if (sqlite3_prepare_v2(db, "SELECT CAST(?1 AS REAL)", -1, &stmt,
	    NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(stmt, 1, s, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		got = sqlite3_column_double(stmt, 0);
	sqlite3_finalize(stmt);
	db_close(db);
	return (memcmp(&got, &want, sizeof got) == 0);
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

static void
bind_exec(sqlite3_stmt *stmt)
{
	if (sqlite3_step(stmt) != SQLITE_DONE)
		bail("insert: %s", sqlite3_errmsg(sqlite3_db_handle(stmt)));
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Values of every type and shape, in a table with no column affinity. */
static void
build_values(sqlite3 *db)
{
	static const char *texts[] = {
		"", "plain", "it's", "''", "\"double\"",
		"line1\nline2", "\n", "\r", "cr\rlf\r\nend\n",
		"literal \\n and real \n", "\\n, \\012 and \n",
		"\\n \\012 (\\n0) \n", "\\r \\015 \r", "tab\there",
		"\x01\x02\x1b\x7f controls", "héllo wörld ✓ 😀 日本語",
		"-- not a comment", "/* nor this", "'; DROP TABLE vals; --",
	};
	static const double reals[] = {
		0.1, 1e308, -0.0, 0.0, 1.5, -2.25, 1e-300, 5e-324, DBL_MAX,
		-DBL_MIN, DBL_EPSILON, 123456789.125, 9007199254740992.0,
		9007199254740994.0, 1e16, 1.152921504606847e18, 1e19, -1e100,
		3.141592653589793, 2.718281828459045, 1.0 / 3.0,
		7.7284068937696201e-292, -1.1580228005359806e+244,
		5.9219139344951192e-297, -3.4552436896470782e-307,
	};
	sqlite3_stmt	*stmt;
	unsigned char	 all[256];
	double		 inf;
	size_t		 i;

	db_exec(db, "CREATE TABLE vals (id INTEGER PRIMARY KEY, v)");
	if (sqlite3_prepare_v2(db, "INSERT INTO vals (v) VALUES (?1)", -1,
	    &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(db));
	bind_exec(stmt);				/* NULL */
	sqlite3_bind_int64(stmt, 1, INT64_MAX);
	bind_exec(stmt);
	sqlite3_bind_int64(stmt, 1, INT64_MIN);
	bind_exec(stmt);
	sqlite3_bind_int64(stmt, 1, 0);
	bind_exec(stmt);
	sqlite3_bind_int64(stmt, 1, -1);
	bind_exec(stmt);
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		sqlite3_bind_text(stmt, 1, texts[i], -1, SQLITE_STATIC);
		bind_exec(stmt);
	}
	sqlite3_bind_text(stmt, 1, "a\0b\0", 4, SQLITE_STATIC);	/* NULs */
	bind_exec(stmt);
	sqlite3_bind_text(stmt, 1, "bad \x80\xff utf-8", -1, SQLITE_STATIC);
	bind_exec(stmt);
	for (i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		sqlite3_bind_double(stmt, 1, reals[i]);
		bind_exec(stmt);
	}
	inf = DBL_MAX * 2;
	sqlite3_bind_double(stmt, 1, inf);
	bind_exec(stmt);
	sqlite3_bind_double(stmt, 1, -inf);
	bind_exec(stmt);
	sqlite3_bind_zeroblob(stmt, 1, 0);
	bind_exec(stmt);
	for (i = 0; i < sizeof all; i++)
		all[i] = (unsigned char)i;
	sqlite3_bind_blob(stmt, 1, all, sizeof all, SQLITE_STATIC);
	bind_exec(stmt);
	sqlite3_bind_blob(stmt, 1, "\0", 1, SQLITE_STATIC);
	bind_exec(stmt);
	sqlite3_finalize(stmt);
}

/* Random bit patterns: every sign, exponent and mantissa shape. */
static void
build_random_reals(sqlite3 *db)
{
	sqlite3_stmt	*stmt;
	uint64_t	 seed = 88172645463325252ULL, u;
	double		 r;
	int		 i;

	db_exec(db, "CREATE TABLE reals (id INTEGER PRIMARY KEY, r)");
	if (sqlite3_prepare_v2(db, "INSERT INTO reals (r) VALUES (?1)", -1,
	    &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(db));
	for (i = 0; i < NRANDOM_REALS; i++) {
		u = xorshift(&seed);
		if (i % 4 == 0)		/* decimal-looking values */
			r = (double)(u % 100000000) / 1000.0;
		else
			memcpy(&r, &u, sizeof r);
		if (r != r)
			continue;	/* NaN: SQLite stores NULL */
		sqlite3_bind_double(stmt, 1, r);
		bind_exec(stmt);
	}
	sqlite3_finalize(stmt);
}

static void
build_big(sqlite3 *db)
{
	sqlite3_stmt	*stmt;
	char		*text;
	unsigned char	*blob;
	size_t		 i;

	if ((text = malloc(BIG)) == NULL || (blob = malloc(BIG)) == NULL)
		bail("out of memory");
	for (i = 0; i < BIG; i++) {
		text[i] = "abcdefghij'\n \r"[i % 14];
		blob[i] = (unsigned char)(i * 7);
	}
	db_exec(db, "CREATE TABLE big (id INTEGER PRIMARY KEY, t TEXT, b)");
	if (sqlite3_prepare_v2(db, "INSERT INTO big (t, b) VALUES (?1, ?2)",
	    -1, &stmt, NULL) != SQLITE_OK)
		bail("prepare: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(stmt, 1, text, BIG, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, blob, BIG, SQLITE_STATIC);
	bind_exec(stmt);
	memset(text, 'z', BIG);		/* one long run, no special bytes */
	sqlite3_bind_text(stmt, 1, text, BIG, SQLITE_STATIC);
	bind_exec(stmt);
	sqlite3_finalize(stmt);
	free(blob);
	free(text);
}

/* Odd names, rowids that are not aliases, generated columns, views,
 * indexes and a trigger with comments. */
static void
build_shapes(sqlite3 *db)
{
	db_exec(db,
	    "CREATE TABLE child (id INTEGER PRIMARY KEY, "
	    "  pid INTEGER REFERENCES parent (id));\n"
	    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n"
	    "INSERT INTO child VALUES (1, 10), (2, 20);\n"
	    "INSERT INTO parent VALUES (10, 'ten'), (20, 'twenty');\n"
	    "CREATE TABLE \"odd \"\"name\"\" t\" (\"col one\", \"select\", "
	    "  \"q\"\"c\", [from]);\n"
	    "INSERT INTO \"odd \"\"name\"\" t\" VALUES (1, 2, 3, 4), "
	    "  ('a b', 'it''s', NULL, x'00');\n"
	    "CREATE TABLE \"order\" (x);\n"
	    "INSERT INTO \"order\" VALUES (1);\n"
	    "CREATE TABLE gaps (a, b);\n"
	    "INSERT INTO gaps (rowid, a, b) VALUES (3, 'x', 1), (10, 'y', 2), "
	    "  (-5, 'z', 3), (9223372036854775807, 'max', 4);\n"
	    "CREATE TABLE desck (id INTEGER PRIMARY KEY DESC, v);\n"
	    "INSERT INTO desck (rowid, id, v) VALUES (100, 1, 'a'), "
	    "  (7, 2, 'b');\n"
	    "CREATE TABLE rid (rowid TEXT, _rowid_ TEXT, v);\n"
	    "INSERT INTO rid (oid, rowid, _rowid_, v) VALUES "
	    "  (42, 'r', 'u', 1), (17, 's', 'w', 2);\n"
	    "CREATE TABLE intpk (id INT PRIMARY KEY, v);\n"
	    "INSERT INTO intpk (rowid, id, v) VALUES (5, 1, 'a'), (2, 2, 'b');\n"
	    "CREATE TABLE gen (a INTEGER, b INTEGER AS (a * 2), "
	    "  c TEXT GENERATED ALWAYS AS (upper(d)) STORED, d TEXT);\n"
	    "INSERT INTO gen (rowid, a, d) VALUES (4, 1, 'x'), (8, 2, 'y');\n"
	    "CREATE TABLE wr (k TEXT PRIMARY KEY, v, w BLOB) WITHOUT ROWID;\n"
	    "INSERT INTO wr VALUES ('b', 1, x'01'), ('a', 2, NULL), "
	    "  ('c\nd', 3.5, '');\n"
	    "CREATE TABLE wr2 (a INTEGER, b TEXT, c, "
	    "  PRIMARY KEY (b DESC, a)) WITHOUT ROWID;\n"
	    "INSERT INTO wr2 VALUES (1, 'x', 1), (2, 'x', 2), (1, 'y', 3);\n"
	    "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v);\n"
	    "INSERT INTO seq (v) VALUES ('a'), ('b'), ('c');\n"
	    "DELETE FROM seq WHERE id = 3;\n"
	    "CREATE TABLE commented ( -- a comment\n"
	    "  a, /* another */ b\n"
	    ");\n"
	    "INSERT INTO commented VALUES (1, 2);\n"
	    "CREATE INDEX gaps_b ON gaps (b) WHERE b > 1;\n"
	    "CREATE INDEX parent_lower ON parent (lower(name));\n"
	    "CREATE UNIQUE INDEX \"odd idx\" ON \"odd \"\"name\"\" t\" "
	    "  (\"col one\");\n"
	    "CREATE VIEW kids AS SELECT c.id, p.name FROM child c "
	    "  JOIN parent p ON p.id = c.pid;\n"
	    "CREATE VIEW kids2 AS SELECT * FROM kids;\n"
	    "CREATE TRIGGER child_ai AFTER INSERT ON child BEGIN\n"
	    "  -- keep a count\n"
	    "  UPDATE parent SET name = name || '+' WHERE id = new.pid;\n"
	    "END;\n"
	    "ANALYZE;\n");
}

static void
test_everything(void)
{
	sqlite3		*db, *copy;
	char		*path, *copypath, *text, *p, buf[64];
	size_t		 i;
	int		 n, rc;

	path = tpath("all.db");
	db = db_create(path);
	db_exec(db, notes_schema);
	build_values(db);
	build_random_reals(db);
	build_big(db);
	build_shapes(db);
	db_close(db);

	text = round_trip("all.db", NULL);
	ok(strncmp(text, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
	    "PRAGMA user_version=3;\n", 67) == 0,
	    "all.db: starts with foreign_keys, BEGIN, user_version");
	n = (int)strlen(text);
	ok(n > 36 && strcmp(text + n - 36,
	    "PRAGMA writable_schema=OFF;\nCOMMIT;\n") == 0,
	    "all.db: ends with writable_schema=OFF and COMMIT");
	ok(strstr(text, "PRAGMA writable_schema=ON;\nINSERT INTO "
	    "sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table',"
	    "'notes_fts','notes_fts',0,'CREATE VIRTUAL TABLE notes_fts USING "
	    "fts5 (\n\ttitle, body, content = ''notes'', content_rowid = "
	    "''id''\n)');\n") != NULL,
	    "all.db: notes_fts goes in through sqlite_schema");
	ok(strstr(text, "\nCREATE VIRTUAL") == NULL,
	    "all.db: no CREATE VIRTUAL TABLE statement runs on load");
	ok(strstr(text, "CREATE TABLE IF NOT EXISTS 'notes_fts_data'") != NULL &&
	    strstr(text, "CREATE TABLE IF NOT EXISTS 'docs_content'") != NULL,
	    "all.db: FTS5 shadow tables are created if missing");
	ok((p = strstr(text, "DELETE FROM sqlite_sequence;\n")) != NULL &&
	    strstr(p, "INSERT INTO sqlite_sequence VALUES('counters',3);\n") &&
	    strstr(p, "INSERT INTO sqlite_sequence VALUES('seq',3);\n"),
	    "all.db: sqlite_sequence rewritten after the tables");
	ok(strstr(text, "ANALYZE sqlite_schema;\nINSERT INTO sqlite_stat1 "
	    "VALUES(") != NULL, "all.db: sqlite_stat1 after ANALYZE");
	ok(strstr(text, "INSERT INTO gaps(rowid,a,b) VALUES(-5,'z',3);\n"
	    "INSERT INTO gaps(rowid,a,b) VALUES(3,'x',1);\n") != NULL,
	    "all.db: rowids kept, in rowid order");
	ok(strstr(text, "INSERT INTO rid(oid,rowid,_rowid_,v) "
	    "VALUES(17,'s','w',2);\n") != NULL,
	    "all.db: rowid reached through oid when rowid is a column");
	ok(strstr(text, "INSERT INTO \"odd \"\"name\"\" t\"(rowid,\"col one\","
	    "\"select\",\"q\"\"c\",\"from\") VALUES(1,1,2,3,4);\n") != NULL,
	    "all.db: odd names quoted");
	ok(strstr(text, "INSERT INTO wr VALUES('a',2,NULL);\n"
	    "INSERT INTO wr VALUES('b',1,X'01');\n") != NULL,
	    "all.db: WITHOUT ROWID rows in key order");
	ok(strstr(text, "INSERT INTO gen(rowid,a,d) VALUES(4,1,'x');\n") !=
	    NULL, "all.db: generated columns left out");
	ok(strstr(text, ",replace('literal \\n and real \\012','\\012',"
	    "char(10)));") != NULL &&
	    strstr(text, ",replace('\\n \\012 (\\n0) (\\n1)','(\\n1)',"
	    "char(10)));") != NULL &&
	    strstr(text, ",replace(replace('cr\\rlf\\r\\nend\\n','\\r',"
	    "char(13)),'\\n',char(10)));") != NULL,
	    "all.db: line ends written as the shell does");
	ok(strstr(text, ",CAST(X'61006200' AS TEXT));") != NULL,
	    "all.db: text with NUL bytes as CAST(X'..' AS TEXT)");
	ok(strstr(text, ",1e999);") && strstr(text, ",-1e999);") &&
	    strstr(text, ",-0.0);") && strstr(text, ",0.1);") &&
	    strstr(text, ",1.5);") && strstr(text, ",9007199254740992.0);") &&
	    strstr(text, ",9223372036854775807);") &&
	    strstr(text, ",-9223372036854775808);"),
	    "all.db: special numbers written readably");
	/* Under valgrind (no 80-bit long double) SQLite misreads "1e+308",
	 * and the dump must then fall back to the exact form. */
	if (reads_exactly("1e+308", 1e308))
		ok(strstr(text, ",1e+308);") != NULL,
		    "all.db: 1e308 written as 1e+308");
	else
		ok(strstr(text, ",(CAST(5010420900022432 AS REAL)*"
		    "4611686018427387904*") != NULL,
		    "all.db: 1e308 written exactly (this SQLite misreads "
		    "1e+308)");
	ok(strstr(text, "(CAST(") != NULL && strstr(text, " AS REAL)") != NULL,
	    "all.db: some reals needed the exact CAST(m AS REAL)*2^k form");
	ok(strstr(text, "CREATE TRIGGER child_ai AFTER INSERT ON child BEGIN\n"
	    "  -- keep a count\n  UPDATE parent SET name = name || '+' WHERE "
	    "id = new.pid;\nEND\n;\n") != NULL,
	    "all.db: trigger with a -- comment ends on its own line");
	free(text);

	/* FTS5 after the load. */
	copypath = tpath("all.db.copy");
	db = db_open(path, SQLITE_OPEN_READONLY);
	copy = db_open(copypath, SQLITE_OPEN_READWRITE);
	is_int(sqlite3_exec(copy, "INSERT INTO notes_fts (notes_fts) "
	    "VALUES ('integrity-check')", NULL, NULL, NULL), SQLITE_OK,
	    "FTS5 external content: integrity-check passes on the copy");
	is_int(sqlite3_exec(copy, "INSERT INTO docs (docs) "
	    "VALUES ('integrity-check')", NULL, NULL, NULL), SQLITE_OK,
	    "FTS5 plain: integrity-check passes on the copy");
	for (i = 0; i < sizeof fts_queries / sizeof fts_queries[0]; i++) {
		rc = same_rows(db, copy, fts_queries[i], &n);
		ok(rc == 0 && n > 0, "FTS5 query %zu: same %d rows", i, n);
	}
	db_exec(copy, "INSERT INTO notes (id, title, body) VALUES "
	    "(100, 'after load', 'zebra crossing');"
	    "UPDATE notes SET body = 'zebra too' WHERE id = 1;"
	    "DELETE FROM notes WHERE id = 2;"
	    "INSERT INTO docs VALUES ('zebra', 'new');");
	is_str(db_text(copy, "SELECT group_concat(rowid) FROM notes_fts "
	    "WHERE notes_fts MATCH 'zebra'", buf, sizeof buf), "1,100",
	    "copy: triggers keep notes_fts in step after the load");
	is_int(sqlite3_exec(copy, "INSERT INTO notes_fts (notes_fts) "
	    "VALUES ('integrity-check'); INSERT INTO docs (docs) "
	    "VALUES ('integrity-check')", NULL, NULL, NULL), SQLITE_OK,
	    "copy: integrity-check still passes after writes");
	is_int(db_int(copy, "INSERT INTO counters (n) VALUES (9) RETURNING id"),
	    4, "copy: AUTOINCREMENT continues after the deleted maximum");
	db_close(copy);
	db_close(db);
	sqlite3_free(copypath);
	sqlite3_free(path);
}

/* Output that must equal the shell's: a dump_sql() file and a .dump. */
static void
compare_shell(const char *name, const char *dotcmd, const char *uvline)
{
	char	*db, *mine, *theirs, *args, *a, *b, *want;
	int	 rc;

	db = tpath(name);
	mine = sqlite3_mprintf("%s.sql", db);
	theirs = sqlite3_mprintf("%s.shell", db);
	args = sqlite3_mprintf("'%s' '%s'", db, dotcmd);
	if (mine == NULL || theirs == NULL || args == NULL)
		bail("out of memory");
	is_int(shell(args, NULL, theirs), 0, "%s: sqlite3 %s runs", name,
	    dotcmd);
	a = slurp(mine);
	b = slurp(theirs);
	/* Ours adds PRAGMA user_version=N; after BEGIN TRANSACTION. */
	want = b;
	if (uvline != NULL && strncmp(b, "PRAGMA foreign_keys=OFF;\n"
	    "BEGIN TRANSACTION;\n", 44) == 0)
		want = sqlite3_mprintf("%.44s%s%s", b, uvline, b + 44);
	rc = strcmp(a, want);
	ok(rc == 0, "%s: output identical to sqlite3 %s", name, dotcmd);
	if (rc != 0)
		printf("# diff '%s' '%s'\n", theirs, mine);
	if (want != b)
		sqlite3_free(want);
	free(b);
	free(a);
	sqlite3_free(args);
	sqlite3_free(theirs);
	sqlite3_free(mine);
	sqlite3_free(db);
}

static void
test_like_shell(void)
{
	sqlite3	*db;
	char	*path;

	path = tpath("notes.db");
	db = db_create(path);
	db_exec(db, notes_schema);
	db_close(db);
	sqlite3_free(path);
	free(round_trip("notes.db", NULL));
	compare_shell("notes.db", ".dump", "PRAGMA user_version=3;\n");

	path = tpath("gaps.db");
	db = db_create(path);
	db_exec(db, "CREATE TABLE t (a, b);"
	    "INSERT INTO t (rowid, a, b) VALUES (5, 'x', 1), (2, 'y', NULL);"
	    "CREATE TABLE k (id INTEGER PRIMARY KEY, t);"
	    "INSERT INTO k VALUES (3, 'it''s'), (1, 'a\nb');"
	    "CREATE INDEX t_a ON t (a);");
	db_close(db);
	sqlite3_free(path);
	free(round_trip("gaps.db", NULL));
	compare_shell("gaps.db", ".dump --preserve-rowids", NULL);
}

static void
test_empty(void)
{
	sqlite3	*db;
	char	*path, *text;

	path = tpath("empty.db");
	db = db_create(path);
	db_exec(db, "PRAGMA user_version = 0");
	db_close(db);
	sqlite3_free(path);
	text = round_trip("empty.db", NULL);
	is_str(text, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
	    "COMMIT;\n", "empty.db: three lines");
	free(text);
	compare_shell("empty.db", ".dump", NULL);
}

/* The dump is one snapshot, streamed in bounded chunks. */
static void
test_snapshot(void)
{
	sqlite3		*db, *writer, *copy;
	struct sink	 s;
	char		*path, *out, *copypath, err[256];
	int		 i, rc;

	path = tpath("snap.db");
	out = tpath("snap.db.sql");
	copypath = tpath("snap.db.copy");
	db = db_create(path);
	db_exec(db, "PRAGMA journal_mode = WAL;"
	    "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);"
	    "CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);"
	    "BEGIN");
	for (i = 0; i < 5000; i++)
		db_exec(db, "INSERT INTO a (v) VALUES ("
		    "'some text to make the dump long enough')");
	db_exec(db, "COMMIT");
	db_close(db);

	writer = db_open(path, SQLITE_OPEN_READWRITE);
	memset(&s, 0, sizeof s);
	s.writer = writer;
	rc = dump_file(path, out, &s, err, sizeof err);
	is_int(rc, SQLITE_OK, "snapshot: dump_sql returns SQLITE_OK");
	is_int(s.writer_rc, SQLITE_OK, "snapshot: another connection wrote "
	    "during the dump");
	ok(s.calls >= 4 && s.maxchunk <= 64 * 1024,
	    "snapshot: streamed in %zu chunks of at most %zu bytes", s.calls,
	    s.maxchunk);
	is_int(load(out, copypath), 0, "snapshot: the dump loads");
	copy = db_open(copypath, SQLITE_OPEN_READONLY);
	is_int(db_int(copy, "SELECT count(*) FROM a"), 5000,
	    "snapshot: rows added to a during the dump are not in it");
	is_int(db_int(copy, "SELECT count(*) FROM b"), 0,
	    "snapshot: rows added to b during the dump are not in it");
	db_close(copy);
	is_int(db_int(writer, "SELECT count(*) FROM b"), 2,
	    "snapshot: the writes did happen");
	db_close(writer);
	sqlite3_free(copypath);
	sqlite3_free(out);
	sqlite3_free(path);
}

static void
test_errors(void)
{
	sqlite3		*db;
	struct sink	 s;
	FILE		*f;
	char		*path, *bad, err[256], tiny[8];
	int		 rc;

	path = tpath("snap.db");

	/* The callback refuses the first chunk. */
	db = db_open(path, SQLITE_OPEN_READONLY);
	memset(&s, 0, sizeof s);
	s.fail_at = 1;
	rc = dump_sql(db, sink_write, &s, err, sizeof err);
	is_int(rc, SQLITE_ABORT, "abort at once: SQLITE_ABORT");
	is_int(s.calls, 1, "abort at once: callback not called again");
	is_str(err, "dump: write callback failed", "abort at once: message");
	ok(sqlite3_get_autocommit(db), "abort at once: transaction ended");

	/* ... or a later one; errbuf may be NULL or tiny. */
	memset(&s, 0, sizeof s);
	s.fail_at = 3;
	rc = dump_sql(db, sink_write, &s, NULL, 0);
	is_int(rc, SQLITE_ABORT, "abort later: SQLITE_ABORT, no errbuf");
	is_int(s.calls, 3, "abort later: stops at the refused chunk");
	ok(sqlite3_get_autocommit(db), "abort later: transaction ended");
	memset(&s, 0, sizeof s);
	s.fail_at = 2;
	rc = dump_sql(db, sink_write, &s, tiny, sizeof tiny);
	is_int(rc, SQLITE_ABORT, "abort, tiny errbuf: SQLITE_ABORT");
	is_str(tiny, "dump: w", "abort, tiny errbuf: message truncated");

	/* The dump is a transaction of its own. */
	db_exec(db, "BEGIN");
	memset(&s, 0, sizeof s);
	rc = dump_sql(db, sink_write, &s, err, sizeof err);
	is_int(rc, SQLITE_MISUSE, "open transaction: SQLITE_MISUSE");
	ok(!sqlite3_get_autocommit(db) && s.calls == 0,
	    "open transaction: left alone, nothing written");
	db_exec(db, "COMMIT");

	rc = dump_sql(NULL, sink_write, &s, err, sizeof err);
	is_int(rc, SQLITE_MISUSE, "NULL db: SQLITE_MISUSE");
	rc = dump_sql(db, NULL, &s, err, sizeof err);
	is_int(rc, SQLITE_MISUSE, "NULL callback: SQLITE_MISUSE");
	db_close(db);

	/* A file that is not a database. */
	bad = tpath("bad.db");
	if ((f = fopen(bad, "w")) == NULL)
		bail("fopen %s: %s", bad, strerror(errno));
	for (rc = 0; rc < 512; rc++)
		fputs("this is not a database file. ", f);
	fclose(f);
	db = db_open(bad, SQLITE_OPEN_READONLY);
	memset(&s, 0, sizeof s);
	rc = dump_sql(db, sink_write, &s, err, sizeof err);
	is_int(rc, SQLITE_NOTADB, "not a database: SQLITE_NOTADB");
	ok(strncmp(err, "dump: ", 6) == 0 && strstr(err, "not a database"),
	    "not a database: message \"%s\"", err);
	ok(sqlite3_get_autocommit(db), "not a database: no transaction left");
	db_close(db);
	sqlite3_free(bad);
	sqlite3_free(path);
}

int
main(void)
{
	const char	*tmpdir;

	if ((tmpdir = getenv("TMPDIR")) == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	snprintf(tmp, sizeof tmp, "%s/test_dump.XXXXXX", tmpdir);
	if (mkdtemp(tmp) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", tmp, strerror(errno));
		tmp[0] = '\0';
		return (2);
	}
	if (system("sqlite3 -version >/dev/null 2>&1") != 0)
		bail("the sqlite3 shell is needed on PATH");

	test_empty();
	test_like_shell();
	test_everything();
	test_snapshot();
	test_errors();

	rm_tree(tmp);
	sqlite3_shutdown();
	return (tap_done());
}
