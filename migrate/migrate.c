/*
 * migrate.c: load, validate and apply versioned migration sets.
 *
 * Owns struct migrate_set and the _tenantd_migrations table inside each
 * database.  A set is built once by migrate_set_load() and never changed
 * afterwards, so any number of threads may read it at once.  There is no
 * global mutable state: every function works on its arguments only, so
 * any thread may call any function, provided one sqlite3 handle is not
 * used by two threads at the same time.
 *
 * Invariants:
 * - A loaded set has versions 1..latest with exactly one up file each;
 *   every file was readable, holds no statement that cannot run inside
 *   the step's transaction, and the whole set ran in order (each down
 *   file followed by its up file again) on a private :memory: database.
 * - In a database, PRAGMA user_version equals the highest record in
 *   _tenantd_migrations and the records are exactly 1..user_version.  A
 *   step changes the schema, its record and user_version in one
 *   BEGIN IMMEDIATE transaction, so it is all or nothing.
 * - Library rules: no exit, no logging, no printing.  Errors are codes
 *   plus an optional struct migrate_error; the loader collects every
 *   problem it finds into struct migrate_problems.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "migrate.h"

#define MIGRATE_FILE_MAX	(64 * 1024 * 1024) /* largest .sql we read */
#define MIGRATE_DIGITS_MAX	9	/* versions up to 999999999 */
#define MIGRATE_STEM_MAX	127	/* fits struct migrate_record.name */

#define MIGRATE_PRINTF(a, b)	__attribute__((format(printf, a, b)))

#define MIGRATE_CREATE_TABLE						\
	"CREATE TABLE IF NOT EXISTS main." MIGRATE_TABLE " ("		\
	"version INTEGER PRIMARY KEY, "					\
	"name TEXT NOT NULL, "						\
	"checksum TEXT NOT NULL, "					\
	"applied_at TEXT NOT NULL, "					\
	"duration_ms REAL NOT NULL)"

/* One .sql file of a set, as read from the folder. */
struct migrate_file {
	char		*fname;		/* "0002_tags.sql" */
	char		*stem;		/* "0002_tags" */
	int		 version;
	int		 down;		/* a .down.sql file */
	int		 usable;	/* read, and text without NUL bytes */
	char		*sql;		/* contents, NUL-terminated */
	size_t		 len;
	char		 checksum[65];
};

struct migrate_set {
	char			*name;
	int			 latest;
	int			 page_size;	/* 0001's PRAGMA page_size, or 0 */
	struct migrate_step	*steps;		/* steps[v - 1] */
	struct migrate_file	*files;		/* owns every string */
	size_t			 nfiles;
};

/* State of one migrate_set_load() call. */
struct migrate_load {
	const char		*dir;
	struct migrate_problems	 probs;
	int			 nomem;
	struct migrate_file	*files;
	size_t			 nfiles;
	int			 latest;
	int			 prefix;	/* 1..prefix are unambiguous */
	int			 page_size;	/* 0001's PRAGMA page_size, or 0 */
};

/* What the scratch database's authorizer saw while preparing. */
enum migrate_forbid {
	MIGRATE_FORBID_NONE,
	MIGRATE_FORBID_TXN,
	MIGRATE_FORBID_ATTACH,
	MIGRATE_FORBID_VACUUM,
	MIGRATE_FORBID_FOREIGN_KEYS,
	MIGRATE_FORBID_JOURNAL_MODE,
	MIGRATE_FORBID_USER_VERSION,
	MIGRATE_FORBID_PAGE_SIZE,	/* outside 0001, or a bad size */
};

/*
 * What the scratch database's authorizer saw while preparing one
 * statement: something forbidden, or a PRAGMA page_size = value (which
 * only the first migration may set: migrate_load_file).
 */
struct migrate_auth {
	enum migrate_forbid	 forbid;
	int			 page_size;	/* set: its value, -1 if bad */
};

/* Walks the statements of one file.  buf is a copy for sqlite3_complete. */
struct migrate_iter {
	const char	*sql;
	size_t		 len;
	char		*buf;
	size_t		 pos;		/* next byte to look at */
	size_t		 end;		/* end of the current piece */
	int		 line;		/* line number at pos */
};

/* Where a statement is in its file. */
struct migrate_loc {
	size_t		 off;
	size_t		 len;
	int		 line;
};

enum migrate_mode {
	MIGRATE_MODE_SCAN,		/* prepare only: forbidden, syntax */
	MIGRATE_MODE_EXEC,		/* prepare and run */
	MIGRATE_MODE_REUP,		/* run an up file again after its down */
};

static void	migrate_vseterr(struct migrate_error *, int, const char *,
		    int, int, const char *, size_t, const char *, va_list)
		    MIGRATE_PRINTF(8, 0);
static int	migrate_seterr(struct migrate_error *, int, const char *,
		    int, int, const char *, size_t, const char *, ...)
		    MIGRATE_PRINTF(8, 9);
static void	migrate_problem(struct migrate_load *, int, const char *,
		    int, int, const char *, size_t, const char *, ...)
		    MIGRATE_PRINTF(8, 9);

static void
migrate_clearerr(struct migrate_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof *err);
}

/* Copy statement text: whitespace runs become one space, long text ends
 * in "...". */
static void
migrate_stmt_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i, n = 0;
	int	space = 0;

	if (size == 0)
		return;
	for (i = 0; i < len && src[i] != '\0'; i++) {
		if (isspace((unsigned char)src[i])) {
			space = 1;
			continue;
		}
		if (space && n > 0) {
			if (n + 1 >= size)
				break;
			dst[n++] = ' ';
		}
		space = 0;
		if (n + 1 >= size)
			break;
		dst[n++] = src[i];
	}
	dst[n] = '\0';
	if (i < len && src[i] != '\0' && size > 4) {
		if (n > size - 4)
			n = size - 4;
		memcpy(dst + n, "...", 4);
	}
}

static void
migrate_vseterr(struct migrate_error *err, int code, const char *file,
    int version, int line, const char *stmt, size_t stmtlen, const char *fmt,
    va_list ap)
{
	memset(err, 0, sizeof *err);
	err->code = code;
	err->version = version;
	err->line = line;
	if (file != NULL)
		snprintf(err->file, sizeof err->file, "%s", file);
	if (stmt != NULL)
		migrate_stmt_text(err->stmt, sizeof err->stmt, stmt, stmtlen);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
}

/* Fill err (if not NULL) and return code. */
static int
migrate_seterr(struct migrate_error *err, int code, const char *file,
    int version, int line, const char *stmt, size_t stmtlen, const char *fmt,
    ...)
{
	va_list	ap;

	if (err == NULL)
		return (code);
	va_start(ap, fmt);
	migrate_vseterr(err, code, file, version, line, stmt, stmtlen, fmt, ap);
	va_end(ap);
	return (code);
}

/* Add one problem to a load; out of memory is remembered, not lost. */
static void
migrate_problem(struct migrate_load *ld, int code, const char *file,
    int version, int line, const char *stmt, size_t stmtlen, const char *fmt,
    ...)
{
	struct migrate_error	*items;
	va_list			 ap;
	size_t			 n = ld->probs.count;

	if ((n & (n - 1)) == 0) {	/* 0, 1, 2, 4, 8...: grow */
		items = reallocarray(ld->probs.items, n == 0 ? 1 : n * 2,
		    sizeof *items);
		if (items == NULL) {
			ld->nomem = 1;
			return;
		}
		ld->probs.items = items;
	}
	va_start(ap, fmt);
	migrate_vseterr(&ld->probs.items[n], code, file, version, line, stmt,
	    stmtlen, fmt, ap);
	va_end(ap);
	ld->probs.count++;
}

const char *
migrate_strerror(int code)
{
	switch (code) {
	case MIGRATE_OK:
		return ("MIGRATE_OK");
	case MIGRATE_EIO:
		return ("MIGRATE_EIO");
	case MIGRATE_ENAME:
		return ("MIGRATE_ENAME");
	case MIGRATE_EGAP:
		return ("MIGRATE_EGAP");
	case MIGRATE_EDUP:
		return ("MIGRATE_EDUP");
	case MIGRATE_ETXN:
		return ("MIGRATE_ETXN");
	case MIGRATE_ESQL:
		return ("MIGRATE_ESQL");
	case MIGRATE_ECHECKSUM:
		return ("MIGRATE_ECHECKSUM");
	case MIGRATE_ENODOWN:
		return ("MIGRATE_ENODOWN");
	case MIGRATE_ERANGE:
		return ("MIGRATE_ERANGE");
	case MIGRATE_EDB:
		return ("MIGRATE_EDB");
	case MIGRATE_EEMPTY:
		return ("MIGRATE_EEMPTY");
	case MIGRATE_ENOMEM:
		return ("MIGRATE_ENOMEM");
	case MIGRATE_EINVAL:
		return ("MIGRATE_EINVAL");
	}
	return ("MIGRATE_EUNKNOWN");
}

/* --- statements ---------------------------------------------------------- */

/* Skip whitespace and comments in s[pos..end), counting newlines. */
static size_t
migrate_skip_blank(const char *s, size_t pos, size_t end, int *linep)
{
	while (pos < end) {
		if (s[pos] == '\n') {
			(*linep)++;
			pos++;
		} else if (isspace((unsigned char)s[pos]))
			pos++;
		else if (s[pos] == '-' && pos + 1 < end && s[pos + 1] == '-') {
			while (pos < end && s[pos] != '\n')
				pos++;
		} else if (s[pos] == '/' && pos + 1 < end && s[pos + 1] == '*') {
			pos += 2;
			while (pos < end &&
			    !(s[pos] == '*' && pos + 1 < end && s[pos + 1] == '/')) {
				if (s[pos] == '\n')
					(*linep)++;
				pos++;
			}
			if (pos < end)
				pos += 2;
		} else
			break;
	}
	return (pos);
}

static int
migrate_iter_init(struct migrate_iter *it, const char *sql)
{
	memset(it, 0, sizeof *it);
	it->sql = sql;
	it->len = strlen(sql);
	it->line = 1;
	if ((it->buf = malloc(it->len + 1)) == NULL)
		return (-1);
	memcpy(it->buf, sql, it->len + 1);
	return (0);
}

static void
migrate_iter_free(struct migrate_iter *it)
{
	free(it->buf);
	it->buf = NULL;
}

/* Move to newpos, counting the newlines passed. */
static void
migrate_iter_advance(struct migrate_iter *it, size_t newpos)
{
	for (; it->pos < newpos; it->pos++) {
		if (it->sql[it->pos] == '\n')
			it->line++;
	}
}

/*
 * Find the end of the piece starting at it->pos: the first ';' where the
 * text so far is a complete statement (so ';' inside strings, comments and
 * trigger bodies does not count), or the end of the file.
 */
static size_t
migrate_iter_piece(struct migrate_iter *it)
{
	size_t	i;
	char	c;
	int	done;

	for (i = it->pos; i < it->len; i++) {
		if (it->buf[i] != ';')
			continue;
		c = it->buf[i + 1];
		it->buf[i + 1] = '\0';
		done = sqlite3_complete(it->buf + it->pos);
		it->buf[i + 1] = c;
		if (done == 1)
			return (i + 1);
	}
	return (it->len);
}

/*
 * Prepare the next statement.  Returns SQLITE_DONE at the end of the file,
 * SQLITE_OK with a new *stmtp, or SQLite's error code if the statement
 * does not prepare (the iterator then moves past it).  loc says where the
 * statement is either way.
 */
static int
migrate_iter_prepare(struct migrate_iter *it, sqlite3 *db,
    sqlite3_stmt **stmtp, struct migrate_loc *loc)
{
	const char	*tail;
	int		 rc;

	*stmtp = NULL;
	for (;;) {
		it->pos = migrate_skip_blank(it->sql, it->pos, it->end,
		    &it->line);
		if (it->pos >= it->end) {
			it->pos = migrate_skip_blank(it->sql, it->pos, it->len,
			    &it->line);
			if (it->pos >= it->len)
				return (SQLITE_DONE);
			it->end = migrate_iter_piece(it);
		}
		loc->off = it->pos;
		loc->len = it->end - it->pos;
		loc->line = it->line;
		tail = NULL;
		rc = sqlite3_prepare_v2(db, it->sql + it->pos,
		    (int)(it->end - it->pos), stmtp, &tail);
		if (rc != SQLITE_OK) {
			sqlite3_finalize(*stmtp);
			*stmtp = NULL;
			migrate_iter_advance(it, it->end);
			return (rc);
		}
		if (tail == NULL || tail < it->sql + it->pos ||
		    tail > it->sql + it->end)
			tail = it->sql + it->end;
		loc->len = (size_t)(tail - (it->sql + it->pos));
		migrate_iter_advance(it, (size_t)(tail - it->sql));
		if (*stmtp != NULL)
			return (SQLITE_OK);
	}
}

/* Step a statement to its end; returns SQLITE_DONE or an error code. */
static int
migrate_step_all(sqlite3_stmt *stmt)
{
	int	rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	return (rc);
}

/*
 * Run every statement of one file on db, one at a time.  On failure fills
 * err with the file, the line where the failing statement starts, its text
 * and SQLite's message, and returns MIGRATE_ESQL.
 */
static int
migrate_exec_file(sqlite3 *db, const char *file, int version, const char *sql,
    struct migrate_error *err)
{
	struct migrate_iter	 it;
	struct migrate_loc	 loc;
	sqlite3_stmt		*stmt;
	int			 rc, ret = MIGRATE_OK;

	if (migrate_iter_init(&it, sql) != 0)
		return (migrate_seterr(err, MIGRATE_ENOMEM, file, version, 0,
		    NULL, 0, "out of memory running %s", file));
	for (;;) {
		rc = migrate_iter_prepare(&it, db, &stmt, &loc);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_OK)
			rc = migrate_step_all(stmt);
		if (rc != SQLITE_DONE) {
			ret = migrate_seterr(err, MIGRATE_ESQL, file, version,
			    loc.line, sql + loc.off, loc.len, "%s line %d: %s",
			    file, loc.line, sqlite3_errmsg(db));
			sqlite3_finalize(stmt);
			break;
		}
		sqlite3_finalize(stmt);
	}
	migrate_iter_free(&it);
	return (ret);
}

/* --- loading a set ------------------------------------------------------- */

static void
migrate_file_free(struct migrate_file *f)
{
	free(f->fname);
	free(f->stem);
	free(f->sql);
}

/*
 * Parse "<NNNN>_<slug>.sql" or "<NNNN>_<slug>.down.sql".  Returns 0 and
 * fills version, down and stem length, or -1 with a reason.
 */
static int
migrate_parse_name(const char *name, int *versionp, int *downp,
    size_t *stemp, const char **whyp)
{
	const char	*p, *slug;
	size_t		 digits, sig;
	long		 v;

	for (p = name; isdigit((unsigned char)*p); p++)
		;
	digits = (size_t)(p - name);
	if (digits < 4 || *p != '_') {
		*whyp = "it does not start with a version of at least 4 digits"
		    " and '_'";
		return (-1);
	}
	slug = ++p;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
		p++;
	if (p == slug) {
		*whyp = "the part after the version is empty";
		return (-1);
	}
	if (strcmp(p, ".sql") == 0)
		*downp = 0;
	else if (strcmp(p, ".down.sql") == 0)
		*downp = 1;
	else {
		*whyp = "it does not end in .sql or .down.sql after a name of"
		    " A-Z a-z 0-9 _ -";
		return (-1);
	}
	*stemp = (size_t)(p - name);
	if (*stemp > MIGRATE_STEM_MAX) {
		*whyp = "it is too long";
		return (-1);
	}
	for (sig = digits, p = name; sig > 0 && *p == '0'; p++)
		sig--;
	if (sig > MIGRATE_DIGITS_MAX) {
		*whyp = "its version is too large";
		return (-1);
	}
	v = strtol(name, NULL, 10);
	if (v == 0) {
		*whyp = "version 0 is not allowed (versions start at 1)";
		return (-1);
	}
	*versionp = (int)v;
	return (0);
}

static int
migrate_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0, i;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return (-1);
	for (i = 0; i < n; i++) {
		out[i * 2] = hex[md[i] >> 4];
		out[i * 2 + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	return (0);
}

/* Read one file into f->sql; problems go to ld. */
static void
migrate_load_read(struct migrate_load *ld, struct migrate_file *f)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	const char	*nul;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, size, i;
	ssize_t		 n;
	int		 fd = -1, line;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", ld->dir, f->fname) >=
	    sizeof path) {
		migrate_problem(ld, MIGRATE_EIO, f->fname, f->version, 0, NULL,
		    0, "%s cannot be read: its path is too long", f->fname);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		migrate_problem(ld, MIGRATE_EIO, f->fname, f->version, 0, NULL,
		    0, "%s cannot be read: %s", f->fname, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		migrate_problem(ld, MIGRATE_EIO, f->fname, f->version, 0, NULL,
		    0, "%s cannot be read: it is not a regular file", f->fname);
		goto fail;
	}
	if (st.st_size > MIGRATE_FILE_MAX) {
		migrate_problem(ld, MIGRATE_EIO, f->fname, f->version, 0, NULL,
		    0, "%s cannot be read: it is larger than %d bytes",
		    f->fname, MIGRATE_FILE_MAX);
		goto fail;
	}
	size = (size_t)st.st_size + 2;	/* room for the NUL and EOF */
	if ((buf = malloc(size)) == NULL) {
		ld->nomem = 1;
		goto fail;
	}
	for (;;) {
		if (len == size - 1) {	/* the file grew: check for more */
			if (size > MIGRATE_FILE_MAX) {
				migrate_problem(ld, MIGRATE_EIO, f->fname,
				    f->version, 0, NULL, 0, "%s cannot be read:"
				    " it is larger than %d bytes", f->fname,
				    MIGRATE_FILE_MAX);
				goto fail;
			}
			size = size * 2;
			if ((nbuf = realloc(buf, size)) == NULL) {
				ld->nomem = 1;
				goto fail;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			migrate_problem(ld, MIGRATE_EIO, f->fname, f->version,
			    0, NULL, 0, "%s cannot be read: %s", f->fname,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	fd = -1;

	if (!f->down && migrate_sha256_hex(buf, len, f->checksum) != 0) {
		migrate_problem(ld, MIGRATE_EIO, f->fname, f->version, 0, NULL,
		    0, "%s: its SHA-256 checksum cannot be computed", f->fname);
		goto fail;
	}
	f->sql = buf;
	f->len = len;
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		line = 1;
		for (i = 0; buf + i < nul; i++) {
			if (buf[i] == '\n')
				line++;
		}
		migrate_problem(ld, MIGRATE_ESQL, f->fname, f->version, line,
		    NULL, 0, "%s line %d: the file contains a NUL byte, so it"
		    " is not SQL text", f->fname, line);
		return;
	}
	f->usable = 1;
	return;

fail:
	if (fd != -1)
		close(fd);
	free(buf);
}

static int
migrate_name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static int
migrate_file_cmp(const void *a, const void *b)
{
	const struct migrate_file	*fa = a, *fb = b;

	if (fa->version != fb->version)
		return (fa->version < fb->version ? -1 : 1);
	if (fa->down != fb->down)
		return (fa->down - fb->down);
	return (strcmp(fa->fname, fb->fname));
}

/* Does name end in ".sql", in any case? */
static int
migrate_is_sql(const char *name)
{
	size_t	len = strlen(name);

	return (len >= 4 && strcasecmp(name + len - 4, ".sql") == 0);
}

/* List the folder, check names, read files.  Fills ld->files, sorted. */
static void
migrate_load_dir(struct migrate_load *ld)
{
	DIR			*d;
	struct dirent		*de;
	struct migrate_file	*f;
	char			**names = NULL, **nn;
	const char		*why;
	size_t			 nnames = 0, i, stem;
	int			 version, down;

	if ((d = opendir(ld->dir)) == NULL) {
		migrate_problem(ld, MIGRATE_EIO, NULL, 0, 0, NULL, 0,
		    "set folder %s cannot be opened: %s", ld->dir,
		    strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				migrate_problem(ld, MIGRATE_EIO, NULL, 0, 0,
				    NULL, 0, "set folder %s cannot be read: %s",
				    ld->dir, strerror(errno));
			break;
		}
		if (de->d_name[0] == '.' || !migrate_is_sql(de->d_name))
			continue;
		nn = reallocarray(names, nnames + 1, sizeof *names);
		if (nn == NULL) {
			ld->nomem = 1;
			break;
		}
		names = nn;
		if ((names[nnames] = strdup(de->d_name)) == NULL) {
			ld->nomem = 1;
			break;
		}
		nnames++;
	}
	closedir(d);
	if (nnames > 0)
		qsort(names, nnames, sizeof *names, migrate_name_cmp);

	if (nnames > 0 &&
	    (ld->files = calloc(nnames, sizeof *ld->files)) == NULL)
		ld->nomem = 1;
	for (i = 0; i < nnames && ld->files != NULL; i++) {
		if (migrate_parse_name(names[i], &version, &down, &stem,
		    &why) != 0) {
			migrate_problem(ld, MIGRATE_ENAME, names[i], 0, 0, NULL,
			    0, "%s is not a valid migration file name: %s"
			    " (want NNNN_name.sql or NNNN_name.down.sql)",
			    names[i], why);
			continue;
		}
		f = &ld->files[ld->nfiles];
		f->version = version;
		f->down = down;
		f->fname = names[i];
		names[i] = NULL;
		if ((f->stem = strndup(f->fname, stem)) == NULL) {
			free(f->fname);
			ld->nomem = 1;
			break;
		}
		ld->nfiles++;
		migrate_load_read(ld, f);
	}
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	if (ld->nfiles > 0)
		qsort(ld->files, ld->nfiles, sizeof *ld->files,
		    migrate_file_cmp);
}

/* The up file of version v whose stem is stem, NULL if none. */
static struct migrate_file *
migrate_load_find_up(struct migrate_load *ld, int v, const char *stem)
{
	size_t	i;

	for (i = 0; i < ld->nfiles; i++) {
		if (ld->files[i].version == v && !ld->files[i].down &&
		    (stem == NULL || strcmp(ld->files[i].stem, stem) == 0))
			return (&ld->files[i]);
	}
	return (NULL);
}

/*
 * Versions, duplicates and pairs: sets ld->latest and ld->prefix (the
 * versions 1..prefix each have one usable up file).
 */
static void
migrate_load_structure(struct migrate_load *ld)
{
	struct migrate_file	*f, *first, *prev = NULL;
	char			 missing[64];
	size_t			 i;
	int			 expect = 1, contiguous = 1;

	for (i = 0; i < ld->nfiles; i++) {
		f = &ld->files[i];
		if (f->down) {
			if (migrate_load_find_up(ld, f->version, f->stem) !=
			    NULL)
				continue;
			if ((first = migrate_load_find_up(ld, f->version,
			    NULL)) != NULL)
				migrate_problem(ld, MIGRATE_ENAME, f->fname,
				    f->version, 0, NULL, 0, "%s has no up file"
				    " %s.sql: the up file for version %d is %s",
				    f->fname, f->stem, f->version,
				    first->fname);
			else
				migrate_problem(ld, MIGRATE_ENAME, f->fname,
				    f->version, 0, NULL, 0, "%s has no up file"
				    " %s.sql", f->fname, f->stem);
			continue;
		}
		first = migrate_load_find_up(ld, f->version, NULL);
		if (first != f) {
			migrate_problem(ld, MIGRATE_EDUP, f->fname, f->version,
			    0, NULL, 0, "%s and %s both have version %d",
			    f->fname, first->fname, f->version);
			if (f->version == ld->prefix)
				ld->prefix--;
			contiguous = 0;
			continue;
		}
		if (f->version != expect) {
			if (f->version - 1 == expect)
				snprintf(missing, sizeof missing, "version %d is",
				    expect);
			else
				snprintf(missing, sizeof missing, "versions %d"
				    " to %d are", expect, f->version - 1);
			migrate_problem(ld, MIGRATE_EGAP, f->fname, f->version,
			    0, NULL, 0, "%s %s%s, so %s missing (versions must"
			    " be contiguous from 1)", f->fname, prev == NULL ?
			    "is the first migration" : "follows ", prev == NULL ?
			    "" : prev->fname, missing);
			contiguous = 0;
		}
		if (contiguous && f->usable)
			ld->prefix = f->version;
		else
			contiguous = 0;
		expect = f->version + 1;
		ld->latest = f->version;
		prev = f;
	}
	if (ld->latest == 0 && ld->probs.count == 0 && !ld->nomem)
		migrate_problem(ld, MIGRATE_EEMPTY, NULL, 0, 0, NULL, 0,
		    "set folder %s has no migrations (no NNNN_name.sql files)",
		    ld->dir);
}

static int
migrate_load_auth(void *arg, int action, const char *a1, const char *a2,
    const char *dbname, const char *trigger)
{
	struct migrate_auth	*au = arg;
	char			*end;
	long			 v;

	if (au->forbid != MIGRATE_FORBID_NONE)
		return (SQLITE_OK);
	switch (action) {
	case SQLITE_TRANSACTION:
		au->forbid = MIGRATE_FORBID_TXN;
		break;
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		au->forbid = MIGRATE_FORBID_ATTACH;
		break;
	case SQLITE_PRAGMA:
		if (a1 == NULL || a2 == NULL)	/* reading is harmless */
			break;
		if (strcasecmp(a1, "foreign_keys") == 0)
			au->forbid = MIGRATE_FORBID_FOREIGN_KEYS;
		else if (strcasecmp(a1, "journal_mode") == 0)
			au->forbid = MIGRATE_FORBID_JOURNAL_MODE;
		else if (strcasecmp(a1, "user_version") == 0)
			au->forbid = MIGRATE_FORBID_USER_VERSION;
		else if (strcasecmp(a1, "page_size") == 0) {
			/* A power of two from 512 to 65536, as SQLite
			 * takes (it ignores any other value silently). */
			errno = 0;
			v = strtol(a2, &end, 10);
			au->page_size = errno == 0 && end != a2 &&
			    *end == '\0' && v >= 512 && v <= 65536 &&
			    (v & (v - 1)) == 0 ? (int)v : -1;
		}
		break;
	}
	return (SQLITE_OK);
}

/* The first keyword of a statement, upper-cased, into buf. */
static void
migrate_keyword(const char *s, size_t len, char *buf, size_t size)
{
	size_t	n = 0;

	while (n < len && n + 1 < size &&
	    (isalpha((unsigned char)s[n]) || s[n] == '_')) {
		buf[n] = (char)toupper((unsigned char)s[n]);
		n++;
	}
	buf[n] = '\0';
}

static void
migrate_load_forbidden(struct migrate_load *ld, struct migrate_file *f,
    const struct migrate_loc *loc, enum migrate_forbid forbid)
{
	char		 kw[16];
	const char	*stmt = f->sql + loc->off;

	migrate_keyword(stmt, loc->len, kw, sizeof kw);
	switch (forbid) {
	case MIGRATE_FORBID_NONE:
		break;
	case MIGRATE_FORBID_TXN:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: %s is not allowed:"
		    " each migration already runs in one transaction",
		    f->fname, loc->line, kw);
		break;
	case MIGRATE_FORBID_ATTACH:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: %s is not allowed"
		    " in a migration, which may only change its own database",
		    f->fname, loc->line, kw);
		break;
	case MIGRATE_FORBID_VACUUM:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: VACUUM cannot run"
		    " inside the migration's transaction", f->fname,
		    loc->line);
		break;
	case MIGRATE_FORBID_FOREIGN_KEYS:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: PRAGMA foreign_keys"
		    " does nothing inside the migration's transaction (use"
		    " PRAGMA defer_foreign_keys)", f->fname, loc->line);
		break;
	case MIGRATE_FORBID_JOURNAL_MODE:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: PRAGMA journal_mode"
		    " cannot be changed inside the migration's transaction",
		    f->fname, loc->line);
		break;
	case MIGRATE_FORBID_USER_VERSION:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: PRAGMA user_version"
		    " belongs to the migration library and must not be set by"
		    " a migration", f->fname, loc->line);
		break;
	case MIGRATE_FORBID_PAGE_SIZE:
		migrate_problem(ld, MIGRATE_ETXN, f->fname, f->version,
		    loc->line, stmt, loc->len, "%s line %d: PRAGMA page_size"
		    " is the page size of the files made for this schema: it"
		    " may only be set in the first migration, once, to a power"
		    " of two from 512 to 65536", f->fname, loc->line);
		break;
	}
}

/* Could this prepare error happen whatever the schema is? */
static int
migrate_is_syntax(const char *msg)
{
	return (strstr(msg, "syntax error") != NULL ||
	    strstr(msg, "incomplete input") != NULL ||
	    strstr(msg, "unrecognized token") != NULL);
}

/*
 * Check one file on the scratch database.  SCAN only prepares (finding
 * forbidden statements and syntax errors), EXEC also runs each statement,
 * REUP runs an up file again after its down file (blame goes to the down
 * file, downf).  Returns 0 if the file is clean, -1 if a problem was
 * recorded.
 */
static int
migrate_load_file(struct migrate_load *ld, sqlite3 *db,
    struct migrate_file *f, enum migrate_mode mode, struct migrate_auth *au,
    struct migrate_file *downf)
{
	struct migrate_iter	 it;
	struct migrate_loc	 loc;
	sqlite3_stmt		*stmt;
	char			 kw[16];
	int			 rc, clean = 1, exec = mode != MIGRATE_MODE_SCAN;

	if (migrate_iter_init(&it, f->sql) != 0) {
		ld->nomem = 1;
		return (-1);
	}
	/*
	 * Applying runs every file in a transaction of its own, so nothing
	 * a file opens (a SAVEPOINT) outlives it; a savepoint around each
	 * file gives validation the same boundary.
	 */
	if (exec && sqlite3_exec(db, "SAVEPOINT _tenantd_file", NULL, NULL,
	    NULL) != SQLITE_OK) {
		migrate_iter_free(&it);
		ld->nomem = 1;
		return (-1);
	}
	for (;;) {
		au->forbid = MIGRATE_FORBID_NONE;
		au->page_size = 0;
		rc = migrate_iter_prepare(&it, db, &stmt, &loc);
		if (rc == SQLITE_DONE)
			break;
		if (au->forbid == MIGRATE_FORBID_NONE) {
			migrate_keyword(f->sql + loc.off, loc.len, kw,
			    sizeof kw);
			if (strcmp(kw, "VACUUM") == 0)
				au->forbid = MIGRATE_FORBID_VACUUM;
		}
		/* The page size: the first migration's up file sets it
		 * for the files made for the set (SQLite would ignore it
		 * there, the file being made before it runs); anywhere
		 * else, or twice, it is refused. */
		if (au->forbid == MIGRATE_FORBID_NONE && au->page_size != 0 &&
		    mode != MIGRATE_MODE_REUP) {
			if (au->page_size > 0 && f->version == 1 && !f->down &&
			    ld->page_size == 0)
				ld->page_size = au->page_size;
			else
				au->forbid = MIGRATE_FORBID_PAGE_SIZE;
		}
		if (au->forbid != MIGRATE_FORBID_NONE) {
			if (mode != MIGRATE_MODE_REUP)
				migrate_load_forbidden(ld, f, &loc, au->forbid);
			clean = exec = 0;
			sqlite3_finalize(stmt);
			continue;
		}
		if (rc == SQLITE_OK && exec)
			rc = migrate_step_all(stmt);
		if (rc != SQLITE_OK && rc != SQLITE_DONE &&
		    (exec || migrate_is_syntax(sqlite3_errmsg(db)))) {
			if (mode == MIGRATE_MODE_REUP)
				migrate_problem(ld, MIGRATE_ESQL, downf->fname,
				    downf->version, 0, f->sql + loc.off,
				    loc.len, "%s does not undo %s: running %s"
				    " again after it fails at line %d: %s",
				    downf->fname, f->fname, f->fname, loc.line,
				    sqlite3_errmsg(db));
			else
				migrate_problem(ld, MIGRATE_ESQL, f->fname,
				    f->version, loc.line, f->sql + loc.off,
				    loc.len, "%s line %d: %s", f->fname,
				    loc.line, sqlite3_errmsg(db));
			clean = exec = 0;
		}
		sqlite3_finalize(stmt);
		if (mode == MIGRATE_MODE_REUP && !clean)
			break;
	}
	if (mode != MIGRATE_MODE_SCAN)
		sqlite3_exec(db, "RELEASE _tenantd_file", NULL, NULL, NULL);
	migrate_iter_free(&it);
	return (clean ? 0 : -1);
}

/*
 * Run the set in order on a private :memory: database inside one
 * transaction: each up file, then its down file and the up file again.
 * Once something fails, later files are only scanned, so one mistake does
 * not cascade into a list of follow-on errors.
 */
static void
migrate_load_sql(struct migrate_load *ld)
{
	sqlite3			*db = NULL;
	struct migrate_file	*f, *up;
	struct migrate_auth	 au = { MIGRATE_FORBID_NONE, 0 };
	size_t			 i;
	int			 exec = 1, run;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		ld->nomem = 1;
		goto out;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		ld->nomem = 1;
		goto out;
	}
	sqlite3_set_authorizer(db, migrate_load_auth, &au);
	for (i = 0; i < ld->nfiles; i++) {
		f = &ld->files[i];
		if (!f->usable)
			continue;
		up = migrate_load_find_up(ld, f->version, NULL);
		run = exec && f->version <= ld->prefix &&
		    (f->down ? strcmp(up->stem, f->stem) == 0 : up == f);
		if (migrate_load_file(ld, db, f, run ? MIGRATE_MODE_EXEC :
		    MIGRATE_MODE_SCAN, &au, NULL) != 0)
			exec = 0;
		if (run && exec && f->down &&
		    migrate_load_file(ld, db, up, MIGRATE_MODE_REUP, &au,
		    f) != 0)
			exec = 0;
	}
	sqlite3_set_authorizer(db, NULL, NULL);
out:
	if (db != NULL) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(db);
	}
}

/* Check the schema name (the folder's base name); store it in *namep. */
static void
migrate_load_name(struct migrate_load *ld, char **namep)
{
	const char	*end, *start, *p;
	size_t		 len;

	end = ld->dir + strlen(ld->dir);
	while (end > ld->dir + 1 && end[-1] == '/')
		end--;
	start = end;
	while (start > ld->dir && start[-1] != '/')
		start--;
	len = (size_t)(end - start);
	for (p = start; p < end; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			break;
	}
	if (len == 0 || len > MIGRATE_NAME_MAX || p != end) {
		migrate_problem(ld, MIGRATE_ENAME, NULL, 0, 0, NULL, 0,
		    "schema name \"%.*s\" (folder %s) must be 1 to %d"
		    " characters of A-Z a-z 0-9 _ -", len > 128 ? 128 :
		    (int)len, start, ld->dir, MIGRATE_NAME_MAX);
		return;
	}
	if ((*namep = strndup(start, len)) == NULL)
		ld->nomem = 1;
}

/* Turn a clean load into a set; steals ld->files. */
static struct migrate_set *
migrate_load_set(struct migrate_load *ld, char *name)
{
	struct migrate_set	*set;
	struct migrate_step	*s;
	struct migrate_file	*f;
	size_t			 i;

	if ((set = calloc(1, sizeof *set)) == NULL)
		return (NULL);
	if ((set->steps = calloc((size_t)ld->latest, sizeof *set->steps)) ==
	    NULL) {
		free(set);
		return (NULL);
	}
	set->name = name;
	set->latest = ld->latest;
	set->page_size = ld->page_size;
	for (i = 0; i < ld->nfiles; i++) {
		f = &ld->files[i];
		s = &set->steps[f->version - 1];
		if (f->down) {
			s->down_sql = f->sql;
			s->down_file = f->fname;
			continue;
		}
		s->version = f->version;
		s->name = f->stem;
		s->file = f->fname;
		s->up_sql = f->sql;
		s->checksum = f->checksum;
	}
	set->files = ld->files;
	set->nfiles = ld->nfiles;
	ld->files = NULL;
	ld->nfiles = 0;
	return (set);
}

int
migrate_set_load(const char *dir, struct migrate_set **setp,
    struct migrate_problems *probs)
{
	struct migrate_load	 ld;
	char			*name = NULL;
	size_t			 i;
	int			 rc;

	memset(&ld, 0, sizeof ld);
	if (probs != NULL) {
		probs->count = 0;
		probs->items = NULL;
	}
	if (setp != NULL)
		*setp = NULL;
	if (dir == NULL || setp == NULL) {
		migrate_problem(&ld, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_set_load needs a folder and a place for the set");
		goto out;
	}
	ld.dir = dir;
	migrate_load_name(&ld, &name);
	migrate_load_dir(&ld);
	if (!ld.nomem)
		migrate_load_structure(&ld);
	if (!ld.nomem && ld.nfiles > 0)
		migrate_load_sql(&ld);
	if (ld.probs.count == 0 && !ld.nomem) {
		if ((*setp = migrate_load_set(&ld, name)) == NULL)
			ld.nomem = 1;
		else
			name = NULL;
	}
out:
	if (ld.nomem) {
		/* Out of memory: keep what was found, but say so first. */
		migrate_problems_free(&ld.probs);
		ld.probs.items = calloc(1, sizeof *ld.probs.items);
		if (ld.probs.items != NULL) {
			ld.probs.count = 1;
			migrate_seterr(ld.probs.items, MIGRATE_ENOMEM, NULL, 0,
			    0, NULL, 0, "out of memory loading set %s",
			    dir != NULL ? dir : "(null)");
		}
		rc = MIGRATE_ENOMEM;
	} else if (ld.probs.count > 0)
		rc = ld.probs.items[0].code;
	else
		rc = MIGRATE_OK;
	for (i = 0; i < ld.nfiles; i++)
		migrate_file_free(&ld.files[i]);
	free(ld.files);
	free(name);
	if (probs != NULL)
		*probs = ld.probs;
	else
		migrate_problems_free(&ld.probs);
	return (rc);
}

void
migrate_set_free(struct migrate_set *set)
{
	size_t	i;

	if (set == NULL)
		return;
	for (i = 0; i < set->nfiles; i++)
		migrate_file_free(&set->files[i]);
	free(set->files);
	free(set->steps);
	free(set->name);
	free(set);
}

void
migrate_problems_free(struct migrate_problems *probs)
{
	if (probs == NULL)
		return;
	free(probs->items);
	probs->items = NULL;
	probs->count = 0;
}

const char *
migrate_set_name(const struct migrate_set *set)
{
	return (set != NULL ? set->name : NULL);
}

int
migrate_set_latest(const struct migrate_set *set)
{
	return (set != NULL ? set->latest : 0);
}

int
migrate_set_page_size(const struct migrate_set *set)
{
	return (set != NULL ? set->page_size : 0);
}

const struct migrate_step *
migrate_set_step(const struct migrate_set *set, int v)
{
	if (set == NULL || v < 1 || v > set->latest)
		return (NULL);
	return (&set->steps[v - 1]);
}

/* --- database state ------------------------------------------------------ */

/* An SQLite failure while reading state: a damaged file is EDB. */
static int
migrate_db_fail(sqlite3 *db, int rc, const char *what,
    struct migrate_error *err)
{
	int	code = MIGRATE_ESQL;

	if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
		code = MIGRATE_EDB;
	else if (rc == SQLITE_NOMEM)
		code = MIGRATE_ENOMEM;
	return (migrate_seterr(err, code, NULL, 0, 0, NULL, 0,
	    "reading %s failed: %s", what, sqlite3_errmsg(db)));
}

/* Run one internal statement with no result. */
static int
migrate_sql(sqlite3 *db, const char *sql, struct migrate_error *err)
{
	int	rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return (migrate_seterr(err, rc == SQLITE_NOMEM ?
		    MIGRATE_ENOMEM : MIGRATE_ESQL, NULL, 0, 0, sql, strlen(sql),
		    "%s failed: %s", sql, sqlite3_errmsg(db)));
	return (MIGRATE_OK);
}

/* Run a query returning one row of integers into out[0..n). */
static int
migrate_query_ints(sqlite3 *db, const char *sql, const char *what,
    sqlite3_int64 *out, int n, struct migrate_error *err)
{
	sqlite3_stmt	*stmt = NULL;
	int		 rc, i;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
		goto fail;
	for (i = 0; i < n; i++)
		out[i] = sqlite3_column_int64(stmt, i);
	sqlite3_finalize(stmt);
	return (MIGRATE_OK);

fail:
	rc = migrate_db_fail(db, rc, what, err);
	sqlite3_finalize(stmt);
	return (rc);
}

/* Start a read transaction if db has none; *beganp says if we did. */
static int
migrate_read_begin(sqlite3 *db, int *beganp, struct migrate_error *err)
{
	int	rc;

	*beganp = 0;
	if (!sqlite3_get_autocommit(db))
		return (MIGRATE_OK);
	if ((rc = migrate_sql(db, "BEGIN", err)) != MIGRATE_OK)
		return (rc);
	*beganp = 1;
	return (MIGRATE_OK);
}

static void
migrate_read_end(sqlite3 *db, int began)
{
	if (began && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

static int
migrate_table_exists(sqlite3 *db, int *existsp, struct migrate_error *err)
{
	sqlite3_int64	n;
	int		rc;

	rc = migrate_query_ints(db, "SELECT count(*) FROM main.sqlite_master"
	    " WHERE type = 'table' AND name = '" MIGRATE_TABLE "'",
	    "the schema", &n, 1, err);
	*existsp = n > 0;
	return (rc);
}

/* migrate_db_version without a transaction of its own. */
static int
migrate_version_read(sqlite3 *db, int *versionp, struct migrate_error *err)
{
	sqlite3_int64	uv, r[3];
	int		exists, rc;

	*versionp = -1;
	if ((rc = migrate_query_ints(db, "PRAGMA main.user_version",
	    "PRAGMA user_version", &uv, 1, err)) != MIGRATE_OK)
		return (rc);
	if (uv < 0)
		return (migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0, NULL, 0,
		    "the database has PRAGMA user_version %lld, which no"
		    " migration sets", (long long)uv));
	if ((rc = migrate_table_exists(db, &exists, err)) != MIGRATE_OK)
		return (rc);
	if (!exists) {
		if (uv != 0)
			return (migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0,
			    NULL, 0, "the database has PRAGMA user_version %lld"
			    " but no " MIGRATE_TABLE " table, so it was not"
			    " migrated by tenantd", (long long)uv));
		*versionp = 0;
		return (MIGRATE_OK);
	}
	if ((rc = migrate_query_ints(db, "SELECT count(*),"
	    " coalesce(min(version), 0), coalesce(max(version), 0)"
	    " FROM main." MIGRATE_TABLE, "table " MIGRATE_TABLE, r, 3, err)) !=
	    MIGRATE_OK)
		return (rc);
	if (r[2] != uv)
		return (migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0, NULL, 0,
		    "the database has PRAGMA user_version %lld but its"
		    " " MIGRATE_TABLE " records end at version %lld",
		    (long long)uv, (long long)r[2]));
	if (r[0] != r[2] || (r[0] > 0 && r[1] != 1))
		return (migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0, NULL, 0,
		    "the database's " MIGRATE_TABLE " table has %lld records"
		    " for versions %lld to %lld, not one for each version from"
		    " 1", (long long)r[0], (long long)r[1], (long long)r[2]));
	*versionp = (int)uv;
	return (MIGRATE_OK);
}

int
migrate_db_version(sqlite3 *db, int *versionp, struct migrate_error *err)
{
	int	began, rc, v = -1;

	migrate_clearerr(err);
	if (db == NULL)
		return (migrate_seterr(err, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_db_version needs a database"));
	if ((rc = migrate_read_begin(db, &began, err)) == MIGRATE_OK)
		rc = migrate_version_read(db, &v, err);
	migrate_read_end(db, began);
	if (versionp != NULL)
		*versionp = v;
	return (rc);
}

static void
migrate_copy_text(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src != NULL ? (const char *)src : "");
}

/* migrate_db_records without a transaction of its own. */
static int
migrate_records_read(sqlite3 *db, struct migrate_record **recsp,
    size_t *np, struct migrate_error *err)
{
	struct migrate_record	*recs = NULL, *r;
	sqlite3_stmt		*stmt = NULL;
	sqlite3_int64		 v;
	size_t			 n = 0;
	int			 exists, rc;

	*recsp = NULL;
	*np = 0;
	if ((rc = migrate_table_exists(db, &exists, err)) != MIGRATE_OK)
		return (rc);
	if (!exists)
		return (MIGRATE_OK);
	rc = sqlite3_prepare_v2(db, "SELECT version, name, checksum,"
	    " applied_at, duration_ms FROM main." MIGRATE_TABLE
	    " ORDER BY version", -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = migrate_db_fail(db, rc, "table " MIGRATE_TABLE, err);
		goto fail;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		v = sqlite3_column_int64(stmt, 0);
		if (v < 1 || v > INT_MAX) {
			rc = migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0, NULL,
			    0, "table " MIGRATE_TABLE " has a record for"
			    " version %lld, which is not a version",
			    (long long)v);
			goto fail;
		}
		if ((n & (n - 1)) == 0) {
			r = reallocarray(recs, n == 0 ? 1 : n * 2, sizeof *r);
			if (r == NULL) {
				rc = migrate_seterr(err, MIGRATE_ENOMEM, NULL,
				    0, 0, NULL, 0, "out of memory reading"
				    " table " MIGRATE_TABLE);
				goto fail;
			}
			recs = r;
		}
		r = &recs[n++];
		memset(r, 0, sizeof *r);
		r->version = (int)v;
		migrate_copy_text(r->name, sizeof r->name,
		    sqlite3_column_text(stmt, 1));
		migrate_copy_text(r->checksum, sizeof r->checksum,
		    sqlite3_column_text(stmt, 2));
		migrate_copy_text(r->applied_at, sizeof r->applied_at,
		    sqlite3_column_text(stmt, 3));
		r->duration_ms = sqlite3_column_double(stmt, 4);
	}
	if (rc != SQLITE_DONE) {
		rc = migrate_db_fail(db, rc, "table " MIGRATE_TABLE, err);
		goto fail;
	}
	sqlite3_finalize(stmt);
	*recsp = recs;
	*np = n;
	return (MIGRATE_OK);

fail:
	sqlite3_finalize(stmt);
	free(recs);
	return (rc);
}

int
migrate_db_records(sqlite3 *db, struct migrate_record **recsp, size_t *np,
    struct migrate_error *err)
{
	int	began, rc;

	migrate_clearerr(err);
	if (db == NULL || recsp == NULL || np == NULL)
		return (migrate_seterr(err, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_db_records needs a database and places for the"
		    " records"));
	*recsp = NULL;
	*np = 0;
	if ((rc = migrate_read_begin(db, &began, err)) == MIGRATE_OK)
		rc = migrate_records_read(db, recsp, np, err);
	migrate_read_end(db, began);
	return (rc);
}

/* migrate_verify without a transaction of its own; *curp is the version. */
static int
migrate_verify_read(sqlite3 *db, const struct migrate_set *set, int *curp,
    struct migrate_error *err)
{
	struct migrate_record		*recs = NULL;
	const struct migrate_step	*s;
	size_t				 n, i;
	int				 rc;

	if ((rc = migrate_version_read(db, curp, err)) != MIGRATE_OK)
		return (rc);
	if (*curp > set->latest)
		return (migrate_seterr(err, MIGRATE_EDB, NULL, *curp, 0, NULL,
		    0, "the database is at version %d but schema %s only goes"
		    " up to version %d", *curp, set->name, set->latest));
	if ((rc = migrate_records_read(db, &recs, &n, err)) != MIGRATE_OK)
		return (rc);
	for (i = 0; i < n; i++) {
		s = &set->steps[recs[i].version - 1];
		if (strcmp(recs[i].name, s->name) != 0) {
			rc = migrate_seterr(err, MIGRATE_ECHECKSUM, s->file,
			    s->version, 0, NULL, 0, "version %d was applied as"
			    " %s but the set now has %s in its place",
			    s->version, recs[i].name, s->file);
			break;
		}
		if (strcmp(recs[i].checksum, s->checksum) != 0) {
			rc = migrate_seterr(err, MIGRATE_ECHECKSUM, s->file,
			    s->version, 0, NULL, 0, "%s was edited after it was"
			    " applied (checksum in database %s, file now %s)",
			    s->file, recs[i].checksum, s->checksum);
			break;
		}
	}
	free(recs);
	return (rc);
}

int
migrate_verify(sqlite3 *db, const struct migrate_set *set,
    struct migrate_error *err)
{
	int	began, cur, rc;

	migrate_clearerr(err);
	if (db == NULL || set == NULL)
		return (migrate_seterr(err, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_verify needs a database and a set"));
	if ((rc = migrate_read_begin(db, &began, err)) == MIGRATE_OK)
		rc = migrate_verify_read(db, set, &cur, err);
	migrate_read_end(db, began);
	return (rc);
}

/* --- applying ------------------------------------------------------------ */

static double
migrate_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return (0);
	return ((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

/* Write or delete the record of step s and set user_version. */
static int
migrate_step_record(sqlite3 *db, const struct migrate_step *s, int up,
    double ms, struct migrate_error *err)
{
	sqlite3_stmt	*stmt = NULL;
	char		 sql[64];
	int		 rc;

	if (up)
		rc = sqlite3_prepare_v2(db, "INSERT INTO main." MIGRATE_TABLE
		    " (version, name, checksum, applied_at, duration_ms)"
		    " VALUES (?1, ?2, ?3,"
		    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?4)", -1, &stmt,
		    NULL);
	else
		rc = sqlite3_prepare_v2(db, "DELETE FROM main." MIGRATE_TABLE
		    " WHERE version = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_bind_int(stmt, 1, s->version)) != SQLITE_OK)
		goto fail;
	if (up &&
	    ((rc = sqlite3_bind_text(stmt, 2, s->name, -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 3, s->checksum, -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_double(stmt, 4, ms)) != SQLITE_OK))
		goto fail;
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (!up && sqlite3_changes(db) != 1)
		return (migrate_seterr(err, MIGRATE_EDB, s->file, s->version,
		    0, NULL, 0, "the record of version %d vanished from table "
		    MIGRATE_TABLE " while going down", s->version));
	snprintf(sql, sizeof sql, "PRAGMA main.user_version = %d",
	    up ? s->version : s->version - 1);
	return (migrate_sql(db, sql, err));

fail:
	rc = migrate_seterr(err, rc == SQLITE_NOMEM ? MIGRATE_ENOMEM :
	    MIGRATE_ESQL, s->file, s->version, 0, NULL, 0, "recording version"
	    " %d in table " MIGRATE_TABLE " failed: %s", s->version,
	    sqlite3_errmsg(db));
	sqlite3_finalize(stmt);
	return (rc);
}

/*
 * One step inside the caller's transaction: check the database is still at
 * from, run the file, write the record and user_version.
 */
static int
migrate_step_run(sqlite3 *db, const struct migrate_step *s, int up, int from,
    struct migrate_error *err)
{
	sqlite3_int64	 uv;
	double		 t0;
	int		 rc;

	if ((rc = migrate_query_ints(db, "PRAGMA main.user_version",
	    "PRAGMA user_version", &uv, 1, err)) != MIGRATE_OK)
		return (rc);
	if (uv != from)
		return (migrate_seterr(err, MIGRATE_EDB, NULL, 0, 0, NULL, 0,
		    "the database moved from version %d to %lld while being"
		    " migrated (by another connection?)", from, (long long)uv));
	if (up && (rc = migrate_sql(db, MIGRATE_CREATE_TABLE, err)) !=
	    MIGRATE_OK)
		return (rc);
	if (!up && s->down_sql == NULL)	/* migrate_apply checked already */
		return (migrate_seterr(err, MIGRATE_ENODOWN, s->file,
		    s->version, 0, NULL, 0, "%s has no down file %s.down.sql",
		    s->file, s->name));
	t0 = migrate_now_ms();
	if (up)
		rc = migrate_exec_file(db, s->file, s->version, s->up_sql, err);
	else
		rc = migrate_exec_file(db, s->down_file, s->version,
		    s->down_sql, err);
	if (rc != MIGRATE_OK)
		return (rc);
	return (migrate_step_record(db, s, up, migrate_now_ms() - t0, err));
}

/* Roll back whatever transaction is open, keeping err's message. */
static void
migrate_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* With MIGRATE_DRY_RUN nothing commits: would COMMIT have refused? */
static int
migrate_dry_commit(sqlite3 *db, const struct migrate_step *s, int up,
    struct migrate_error *err)
{
	int	cur = 0, hi = 0;

	if (sqlite3_db_status(db, SQLITE_DBSTATUS_DEFERRED_FKS, &cur, &hi,
	    0) == SQLITE_OK && cur > 0)
		return (migrate_seterr(err, MIGRATE_ESQL, up ? s->file :
		    s->down_file, s->version, 0, NULL, 0, "%s: COMMIT would"
		    " fail: FOREIGN KEY constraint failed", up ? s->file :
		    s->down_file));
	return (MIGRATE_OK);
}

int
migrate_apply(sqlite3 *db, const struct migrate_set *set, int target,
    int flags, int *reachedp, struct migrate_error *err)
{
	const struct migrate_step	*s;
	int				 began, cur = -1, done, dry, up, v;
	int				 rc;

	migrate_clearerr(err);
	if (db == NULL || set == NULL || (flags & ~MIGRATE_DRY_RUN) != 0) {
		rc = migrate_seterr(err, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_apply needs a database, a set and known flags");
		goto out;
	}
	if (!sqlite3_get_autocommit(db)) {
		rc = migrate_seterr(err, MIGRATE_EINVAL, NULL, 0, 0, NULL, 0,
		    "migrate_apply needs a connection with no transaction"
		    " open");
		goto out;
	}
	if ((rc = migrate_read_begin(db, &began, err)) == MIGRATE_OK)
		rc = migrate_verify_read(db, set, &cur, err);
	migrate_read_end(db, began);
	if (rc != MIGRATE_OK)
		goto out;
	if (target < 0 || target > set->latest) {
		rc = migrate_seterr(err, MIGRATE_ERANGE, NULL, 0, 0, NULL, 0,
		    "target version %d is out of range for schema %s (0 to"
		    " %d)", target, set->name, set->latest);
		goto out;
	}
	if (cur == target)
		goto out;
	for (v = cur; v > target; v--) {
		s = &set->steps[v - 1];
		if (s->down_sql == NULL) {
			rc = migrate_seterr(err, MIGRATE_ENODOWN, s->file, v, 0,
			    NULL, 0, "cannot go down from version %d to %d:"
			    " %s has no down file %s.down.sql", cur, target,
			    s->file, s->name);
			goto out;
		}
	}

	dry = (flags & MIGRATE_DRY_RUN) != 0;
	if (dry && (rc = migrate_sql(db, "BEGIN IMMEDIATE", err)) !=
	    MIGRATE_OK)
		goto out;
	for (done = cur; done != target; done = up ? v : v - 1) {
		up = target > done;
		v = up ? done + 1 : done;
		s = &set->steps[v - 1];
		if (!dry && (rc = migrate_sql(db, "BEGIN IMMEDIATE", err)) !=
		    MIGRATE_OK)
			break;
		rc = migrate_step_run(db, s, up, done, err);
		if (rc == MIGRATE_OK && dry)
			rc = migrate_dry_commit(db, s, up, err);
		if (rc == MIGRATE_OK && !dry &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			rc = migrate_seterr(err, MIGRATE_ESQL, up ? s->file :
			    s->down_file, v, 0, NULL, 0, "%s: COMMIT failed: %s",
			    up ? s->file : s->down_file, sqlite3_errmsg(db));
		if (rc != MIGRATE_OK) {
			migrate_rollback(db);
			break;
		}
	}
	if (dry)
		migrate_rollback(db);
	cur = done;
out:
	if (err != NULL)
		err->code = rc;
	if (reachedp != NULL)
		*reachedp = cur;
	return (rc);
}
