/*
 * dump.c: an SQL text dump of one database, as the sqlite3 shell's .dump
 * writes it, so "sqlite3 new.db < dump.sql" recreates the "main" schema.
 *
 * Output, in the shell's order:
 *   PRAGMA foreign_keys=OFF; BEGIN TRANSACTION; PRAGMA user_version=N;
 *   then every table of sqlite_schema in rowid order, sqlite_sequence last:
 *   - a plain table: its stored CREATE statement, then one
 *     INSERT INTO "t" VALUES(...); per row, in rowid order;
 *   - a virtual table: PRAGMA writable_schema=ON (once) and a row inserted
 *     into sqlite_schema, so xCreate does not run on load; its shadow
 *     tables (FTS5 _data, _idx, _content, ...) are ordinary tables and
 *     come through as such, with CREATE TABLE IF NOT EXISTS;
 *   - sqlite_sequence: DELETE FROM sqlite_sequence; then its rows;
 *   - sqlite_stat*: ANALYZE sqlite_schema; then its rows;
 *   - other sqlite_* tables: nothing.
 *   Then indexes, triggers and views (after the rows, so triggers do not
 *   fire on load), PRAGMA writable_schema=OFF; if it was turned on, COMMIT;.
 *
 * Where the output differs from the 3.40 shell's, on purpose:
 * - PRAGMA user_version=N; follows BEGIN TRANSACTION when N != 0.
 * - A table with a rowid that is not an INTEGER PRIMARY KEY keeps its
 *   rowids, as with the shell's .dump --preserve-rowids:
 *   INSERT INTO t(rowid,a,b) VALUES(...);  Rows come ORDER BY rowid.
 * - Reals: the shortest of %.15g/%.16g/%.17g that reads back as the same
 *   double, both with strtod() and with SQLite's own parser (asked through
 *   CAST(?1 AS REAL): SQLite 3.40 misreads some decimal strings, such as
 *   many with exponents beyond +-250).  When none does, the value is
 *   written as exact arithmetic on a 53-bit integer and powers of two:
 *   (CAST(m AS REAL)*2^k...).  -0.0 keeps its sign.
 * - Text holding NUL bytes is CAST(X'...' AS TEXT) (the shell cuts it at
 *   the first NUL).
 *
 * No global state: dump_sql() works on its arguments only, so any thread
 * may call it on a connection no other thread uses meanwhile.  Output is
 * streamed through a 64 KiB buffer.  Library rules: no exit, no logging;
 * errors are SQLite codes plus a message in the caller's buffer.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "dump.h"

#define DUMP_BUFSIZE	(64 * 1024)

#define DUMP_PRINTF(a, b)	__attribute__((format(printf, a, b)))

struct dump {
	sqlite3		*db;
	dump_write_cb	 write;
	void		*arg;
	char		*errbuf;
	size_t		 errlen;
	int		 errset;	/* errbuf holds the first error */
	int		 writable;	/* wrote PRAGMA writable_schema=ON */
	sqlite3_stmt	*realchk;	/* SELECT CAST(?1 AS REAL) */
	char		*buf;		/* DUMP_BUFSIZE bytes */
	size_t		 len;
};

/* How one table's rows are read and written. */
struct dump_table {
	const char	*name;
	int		 internal;	/* sqlite_sequence, sqlite_stat* */
	const char	*rowid;		/* name reaching the rowid, or NULL */
	int		 preserve;	/* rowid is not an alias: write it */
	sqlite3_str	*cols;		/* "a","b" for the SELECT */
	sqlite3_str	*inscols;	/* a,b for INSERT INTO t(rowid,a,b) */
};

static int	dump_seterr(struct dump *, int, const char *, ...)
		    DUMP_PRINTF(3, 4);

static int
dump_seterr(struct dump *d, int rc, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (d->errset || d->errbuf == NULL || d->errlen == 0)
		return (rc);
	d->errset = 1;
	n = snprintf(d->errbuf, d->errlen, "dump: ");
	if (n < 0 || (size_t)n >= d->errlen)
		return (rc);
	va_start(ap, fmt);
	vsnprintf(d->errbuf + n, d->errlen - n, fmt, ap);
	va_end(ap);
	return (rc);
}

/* Report a failed sqlite call on d->db. */
static int
dump_sqlerr(struct dump *d, int rc, const char *what)
{
	return (dump_seterr(d, rc, "%s: %s", what, sqlite3_errmsg(d->db)));
}

static int
dump_flush(struct dump *d)
{
	size_t	n = d->len;

	d->len = 0;
	if (n > 0 && d->write(d->arg, d->buf, n) != 0)
		return (dump_seterr(d, SQLITE_ABORT, "write callback failed"));
	return (SQLITE_OK);
}

static int
dump_put(struct dump *d, const char *p, size_t n)
{
	int	rc;

	if (n > DUMP_BUFSIZE - d->len) {
		if ((rc = dump_flush(d)) != SQLITE_OK)
			return (rc);
		if (n >= DUMP_BUFSIZE) {
			if (d->write(d->arg, p, n) != 0)
				return (dump_seterr(d, SQLITE_ABORT,
				    "write callback failed"));
			return (SQLITE_OK);
		}
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	return (SQLITE_OK);
}

static int
dump_puts(struct dump *d, const char *s)
{
	return (dump_put(d, s, strlen(s)));
}

static int	dump_printf(struct dump *, const char *, ...) DUMP_PRINTF(2, 3);

/* Short formatted pieces only (numbers, names): uses sqlite3_vmprintf. */
static int
dump_printf(struct dump *d, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 rc;

	va_start(ap, fmt);
	s = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (s == NULL)
		return (dump_seterr(d, SQLITE_NOMEM, "out of memory"));
	rc = dump_puts(d, s);
	sqlite3_free(s);
	return (rc);
}

static int
dump_hex(struct dump *d, const unsigned char *p, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;
	int			 rc;

	for (i = 0; i < n; i++) {
		if (DUMP_BUFSIZE - d->len < 2 &&
		    (rc = dump_flush(d)) != SQLITE_OK)
			return (rc);
		d->buf[d->len++] = digits[p[i] >> 4];
		d->buf[d->len++] = digits[p[i] & 0xf];
	}
	return (SQLITE_OK);
}

static int
dump_blob(struct dump *d, const void *p, size_t n)
{
	int	rc;

	if ((rc = dump_puts(d, "X'")) != SQLITE_OK ||
	    (rc = dump_hex(d, p, n)) != SQLITE_OK)
		return (rc);
	return (dump_puts(d, "'"));
}

/* A plain word that is not a keyword needs no quotes (the shell's rule,
 * ASCII only whatever the locale). */
static int
dump_plain(const char *z)
{
	size_t	i;
	int	c;

	for (i = 0; (c = (unsigned char)z[i]) != '\0'; i++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && c >= '0' && c <= '9'))
			continue;
		return (0);
	}
	return (i > 0 && !sqlite3_keyword_check(z, (int)i));
}

static int
dump_ident(struct dump *d, const char *z)
{
	const char	*q;
	int		 rc;

	if (dump_plain(z))
		return (dump_puts(d, z));
	if ((rc = dump_puts(d, "\"")) != SQLITE_OK)
		return (rc);
	while ((q = strchr(z, '"')) != NULL) {
		if ((rc = dump_put(d, z, q - z + 1)) != SQLITE_OK ||
		    (rc = dump_puts(d, "\"")) != SQLITE_OK)
			return (rc);
		z = q + 1;
	}
	if ((rc = dump_puts(d, z)) != SQLITE_OK)
		return (rc);
	return (dump_puts(d, "\""));
}

/* A marker for \n or \r that does not occur in z (the shell's choice). */
static const char *
dump_unused(const char *z, const char *a, const char *b, char *buf,
    size_t size)
{
	unsigned int	i = 0;

	if (strstr(z, a) == NULL)
		return (a);
	if (strstr(z, b) == NULL)
		return (b);
	do {
		snprintf(buf, size, "(%s%u)", a, i++);
	} while (strstr(z, buf) != NULL);
	return (buf);
}

/*
 * A text value as the shell writes it: '...' with '' for a quote, and
 * line ends kept out of the literal by replace(..., '\n', char(10)) so
 * that the file stays line-oriented.  z has a NUL at z[n].
 */
static int
dump_text(struct dump *d, const char *z, size_t n)
{
	const char	*nl = NULL, *cr = NULL;
	char		 nlbuf[32], crbuf[32];
	size_t		 i, start, nnl = 0, ncr = 0;
	int		 rc;

	if (memchr(z, '\0', n) != NULL) {
		if ((rc = dump_puts(d, "CAST(")) != SQLITE_OK ||
		    (rc = dump_blob(d, z, n)) != SQLITE_OK)
			return (rc);
		return (dump_puts(d, " AS TEXT)"));
	}
	for (i = 0; i < n; i++) {
		if (z[i] == '\n')
			nnl++;
		else if (z[i] == '\r')
			ncr++;
	}
	if (nnl > 0) {
		if ((rc = dump_puts(d, "replace(")) != SQLITE_OK)
			return (rc);
		nl = dump_unused(z, "\\n", "\\012", nlbuf, sizeof nlbuf);
	}
	if (ncr > 0) {
		if ((rc = dump_puts(d, "replace(")) != SQLITE_OK)
			return (rc);
		cr = dump_unused(z, "\\r", "\\015", crbuf, sizeof crbuf);
	}
	if ((rc = dump_puts(d, "'")) != SQLITE_OK)
		return (rc);
	for (i = start = 0; i < n; i++) {
		if (z[i] != '\'' && z[i] != '\n' && z[i] != '\r')
			continue;
		if ((rc = dump_put(d, z + start, i - start)) != SQLITE_OK)
			return (rc);
		if (z[i] == '\'')
			rc = dump_puts(d, "''");
		else
			rc = dump_puts(d, z[i] == '\n' ? nl : cr);
		if (rc != SQLITE_OK)
			return (rc);
		start = i + 1;
	}
	if ((rc = dump_put(d, z + start, n - start)) != SQLITE_OK ||
	    (rc = dump_puts(d, "'")) != SQLITE_OK)
		return (rc);
	if (ncr > 0 &&
	    (rc = dump_printf(d, ",'%s',char(13))", cr)) != SQLITE_OK)
		return (rc);
	if (nnl > 0 &&
	    (rc = dump_printf(d, ",'%s',char(10))", nl)) != SQLITE_OK)
		return (rc);
	return (SQLITE_OK);
}

/* Does SQLite's own parser read s back as r?  (Literals and CAST both go
 * through sqlite3AtoF.) */
static int
dump_real_check(struct dump *d, const char *s, double r, int *same)
{
	double	got;
	int	rc;

	*same = 0;
	if (d->realchk == NULL) {
		rc = sqlite3_prepare_v2(d->db, "SELECT CAST(?1 AS REAL)", -1,
		    &d->realchk, NULL);
		if (rc != SQLITE_OK)
			return (dump_sqlerr(d, rc, "prepare real check"));
	}
	rc = sqlite3_bind_text(d->realchk, 1, s, -1, SQLITE_TRANSIENT);
	if (rc != SQLITE_OK)
		return (dump_sqlerr(d, rc, "bind real check"));
	if ((rc = sqlite3_step(d->realchk)) != SQLITE_ROW) {
		sqlite3_reset(d->realchk);
		return (dump_sqlerr(d, rc, "real check"));
	}
	got = sqlite3_column_double(d->realchk, 0);
	*same = memcmp(&got, &r, sizeof r) == 0;
	if ((rc = sqlite3_reset(d->realchk)) != SQLITE_OK)
		return (dump_sqlerr(d, rc, "real check"));
	return (SQLITE_OK);
}

/* r (finite, not zero) as exact arithmetic: m * 2^e with |m| < 2^53, and
 * every factor a power of two that fits an integer literal, so each
 * step is exact in binary floating point. */
static int
dump_real_exact(struct dump *d, double r)
{
	uint64_t	u;
	long long	m;
	int		e, k, rc;

	memcpy(&u, &r, sizeof u);
	e = (int)((u >> 52) & 0x7ff);
	m = (long long)(u & ((UINT64_C(1) << 52) - 1));
	if (e == 0)
		e = -1074;			/* subnormal */
	else {
		m |= (long long)1 << 52;
		e -= 1075;
	}
	while (m != 0 && (m & 1) == 0 && e < 0) {
		m >>= 1;
		e++;
	}
	if (u >> 63)
		m = -m;
	if ((rc = dump_printf(d, "(CAST(%lld AS REAL)", m)) != SQLITE_OK)
		return (rc);
	while (e != 0) {
		k = e > 0 ? e : -e;
		if (k > 62)
			k = 62;
		rc = dump_printf(d, "%c%lld", e > 0 ? '*' : '/',
		    (long long)1 << k);
		if (rc != SQLITE_OK)
			return (rc);
		e += e > 0 ? -k : k;
	}
	return (dump_puts(d, ")"));
}

static int
dump_real(struct dump *d, double r)
{
	char		buf[64];
	uint64_t	u;
	int		prec, rc, same;

	memcpy(&u, &r, sizeof u);
	if ((u & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL) {
		if ((u & 0x000fffffffffffffULL) != 0)
			return (dump_puts(d, "NULL"));	/* NaN */
		return (dump_puts(d, (u >> 63) ? "-1e999" : "1e999"));
	}
	if (r == 0)
		return (dump_puts(d, (u >> 63) ? "-0.0" : "0.0"));
	/* Whole numbers below 2^53 as the shell writes them: exact. */
	if (r > -9007199254740992.0 && r < 9007199254740992.0 &&
	    r == (double)(long long)r)
		return (dump_printf(d, "%lld.0", (long long)r));
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, r);
		if (strtod(buf, NULL) != r)
			continue;
		if (strpbrk(buf, ".eE") == NULL)	/* stay a REAL literal */
			strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
		if ((rc = dump_real_check(d, buf, r, &same)) != SQLITE_OK)
			return (rc);
		if (same)
			return (dump_puts(d, buf));
	}
	return (dump_real_exact(d, r));
}

static int
dump_value(struct dump *d, sqlite3_stmt *stmt, int i)
{
	const void	*p;
	char		 num[32];
	int		 n;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		snprintf(num, sizeof num, "%lld",
		    (long long)sqlite3_column_int64(stmt, i));
		return (dump_puts(d, num));
	case SQLITE_FLOAT:
		return (dump_real(d, sqlite3_column_double(stmt, i)));
	case SQLITE_TEXT:
		p = sqlite3_column_text(stmt, i);
		n = sqlite3_column_bytes(stmt, i);
		if (p == NULL && sqlite3_errcode(d->db) == SQLITE_NOMEM)
			break;
		return (dump_text(d, p != NULL ? p : "", (size_t)n));
	case SQLITE_BLOB:
		p = sqlite3_column_blob(stmt, i);
		n = sqlite3_column_bytes(stmt, i);
		if (p == NULL && sqlite3_errcode(d->db) == SQLITE_NOMEM)
			break;
		return (dump_blob(d, p, (size_t)n));
	default:
		return (dump_puts(d, "NULL"));
	}
	return (dump_seterr(d, SQLITE_NOMEM, "out of memory"));
}

/* A stored CREATE statement and ";\n", as the shell's printSchemaLine: a
 * statement ending inside a comment gets the comment closed first. */
static int
dump_schema_line(struct dump *d, const char *sql)
{
	static const char	*term[] = { "", "*/", "\n" };
	const char		*z = sql;
	char			*s = NULL;
	size_t			 i;
	int			 rc;

	if (strstr(sql, "/*") != NULL || strstr(sql, "--") != NULL) {
		for (i = 0; i < sizeof term / sizeof term[0]; i++) {
			s = sqlite3_mprintf("%s%s;", sql, term[i]);
			if (s == NULL)
				return (dump_seterr(d, SQLITE_NOMEM,
				    "out of memory"));
			if (sqlite3_complete(s)) {
				s[strlen(s) - 1] = '\0';
				z = s;
				break;
			}
			sqlite3_free(s);
			s = NULL;
		}
	}
	if (sqlite3_strglob("CREATE TABLE ['\"]*", z) == 0)
		rc = dump_printf(d, "CREATE TABLE IF NOT EXISTS %s;\n", z + 13);
	else
		rc = dump_printf(d, "%s;\n", z);
	sqlite3_free(s);
	return (rc);
}

/* Fill t->cols, t->inscols, t->rowid and t->preserve from the table's
 * columns (the shell's tableColumnList, always with --preserve-rowids
 * for user tables). */
static int
dump_columns(struct dump *d, struct dump_table *t)
{
	static const char	*rowids[] = { "rowid", "_rowid_", "oid" };
	sqlite3_stmt		*stmt = NULL;
	const char		*name, *type;
	char			*sql = NULL;
	int			 taken[3] = { 0, 0, 0 };
	int			 rc, i, ncols = 0, npk = 0, ipk = 0;

	rc = sqlite3_prepare_v2(d->db, "SELECT name, type, pk, hidden "
	    "FROM pragma_table_xinfo(?1, 'main')", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "table_xinfo");
		goto fail;
	}
	if ((rc = sqlite3_bind_text(stmt, 1, t->name, -1,
	    SQLITE_STATIC)) != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "table_xinfo");
		goto fail;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(stmt, 0);
		type = (const char *)sqlite3_column_text(stmt, 1);
		if (name == NULL) {
			rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
			goto fail;
		}
		for (i = 0; i < 3; i++)
			if (sqlite3_stricmp(name, rowids[i]) == 0)
				taken[i] = 1;
		if (sqlite3_column_int(stmt, 3) != 0)
			continue;	/* generated or hidden column */
		if (ncols++ > 0) {
			sqlite3_str_appendall(t->cols, ",");
			sqlite3_str_appendall(t->inscols, ",");
		}
		sqlite3_str_appendf(t->cols, "\"%w\"", name);
		if (dump_plain(name))
			sqlite3_str_appendall(t->inscols, name);
		else
			sqlite3_str_appendf(t->inscols, "\"%w\"", name);
		if (sqlite3_column_int(stmt, 2) != 0)
			ipk = ++npk == 1 && type != NULL &&
			    sqlite3_stricmp(type, "INTEGER") == 0;
	}
	if (rc != SQLITE_DONE) {
		rc = dump_sqlerr(d, rc, "table_xinfo");
		goto fail;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (ncols == 0) {
		rc = dump_seterr(d, SQLITE_ERROR, "table %s: no columns",
		    t->name);
		goto fail;
	}
	if ((rc = sqlite3_str_errcode(t->cols)) != SQLITE_OK ||
	    (rc = sqlite3_str_errcode(t->inscols)) != SQLITE_OK) {
		rc = dump_seterr(d, rc, "out of memory");
		goto fail;
	}

	/* A name for the rowid that no column hides, if the table has one:
	 * preparing a SELECT of it fails for a WITHOUT ROWID table. */
	for (i = 0; i < 3 && taken[i]; i++)
		;
	if (i == 3)
		goto done;
	sql = sqlite3_mprintf("SELECT %s FROM main.\"%w\"", rowids[i],
	    t->name);
	if (sql == NULL) {
		rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
		goto fail;
	}
	rc = sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_ERROR)
		goto done;		/* WITHOUT ROWID: "no such column" */
	if (rc != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "rowid check");
		goto fail;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	t->rowid = rowids[i];
	if (t->internal)
		goto done;

	/* One INTEGER primary key column is the rowid unless the table has
	 * a separate primary key index (INTEGER PRIMARY KEY DESC). */
	t->preserve = 1;
	if (ipk) {
		rc = sqlite3_prepare_v2(d->db, "SELECT 1 FROM "
		    "pragma_index_list(?1, 'main') WHERE origin = 'pk'", -1,
		    &stmt, NULL);
		if (rc != SQLITE_OK) {
			rc = dump_sqlerr(d, rc, "index_list");
			goto fail;
		}
		if ((rc = sqlite3_bind_text(stmt, 1, t->name, -1,
		    SQLITE_STATIC)) != SQLITE_OK) {
			rc = dump_sqlerr(d, rc, "index_list");
			goto fail;
		}
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			t->preserve = 0;
		else if (rc != SQLITE_ROW) {
			rc = dump_sqlerr(d, rc, "index_list");
			goto fail;
		}
	}
done:
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(stmt);
	sqlite3_free(sql);
	return (rc);
}

/* INSERT INTO t VALUES(...); for every row of table name. */
static int
dump_rows(struct dump *d, const char *name, int internal)
{
	struct dump_table	 t;
	sqlite3_stmt		*stmt = NULL;
	char			*cols = NULL, *inscols = NULL, *sql = NULL;
	int			 rc, i, n;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.internal = internal;
	t.cols = sqlite3_str_new(d->db);
	t.inscols = sqlite3_str_new(d->db);
	if ((rc = dump_columns(d, &t)) != SQLITE_OK)
		goto fail;
	cols = sqlite3_str_finish(t.cols);
	inscols = sqlite3_str_finish(t.inscols);
	t.cols = t.inscols = NULL;
	if (cols == NULL || inscols == NULL) {
		rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
		goto fail;
	}
	sql = sqlite3_mprintf("SELECT %s%s%s FROM main.\"%w\"%s%s",
	    t.preserve ? t.rowid : "", t.preserve ? "," : "", cols, name,
	    t.rowid != NULL ? " ORDER BY " : "", t.rowid != NULL ? t.rowid : "");
	if (sql == NULL) {
		rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL)) !=
	    SQLITE_OK) {
		rc = dump_seterr(d, rc, "table %s: %s", name,
		    sqlite3_errmsg(d->db));
		goto fail;
	}
	n = sqlite3_column_count(stmt);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = dump_puts(d, "INSERT INTO ")) != SQLITE_OK ||
		    (rc = dump_ident(d, name)) != SQLITE_OK)
			goto fail;
		if (t.preserve && (rc = dump_printf(d, "(%s,%s)", t.rowid,
		    inscols)) != SQLITE_OK)
			goto fail;
		if ((rc = dump_puts(d, " VALUES(")) != SQLITE_OK)
			goto fail;
		for (i = 0; i < n; i++) {
			if (i > 0 && (rc = dump_puts(d, ",")) != SQLITE_OK)
				goto fail;
			if ((rc = dump_value(d, stmt, i)) != SQLITE_OK)
				goto fail;
		}
		if ((rc = dump_puts(d, ");\n")) != SQLITE_OK)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = dump_seterr(d, rc, "table %s: %s", name,
		    sqlite3_errmsg(d->db));
		goto fail;
	}
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(stmt);
	sqlite3_free(sql);
	sqlite3_free(inscols);
	sqlite3_free(cols);
	sqlite3_free(sqlite3_str_finish(t.inscols));
	sqlite3_free(sqlite3_str_finish(t.cols));
	return (rc);
}

/* One table of sqlite_schema: its CREATE statement, then its rows. */
static int
dump_table(struct dump *d, const char *name, const char *sql)
{
	char	*ins;
	int	 rc, internal = 0;

	if (strcmp(name, "sqlite_sequence") == 0) {
		rc = dump_puts(d, "DELETE FROM sqlite_sequence;\n");
		internal = 1;
	} else if (sqlite3_strglob("sqlite_stat?", name) == 0) {
		rc = dump_puts(d, "ANALYZE sqlite_schema;\n");
		internal = 1;
	} else if (strncmp(name, "sqlite_", 7) == 0)
		return (SQLITE_OK);
	else if (strncmp(sql, "CREATE VIRTUAL TABLE", 20) == 0) {
		if (!d->writable) {
			d->writable = 1;
			rc = dump_puts(d, "PRAGMA writable_schema=ON;\n");
			if (rc != SQLITE_OK)
				return (rc);
		}
		ins = sqlite3_mprintf("INSERT INTO sqlite_schema(type,name,"
		    "tbl_name,rootpage,sql)VALUES('table','%q','%q',0,'%q');\n",
		    name, name, sql);
		if (ins == NULL)
			return (dump_seterr(d, SQLITE_NOMEM, "out of memory"));
		rc = dump_puts(d, ins);
		sqlite3_free(ins);
		return (rc);
	} else
		rc = dump_schema_line(d, sql);
	if (rc != SQLITE_OK)
		return (rc);
	return (dump_rows(d, name, internal));
}

static int
dump_tables(struct dump *d)
{
	sqlite3_stmt	*stmt = NULL;
	const char	*name, *sql;
	int		 rc;

	rc = sqlite3_prepare_v2(d->db, "SELECT name, sql FROM "
	    "main.sqlite_schema WHERE type = 'table' AND sql NOT NULL "
	    "ORDER BY tbl_name = 'sqlite_sequence', rowid", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "read schema");
		goto fail;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(stmt, 0);
		sql = (const char *)sqlite3_column_text(stmt, 1);
		if (name == NULL || sql == NULL) {
			rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
			goto fail;
		}
		if ((rc = dump_table(d, name, sql)) != SQLITE_OK)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = dump_sqlerr(d, rc, "read schema");
		goto fail;
	}
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(stmt);
	return (rc);
}

/* Indexes, triggers and views, after every row is in. */
static int
dump_others(struct dump *d)
{
	sqlite3_stmt	*stmt = NULL;
	const char	*sql;
	int		 rc;

	rc = sqlite3_prepare_v2(d->db, "SELECT sql FROM main.sqlite_schema "
	    "WHERE sql NOT NULL AND type IN ('index', 'trigger', 'view') "
	    "ORDER BY rowid", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "read schema");
		goto fail;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((sql = (const char *)sqlite3_column_text(stmt, 0)) == NULL) {
			rc = dump_seterr(d, SQLITE_NOMEM, "out of memory");
			goto fail;
		}
		/* A "--" comment may run to the end: ";" on its own line. */
		if ((rc = dump_puts(d, sql)) != SQLITE_OK ||
		    (rc = dump_puts(d, strstr(sql, "--") != NULL ?
		    "\n;\n" : ";\n")) != SQLITE_OK)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = dump_sqlerr(d, rc, "read schema");
		goto fail;
	}
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(stmt);
	return (rc);
}

static int
dump_user_version(struct dump *d)
{
	sqlite3_stmt	*stmt = NULL;
	int		 rc, v;

	rc = sqlite3_prepare_v2(d->db, "PRAGMA main.user_version", -1, &stmt,
	    NULL);
	if (rc != SQLITE_OK) {
		rc = dump_sqlerr(d, rc, "user_version");
		goto fail;
	}
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW) {
		rc = dump_sqlerr(d, rc, "user_version");
		goto fail;
	}
	v = sqlite3_column_int(stmt, 0);
	if (v != 0 && (rc = dump_printf(d, "PRAGMA user_version=%d;\n", v)) !=
	    SQLITE_OK)
		goto fail;
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(stmt);
	return (rc);
}

int
dump_sql(sqlite3 *db, dump_write_cb write, void *arg, char *errbuf,
    size_t errlen)
{
	struct dump	d;
	int		rc;

	memset(&d, 0, sizeof d);
	d.db = db;
	d.write = write;
	d.arg = arg;
	d.errbuf = errbuf;
	d.errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (db == NULL || write == NULL)
		return (dump_seterr(&d, SQLITE_MISUSE, "no database or no "
		    "write callback"));
	if (!sqlite3_get_autocommit(db))
		return (dump_seterr(&d, SQLITE_MISUSE, "a transaction is "
		    "already open"));
	if ((d.buf = sqlite3_malloc(DUMP_BUFSIZE)) == NULL)
		return (dump_seterr(&d, SQLITE_NOMEM, "out of memory"));
	if ((rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = dump_sqlerr(&d, rc, "begin");
		goto fail;
	}
	if ((rc = dump_puts(&d, "PRAGMA foreign_keys=OFF;\n"
	    "BEGIN TRANSACTION;\n")) != SQLITE_OK ||
	    (rc = dump_user_version(&d)) != SQLITE_OK ||
	    (rc = dump_tables(&d)) != SQLITE_OK ||
	    (rc = dump_others(&d)) != SQLITE_OK)
		goto fail;
	if (d.writable &&
	    (rc = dump_puts(&d, "PRAGMA writable_schema=OFF;\n")) != SQLITE_OK)
		goto fail;
	if ((rc = dump_puts(&d, "COMMIT;\n")) != SQLITE_OK ||
	    (rc = dump_flush(&d)) != SQLITE_OK)
		goto fail;
	sqlite3_finalize(d.realchk);
	d.realchk = NULL;
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = dump_sqlerr(&d, rc, "commit");
		goto fail;
	}
	sqlite3_free(d.buf);
	return (SQLITE_OK);

fail:
	sqlite3_finalize(d.realchk);
	/* Only reads happened: a failed ROLLBACK loses nothing, and the
	 * first error is the one to report. */
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_free(d.buf);
	return (rc);
}
