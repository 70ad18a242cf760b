/*
 * import.c: PUT /v1/tenants/{id}/import, a SQLite file or a SQL dump.
 *
 * Every upload is untrusted.  The body arrives in DATA/tmp (http.c streams
 * it there, within --max-import); a worker builds the candidate database
 * beside it and checks it before anything changes:
 *   - a SQLite file (by its header) is opened with defensive mode and
 *     trusted_schema off; a SQL dump is run into a fresh database by a
 *     connection whose authorizer refuses ATTACH (and with it VACUUM INTO)
 *     and whose progress handler ends runaway statements;
 *   - PRAGMA integrity_check must say ok;
 *   - the schema and version are read from the migration record inside the
 *     file and checked against the set (same files, same checksums); a
 *     file without a record is accepted only for a tenant without schema;
 *   - then it is brought to the schema's latest version and put in WAL mode.
 * Only then is it moved into place with rename(2), atomically: a new
 * tenant goes through the catalog's creating state like a create; an
 * existing one (replace=true) has its handle closed and its file replaced
 * in one rename, so the old bytes stay until the new file is complete,
 * verified and migrated, and a failed import never touches them.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

#define IMPORT_SQL_SECONDS	120	/* a dump may run this long */

struct import_op {
	struct job		 job;
	struct http_req		*req;
	struct schema		*s;		/* NULL: no schema */
	int			 replace;
	int			 existed;
	int			 version;
	char			 id[TID_MAX + 1];
	char			 upload[1100];
	struct tenant_rec	 rec;
};

static int
import_authorizer(void *arg, int action, const char *a, const char *b,
    const char *dbname, const char *trigger)
{
	/* ATTACH also covers VACUUM INTO: no file but our own is touched. */
	if (action == SQLITE_ATTACH || action == SQLITE_DETACH)
		return (SQLITE_DENY);
	return (SQLITE_OK);
}

static int
import_progress(void *arg)
{
	return (time_mono_us() > *(uint64_t *)arg);
}

static void
import_fail(struct job *j, int status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
import_fail(struct job *j, int status, const char *code, const char *fmt, ...)
{
	va_list	ap;

	j->status = status;
	j->errcode = code;
	va_start(ap, fmt);
	vsnprintf(j->errmsg, sizeof j->errmsg, fmt, ap);
	va_end(ap);
}

/* Read a dump file and run it into db.  0 or -1 (j filled). */
static int
import_run_dump(struct job *j, sqlite3 *db, const char *path)
{
	struct stat	 sb;
	uint64_t	 deadline;
	char		*sql, *msg = NULL;
	int		 fd, rc;
	ssize_t		 n;
	size_t		 off = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		if (fd != -1)
			close(fd);
		import_fail(j, 500, "IMPORT_FAILED", "cannot read the upload: %s",
		    strerror(errno));
		return (-1);
	}
	sql = xmalloc((size_t)sb.st_size + 1);
	while (off < (size_t)sb.st_size &&
	    (n = read(fd, sql + off, (size_t)sb.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	sql[off] = '\0';
	if (strlen(sql) != off) {
		free(sql);
		import_fail(j, 400, "IMPORT_INVALID", "the upload is neither a "
		    "SQLite database nor SQL text (it holds NUL bytes)");
		return (-1);
	}
	deadline = time_mono_us() + (uint64_t)IMPORT_SQL_SECONDS * 1000000;
	sqlite3_progress_handler(db, 10000, import_progress, &deadline);
	sqlite3_set_authorizer(db, import_authorizer, NULL);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	sqlite3_set_authorizer(db, NULL, NULL);
	sqlite3_progress_handler(db, 0, NULL, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		import_fail(j, 400, "IMPORT_INVALID", "the SQL dump does not run: "
		    "%s", rc == SQLITE_INTERRUPT ? "it ran too long" :
		    msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return (-1);
	}
	if (!sqlite3_get_autocommit(db)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		import_fail(j, 400, "IMPORT_INVALID", "the SQL dump leaves a "
		    "transaction open (no COMMIT at the end?)");
		return (-1);
	}
	return (0);
}

/* The candidate passes integrity_check and its record fits the schema. */
static int
import_check(struct job *j, struct import_op *op, sqlite3 *db)
{
	struct migrate_error	 err;
	sqlite3_stmt		*st = NULL;
	const char		*res;
	int			 rc, version = 0, latest;

	rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    (res = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(res, "ok") != 0) {
		import_fail(j, 400, "IMPORT_INVALID", "the database fails "
		    "PRAGMA integrity_check: %s", rc != SQLITE_OK ?
		    sqlite3_errmsg(db) : (st && sqlite3_column_text(st, 0)) ?
		    (const char *)sqlite3_column_text(st, 0) :
		    sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return (-1);
	}
	sqlite3_finalize(st);
	memset(&err, 0, sizeof err);
	if (migrate_db_version(db, &version, &err) != MIGRATE_OK) {
		import_fail(j, 400, "IMPORT_INVALID", "the migration record "
		    "inside the file is not usable: %s", err.message);
		return (-1);
	}
	if (op->s == NULL) {
		if (version != 0) {
			import_fail(j, 400, "IMPORT_WRONG_SCHEMA", "the file was "
			    "made by a schema (it is at version %d); say which "
			    "with ?schema=NAME", version);
			return (-1);
		}
		op->version = 0;
		return (0);
	}
	latest = migrate_set_latest(op->s->set);
	if (version > latest) {
		import_fail(j, 400, "IMPORT_WRONG_SCHEMA", "the file is at "
		    "version %d, newer than schema %s (latest %d)", version,
		    op->s->name, latest);
		return (-1);
	}
	if (migrate_verify(db, op->s->set, &err) != MIGRATE_OK) {
		import_fail(j, 400, "IMPORT_WRONG_SCHEMA", "the file does not "
		    "match schema %s: %s", op->s->name, err.message);
		return (-1);
	}
	if (version == 0) {
		/* A database with tables but no record is not this schema's. */
		rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema",
		    -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_int(st, 0) > 0) {
			sqlite3_finalize(st);
			import_fail(j, 400, "IMPORT_WRONG_SCHEMA", "the file has "
			    "tables but no migration record of schema %s",
			    op->s->name);
			return (-1);
		}
		sqlite3_finalize(st);
	}
	memset(&err, 0, sizeof err);
	rc = migrate_apply(db, op->s->set, latest, 0, &op->version, &err);
	if (rc != MIGRATE_OK) {
		import_fail(j, 400, "IMPORT_MIGRATION_FAILED", "bringing the file "
		    "to version %d failed: %s", latest, err.message);
		return (-1);
	}
	return (0);
}

static void
import_run(struct job *j)
{
	struct import_op	*op = (struct import_op *)j;
	struct catalog		*c = server_catalog;
	sqlite3			*db = NULL;
	char			 head[16], tmp[1100], path[1024];
	int			 fd, rc, is_db = 0;
	ssize_t			 n;

	handle_path(op->id, strlen(op->id), path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s/tmp/import-%llu.db", cfg.data_dir,
	    (unsigned long long)j->reqid);
	if ((fd = open(op->upload, O_RDONLY | O_CLOEXEC)) == -1) {
		import_fail(j, 500, "IMPORT_FAILED", "the upload is gone: %s",
		    strerror(errno));
		return;
	}
	n = read(fd, head, sizeof head);
	close(fd);
	if (n <= 0) {
		import_fail(j, 400, "IMPORT_INVALID", "the upload is empty");
		return;
	}
	is_db = n == 16 && memcmp(head, "SQLite format 3", 16) == 0;
	unlink(tmp);
	if (is_db) {
		if (rename(op->upload, tmp) == -1) {
			import_fail(j, 500, "IMPORT_FAILED", "cannot stage the "
			    "upload: %s", strerror(errno));
			return;
		}
	}
	rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE |
	    (is_db ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto sqlfail;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	if (is_db) {
		/* An untrusted schema: nothing in it may run with privileges
		 * until it has been checked. */
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
		sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
		/* A file in WAL mode arrives without its WAL: leave WAL
		 * mode so nothing is looked for beside it. */
		if ((rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL,
		    NULL, NULL)) != SQLITE_OK)
			goto sqlfail;
	} else if (import_run_dump(j, db, op->upload) != 0)
		goto out;
	if (import_check(j, op, db) != 0)
		goto out;
	if ((rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
	    NULL)) != SQLITE_OK)
		goto sqlfail;
	rc = sqlite3_close(db);
	db = NULL;
	if (rc != SQLITE_OK || fsync_path(tmp, 0) == -1) {
		import_fail(j, 500, "IMPORT_FAILED", "cannot finish the new file");
		goto out;
	}

	/* Checked: now put it in place. */
	op->rec.updated = (int64_t)time_now_ms();
	op->rec.version = op->version;
	op->rec.last_error[0] = '\0';
	op->rec.materialized = 1;	/* the file is there from now on */
	strlcpy_x(op->rec.schema, op->s ? op->s->name : "",
	    sizeof op->rec.schema);
	if (!op->existed) {
		memcpy(op->rec.id, op->id, sizeof op->rec.id);
		op->rec.created = op->rec.updated;
		op->rec.state = TENANT_CREATING;
		if ((rc = catalog_put(c, &op->rec, CATALOG_NOOVERWRITE)) !=
		    CATALOG_OK) {
			import_fail(j, rc == CATALOG_EXISTS ? 409 : 500,
			    rc == CATALOG_EXISTS ? "TENANT_EXISTS" :
			    "IMPORT_FAILED", "%s", rc == CATALOG_EXISTS ?
			    "the tenant exists" : catalog_strerror(c));
			goto out;
		}
	} else if (j->h != NULL)
		handle_close_clean(j->h);	/* the old file complete */
	else {
		/* Not open here, but a crash may have left committed frames
		 * in its WAL: fold them into the old file first. */
		sqlite3	*old = NULL;

		if (sqlite3_open_v2(path, &old, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_NOMUTEX, TENANT_VFS) == SQLITE_OK)
			sqlite3_exec(old, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
			    NULL, NULL);
		sqlite3_close(old);
	}
	/* The old file's -wal and -shm go before the new file arrives: a
	 * WAL left beside a different database would be replayed into it. */
	durable_forget(path);	/* the old WAL's logged writes end here */
	{
		char	p2[1100];

		snprintf(p2, sizeof p2, "%s-wal", path);
		if (unlink(p2) == -1 && errno != ENOENT)
			log_warn("%s", p2);
		snprintf(p2, sizeof p2, "%s-shm", path);
		if (unlink(p2) == -1 && errno != ENOENT)
			log_warn("%s", p2);
	}
	/* A new tenant, or one never opened, may be first in its shard. */
	/* Create the shard folder if needed, durably. */
	if (mkdir_parent(path, 0750) == -1)
		log_warn("the folder of %s", path);
	crash_point("import-before-rename");
	if (rename(tmp, path) == -1) {
		import_fail(j, 500, "IMPORT_FAILED", "cannot move the new file "
		    "into place: %s", strerror(errno));
		if (!op->existed)
			catalog_del(c, op->id);
		goto out;
	}
	{
		char	d2[1100];

		strlcpy_x(d2, path, sizeof d2);
		*strrchr(d2, '/') = '\0';
		fsync_path(d2, 1);
	}
	op->rec.state = TENANT_ACTIVE;
	if (catalog_put(c, &op->rec, 0) != CATALOG_OK)
		log_warnx("%s", catalog_strerror(c));
	if (op->s != NULL)
		schema_applied(op->s, op->version);
	if (j->h != NULL)
		j->h->version = op->version;
	j->status = op->existed ? 200 : 201;
	return;

sqlfail:
	import_fail(j, 400, "IMPORT_INVALID", "not a usable SQLite database: %s",
	    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
out:
	if (db != NULL)
		sqlite3_close(db);
	unlink(tmp);
}

static void
import_done(struct job *j)
{
	struct import_op	*op = (struct import_op *)j;
	json_t			*obj;

	cache_busy_del(op->id, strlen(op->id));
	if (j->errcode != NULL) {
		log_warnx("tenant %s: import refused: %s", op->id, j->errmsg);
		http_reply_error(op->req, j->status, j->errcode, "%s", j->errmsg);
	} else {
		log_info("tenant %s: imported (%s, schema %s, version %d)",
		    op->id, op->existed ? "replaced" : "new",
		    op->rec.schema[0] ? op->rec.schema : "none", op->version);
		/* The handle was opened under the old file's settings. */
		if (j->h != NULL && j->h->in_table)
			cache_detach(op->id, strlen(op->id));
		obj = json_object();
		tenant_rec_json(&op->rec, obj);
		http_reply_json(op->req, j->status, obj);
	}
	schema_unref(op->s);
	free(op);
}

/*
 * PUT /v1/tenants/{id}/import[?replace=true][&schema=S]: id is valid, the
 * body is in req->body_path.  Loop.
 */
void
import_start(struct http_req *req, const char *id, size_t len, int replace,
    const char *schema)
{
	struct import_op	*op;
	struct tenant_rec	 rec;
	struct handle		*h;
	int			 rc;

	if (req->body_path == NULL || req->body_len == 0) {
		http_reply_error(req, 400, "IMPORT_INVALID", "send the SQLite "
		    "file or SQL dump as the request body");
		return;
	}
	rc = catalog_get(server_catalog, id, len, &rec);
	if (rc == CATALOG_ERROR) {
		http_reply_error(req, 500, "INTERNAL", "the catalog could not be "
		    "read");
		return;
	}
	if (cache_busy_id(id, len) || (rc == CATALOG_OK &&
	    rec.state != TENANT_ACTIVE && rec.state != TENANT_FAILED)) {
		http_reply_error(req, 409, "TENANT_BUSY", "tenant %.*s is being "
		    "created, deleted or imported", (int)len, id);
		return;
	}
	if (rc == CATALOG_OK && !replace) {
		http_reply_error(req, 409, "TENANT_EXISTS", "tenant %.*s exists; "
		    "add ?replace=true to replace its data", (int)len, id);
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->req = req;
	op->replace = replace;
	op->existed = rc == CATALOG_OK;
	if (op->existed)
		op->rec = rec;
	memcpy(op->id, id, len);
	if (schema == NULL)
		schema = op->existed ? rec.schema : cfg.default_schema ?
		    cfg.default_schema : "";
	if (*schema != '\0' && (op->s = schema_get(schema)) == NULL) {
		free(op);
		http_reply_error(req, 404, "SCHEMA_NOT_FOUND", "there is no "
		    "schema named \"%s\"", schema);
		return;
	}
	if (op->s != NULL && op->s->edited[0] != '\0') {
		http_reply_error(req, 409, "SCHEMA_EDITED", "schema %s: %s",
		    op->s->name, op->s->edited);
		schema_unref(op->s);
		free(op);
		return;
	}
	strlcpy_x(op->upload, req->body_path, sizeof op->upload);
	op->job.reqid = req->id;
	op->job.run = import_run;
	op->job.done = import_done;
	memcpy(op->job.tid, id, len);
	op->job.tidlen = len;
	cache_busy_add(id, len);
	if ((h = cache_find(id, len)) != NULL) {
		/* After the requests already queued; even past a stream's
		 * open transaction, which the close rolls back. */
		op->job.force = 1;
		cache_submit(h, &op->job);
	} else
		worker_push(&op->job);
}
