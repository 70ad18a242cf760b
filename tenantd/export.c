/*
 * export.c: GET /v1/tenants/{id}/export, a tenant's database as one file.
 *
 * The export runs on a worker with a connection of its own (not the
 * tenant's handle), so requests to the tenant keep flowing: in WAL mode
 * the export's read transaction does not block writers.
 *   format=sqlite (default): the backup API copies every page in one step,
 *     inside one read transaction, so the file is a consistent snapshot;
 *     the copy is switched to rollback-journal mode so it stands alone.
 *   format=sql: a text dump (dump.c) that the sqlite3 shell loads.
 * The result is written to DATA/tmp, unlinked while still open, and sent
 * from the file descriptor (sendfile), so memory does not grow with the
 * tenant's size.  DATA/tmp is emptied at start.
 *
 * A tenant whose file was never made (created, never opened) is exported
 * without making it: the export is built in DATA/tmp the way the first
 * open would make the file (the schema's steps up to the record's version)
 * and sent, or dumped for format=sql.  The record is read on the worker
 * before the file is looked for; while it says unmaterialized no client
 * can have written (the first open marks the record before any request
 * runs), so the empty database at that version is the tenant's state.
 *
 * The fast path for format=sqlite copies nothing: after a TRUNCATE
 * checkpoint empties the WAL, a read transaction taken on an empty WAL
 * holds SQLite's read lock 0, and while that lock is held no checkpoint
 * may write to the database file.  So the file itself is the snapshot:
 * it is sent straight from disk (its header patched to rollback-journal
 * mode so the copy stands alone), and the read transaction ends when the
 * last byte has left.  If the WAL is not empty (a busy writer got in
 * between), the backup-API copy above is used instead.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"
#include "dump.h"

struct export_op {
	struct job		 job;
	struct http_req		*req;
	struct schema		*s;		/* tenant's, or NULL */
	int			 sql;
	int			 fd;
	size_t			 size;
	char			 id[TID_MAX + 1];
	sqlite3			*hold;		/* direct: holds the snapshot */
	unsigned char		 head[100];	/* direct: patched header */
};

/* Try the zero-copy path on src; 0 with op->fd/size/head, or -1. */
static int
export_direct(struct export_op *op, sqlite3 *src, const char *path)
{
	sqlite3_stmt	*st;
	struct stat	 sb;
	char		 wal[1100];
	long long	 pages = -1, psz = -1;
	int		 fd = -1, nlog = -1, nckpt = -1;

	/* Reading once opens the WAL, so the checkpoint has one to empty. */
	if (sqlite3_exec(src, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL, NULL,
	    NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_wal_checkpoint_v2(src, "main", SQLITE_CHECKPOINT_TRUNCATE,
	    &nlog, &nckpt) != SQLITE_OK || nlog != 0) {
		log_debug("tenant %s: export: WAL not emptied (%s, %d frames); "
		    "copying instead", op->id, sqlite3_errmsg(src), nlog);
		return (-1);
	}
	if (sqlite3_exec(src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_prepare_v2(src, "SELECT (SELECT page_count FROM "
	    "pragma_page_count), (SELECT page_size FROM pragma_page_size)",
	    -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			pages = sqlite3_column_int64(st, 0);
			psz = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	/* The read transaction began on an empty WAL: read lock 0. */
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (pages <= 0 || psz <= 0 || (stat(wal, &sb) == 0 && sb.st_size > 0)) {
		log_debug("tenant %s: export: the WAL filled again; copying "
		    "instead", op->id);
		goto fail;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1 || sb.st_size < pages * psz ||
	    pread(fd, op->head, sizeof op->head, 0) != sizeof op->head)
		goto fail;
	op->head[18] = op->head[19] = 1;	/* rollback journal, not WAL */
	op->fd = fd;
	op->size = (size_t)(pages * psz);
	return (0);
fail:
	if (fd != -1)
		close(fd);
	sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
	return (-1);
}

static void
export_release_run(struct job *j)
{
	sqlite3_exec(j->arg, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(j->arg);
}

static void
export_release_done(struct job *j)
{
	free(j);
}

/* The direct export's bytes have left: end its read transaction. */
static void
export_release(void *arg)
{
	struct job	*j = xcalloc(1, sizeof *j);

	j->arg = arg;
	j->run = export_release_run;
	j->done = export_release_done;
	worker_push(j);
}

static int
export_write(void *arg, const char *p, size_t n)
{
	return (fwrite(p, 1, n, arg) == n ? 0 : 1);
}

/*
 * Copy the database open on src into a new standalone file at tmp (the
 * backup API in one step: one read transaction, a consistent snapshot) and
 * switch the copy to rollback-journal mode.  0, or -1 with err.  Worker.
 */
int
export_copy_db(sqlite3 *src, const char *tmp, char *err, size_t errlen)
{
	sqlite3_backup	*bk;
	sqlite3		*dst = NULL;
	int		 rc;

	rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if ((bk = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		rc = sqlite3_errcode(dst);
		goto fail;
	}
	do {
		rc = sqlite3_backup_step(bk, -1);
	} while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(bk);
	if (rc != SQLITE_DONE)
		goto fail;
	rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_close(dst)) != SQLITE_OK) {
		dst = NULL;
		goto fail;
	}
	return (0);

fail:
	snprintf(err, errlen, "export failed: %s", dst ? sqlite3_errmsg(dst) :
	    sqlite3_errstr(rc));
	if (dst != NULL)
		sqlite3_close(dst);
	return (-1);
}

static int
export_dump(sqlite3 *src, const char *tmp, char *err, size_t errlen)
{
	FILE	*f;
	int	 rc;

	if ((f = fopen(tmp, "w")) == NULL) {
		snprintf(err, errlen, "export failed: %s", strerror(errno));
		return (-1);
	}
	rc = dump_sql(src, export_write, f, err, errlen);
	if (fclose(f) != 0 && rc == SQLITE_OK) {
		snprintf(err, errlen, "export failed: %s", strerror(errno));
		return (-1);
	}
	return (rc == SQLITE_OK ? 0 : -1);
}

/* Hand the finished file tmp over as op->fd (unlinked).  Sets j. */
static void
export_send_tmp(struct export_op *op, const char *tmp)
{
	struct job	*j = &op->job;
	struct stat	 sb;

	if ((op->fd = open(tmp, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(op->fd, &sb) == -1) {
		snprintf(j->errmsg, sizeof j->errmsg, "export failed: %s",
		    strerror(errno));
		j->status = 500;
		j->errcode = "EXPORT_FAILED";
		if (op->fd != -1)
			close(op->fd);
		op->fd = -1;
	} else {
		op->size = (size_t)sb.st_size;
		j->status = 200;
	}
	unlink(tmp);
}

/*
 * Build, at made, the database an unmaterialized tenant (rec) would get on
 * its first open, standalone (rollback journal).  0, or -1 with j set.
 */
static int
export_make(struct export_op *op, const struct tenant_rec *rec,
    const char *made)
{
	struct job	*j = &op->job;

	if (rec->schema[0] != '\0' && (op->s == NULL ||
	    strcmp(op->s->name, rec->schema) != 0)) {
		j->status = 503;
		j->errcode = "UNAVAILABLE";
		snprintf(j->errmsg, sizeof j->errmsg, "schema %s is not "
		    "loaded, or the tenant changed meanwhile; try again",
		    rec->schema);
		return (-1);
	}
	if (op->s != NULL && op->s->edited[0] != '\0') {
		j->status = 409;
		j->errcode = "SCHEMA_EDITED";
		snprintf(j->errmsg, sizeof j->errmsg, "schema %s: %.400s",
		    op->s->name, op->s->edited);
		return (-1);
	}
	unlink(made);
	if (exec_create_db(made, op->s ? op->s->set : NULL, rec->version, 1,
	    j->errmsg, sizeof j->errmsg) != 0) {
		j->status = 500;
		j->errcode = "EXPORT_FAILED";
		unlink(made);
		return (-1);
	}
	return (0);
}

static void
export_run(struct job *j)
{
	struct export_op	*op = (struct export_op *)j;
	struct tenant_rec	 rec;
	sqlite3			*src = NULL;
	char			 path[1024], tmp[1100], made[1100];
	int			 rc;

	op->fd = -1;
	made[0] = '\0';
	handle_path(op->id, strlen(op->id), path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s/tmp/export-%llu.%s", cfg.data_dir,
	    (unsigned long long)j->reqid, op->sql ? "sql" : "db");
	if ((rc = catalog_get(server_catalog, op->id, strlen(op->id),
	    &rec)) != CATALOG_OK) {
		j->status = rc == CATALOG_NOTFOUND ? 404 : 500;
		j->errcode = rc == CATALOG_NOTFOUND ? "TENANT_NOT_FOUND" :
		    "EXPORT_FAILED";
		snprintf(j->errmsg, sizeof j->errmsg, "%s", rc ==
		    CATALOG_NOTFOUND ? "no such tenant" :
		    catalog_strerror(server_catalog));
		return;
	}
	if (!rec.materialized && access(path, F_OK) == -1 && errno == ENOENT) {
		snprintf(made, sizeof made, "%s/tmp/export-%llu.make.db",
		    cfg.data_dir, (unsigned long long)j->reqid);
		if (export_make(op, &rec, made) != 0)
			return;
		if (!op->sql) {
			export_send_tmp(op, made);
			return;
		}
		strlcpy_x(path, made, sizeof path);	/* dump it */
	}
	rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, TENANT_VFS);
	if (rc != SQLITE_OK) {
		j->status = 404;
		j->errcode = "TENANT_NOT_FOUND";
		snprintf(j->errmsg, sizeof j->errmsg, "the tenant's database "
		    "cannot be opened: %s", src ? sqlite3_errmsg(src) :
		    sqlite3_errstr(rc));
		goto done;
	}
	sqlite3_busy_timeout(src, cfg.busy_timeout_ms);
	if (!op->sql && export_direct(op, src, path) == 0) {
		op->hold = src;
		j->status = 200;
		return;
	}
	unlink(tmp);
	if ((op->sql ? export_dump(src, tmp, j->errmsg, sizeof j->errmsg) :
	    export_copy_db(src, tmp, j->errmsg, sizeof j->errmsg)) != 0) {
		j->status = 500;
		j->errcode = "EXPORT_FAILED";
		unlink(tmp);
		goto done;
	}
	export_send_tmp(op, tmp);
done:
	if (src != NULL)
		sqlite3_close(src);
	if (made[0] != '\0')
		unlink(made);
}

static void
export_done(struct job *j)
{
	struct export_op	*op = (struct export_op *)j;
	char			 extra[256];

	if (j->status != 200) {
		log_warnx("tenant %s: %s", op->id, j->errmsg);
		http_reply_error(op->req, j->status, j->errcode, "%s", j->errmsg);
	} else {
		snprintf(extra, sizeof extra, "Content-Disposition: attachment; "
		    "filename=\"%s.%s\"\r\n", op->id, op->sql ? "sql" : "db");
		if (op->hold != NULL)
			http_reply_file_segment(op->req, 200,
			    "application/vnd.sqlite3", op->head, sizeof op->head,
			    op->fd, sizeof op->head, op->size - sizeof op->head,
			    extra, export_release, op->hold);
		else
			http_reply_file(op->req, 200, op->sql ?
			    "application/sql; charset=utf-8" :
			    "application/vnd.sqlite3", op->fd, op->size, extra);
		log_info("tenant %s: exported %zu bytes (%s%s)", op->id,
		    op->size, op->sql ? "sql" : "sqlite", op->hold ?
		    ", straight from the file" : "");
	}
	schema_unref(op->s);
	free(op);
}

/* GET /v1/tenants/{id}/export?format=sqlite|sql; id is valid.  Loop. */
void
export_start(struct http_req *req, const char *id, size_t len, int sql)
{
	struct export_op	*op;
	struct tenant_rec	 rec;
	int			 rc;

	rc = catalog_get(server_catalog, id, len, &rec);
	if (rc != CATALOG_OK || rec.state == TENANT_CREATING ||
	    rec.state == TENANT_DELETING || cache_busy_id(id, len)) {
		if (rc == CATALOG_ERROR)
			http_reply_error(req, 500, "INTERNAL", "the catalog could "
			    "not be read");
		else
			http_reply_error(req, 404, "TENANT_NOT_FOUND", "no such "
			    "tenant: %.*s", (int)len, id);
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->req = req;
	op->sql = sql;
	if (!rec.materialized && rec.schema[0] != '\0')
		op->s = schema_get(rec.schema);	/* if it has no file */
	memcpy(op->id, id, len);
	op->job.reqid = req->id;
	op->job.run = export_run;
	op->job.done = export_done;
	worker_push(&op->job);
}

/* Create DATA/tmp and remove what an earlier run left there.  At start. */
int
export_init(void)
{
	struct dirent	*de;
	DIR		*d;
	char		 dir[1024], path[1400];

	snprintf(dir, sizeof dir, "%s/tmp", cfg.data_dir);
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		log_warn("%s", dir);
		return (-1);
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("%s", dir);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) == -1)
			log_warn("unlink %s", path);
	}
	closedir(d);
	return (0);
}
