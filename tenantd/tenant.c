/*
 * tenant.c: creating and deleting tenants, crash-safe.
 *
 * The catalog record is written before the file exists and removed after
 * the file is gone, with the state in between recorded:
 *   create: put(creating) -> create file, migrate, close -> fsync dir ->
 *           put(active)                                   -> 201
 *   delete: put(deleting) -> close handle -> unlink files -> fsync dir ->
 *           del                                           -> 200
 * Records in state creating or deleting sit in the catalog's pending
 * index; at start tenant_recover() removes their files and entries (a
 * create that was never acknowledged is undone, a delete is finished), so
 * after a kill -9 at any point catalog and files agree.
 *
 * The loop validates and queues; the steps above run on a worker.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

/*
 * Crash points for the crash-safety tests: TENANTD_CRASH_AT=NAME[:N] makes
 * the daemon exit at once (as kill -9 would, nothing flushed) the Nth time
 * (default the first) it reaches the step called NAME.  Any thread.
 */
void
crash_point(const char *name)
{
	static const char	*at;
	static size_t		 namelen;
	static long		 after = 1;
	static _Atomic long	 hits;
	static int		 checked;
	const char		*colon;

	if (!checked) {
		if ((at = getenv("TENANTD_CRASH_AT")) != NULL) {
			colon = strchr(at, ':');
			namelen = colon ? (size_t)(colon - at) : strlen(at);
			if (colon != NULL)
				after = strtol(colon + 1, NULL, 10);
		}
		checked = 1;
	}
	if (at == NULL || strlen(name) != namelen ||
	    strncmp(at, name, namelen) != 0)
		return;
	if (++hits >= after) {
		log_warnx("crash point %s reached: exiting as if killed", name);
		_exit(137);
	}
}

struct tenant_op {
	struct job		 job;
	struct http_req		*req;
	struct schema		*schema;
	struct tenant_rec	 rec;
};

static int
fsync_dir_of(const char *path)
{
	char	dir[1024], *slash;
	int	fd, rc;

	strlcpy_x(dir, path, sizeof dir);
	if ((slash = strrchr(dir, '/')) == NULL)
		return (0);
	*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	rc = fsync(fd);
	close(fd);
	return (rc);
}

/* Remove a tenant's database and its WAL, shm and journal files. */
int
tenant_rm_files(const char *path)
{
	static const char	*sfx[] = { "", "-wal", "-shm", "-journal" };
	char			 p[1100];
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (unlink(p) == -1 && errno != ENOENT) {
			log_warn("unlink %s", p);
			rc = -1;
		}
	}
	if (fsync_dir_of(path) == -1 && errno != ENOENT)
		rc = -1;
	return (rc);
}

static int
mkdir_shard(const char *path)
{
	char	dir[1024], *slash;

	strlcpy_x(dir, path, sizeof dir);
	if ((slash = strrchr(dir, '/')) == NULL)
		return (0);
	*slash = '\0';
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

/* Finish or undo every create/delete a crash interrupted.  At start. */
int
tenant_recover(struct catalog *c)
{
	struct tenant_rec	*recs;
	size_t			 n, i;
	char			 path[1024];

	if (catalog_pending(c, &recs, &n) != CATALOG_OK) {
		log_warnx("%s", catalog_strerror(c));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		handle_path(recs[i].id, strlen(recs[i].id), path, sizeof path);
		log_info("tenant %s: recovering an interrupted %s", recs[i].id,
		    recs[i].state == TENANT_CREATING ? "create" : "delete");
		if (tenant_rm_files(path) != 0 ||
		    catalog_del(c, recs[i].id) == CATALOG_ERROR) {
			log_warnx("tenant %s: recovery failed", recs[i].id);
			free(recs);
			return (-1);
		}
	}
	free(recs);
	return (0);
}

/*
 * Migrate on open: a tenant behind its schema's latest version is brought
 * forward before its first request runs (requests for it wait in the
 * handle's queue meanwhile).  A failing step leaves the tenant at its last
 * good version, serving, with the error in the catalog.  Worker, on the
 * handle's job.
 */
void
tenant_migrate_on_open(struct handle *h)
{
	struct migrate_error	 err;
	struct tenant_rec	 rec;
	int			 rc, reached = -1;

	if (h->set == NULL || h->version >= migrate_set_latest(h->set->set))
		return;
	if (h->set->edited[0] != '\0') {
		log_warnx("tenant %s: not migrated on open: %s", h->le.key,
		    h->set->edited);
		return;
	}
	memset(&err, 0, sizeof err);
	rc = exec_migrate(h, &reached, &err);
	if (catalog_get(server_catalog, h->le.key, h->le.keylen, &rec) !=
	    CATALOG_OK)
		return;
	if (reached >= 0)
		rec.version = reached;
	if (rc == MIGRATE_OK) {
		schema_applied(h->set, reached);
		log_info("tenant %s: migrated %s from version %d to %d on open",
		    h->le.key, h->schema, h->version, reached);
		rec.last_error[0] = '\0';
	} else {
		log_warnx("tenant %s: migration on open stopped at version %d: "
		    "%s", h->le.key, reached, err.message);
		snprintf(rec.last_error, sizeof rec.last_error, "migration to "
		    "version %d failed: %.400s", migrate_set_latest(h->set->set),
		    err.message);
	}
	rec.updated = (int64_t)time_now_ms();
	if (catalog_put(server_catalog, &rec, 0) != CATALOG_OK)
		log_warnx("%s", catalog_strerror(server_catalog));
	if (reached >= 0)
		h->version = reached;
}

/* Fill obj with the public fields of r. */
void
tenant_rec_json(const struct tenant_rec *r, json_t *obj)
{
	char	ts[40];

	json_object_set_new(obj, "id", json_string(r->id));
	json_object_set_new(obj, "schema", r->schema[0] ?
	    json_string(r->schema) : json_null());
	json_object_set_new(obj, "version", json_integer(r->version));
	json_object_set_new(obj, "state",
	    json_string(catalog_state_name(r->state)));
	time_format_iso(r->created, ts, sizeof ts);
	json_object_set_new(obj, "created", json_string(ts));
	time_format_iso(r->updated, ts, sizeof ts);
	json_object_set_new(obj, "updated", json_string(ts));
	json_object_set_new(obj, "last_error", r->last_error[0] ?
	    json_string(r->last_error) : json_null());
}

static void
op_reply(struct tenant_op *op)
{
	struct job	*j = &op->job;
	json_t		*obj;

	if (j->errcode != NULL)
		http_reply_error(op->req, j->status, j->errcode, "%s",
		    j->errmsg);
	else if (j->status == 201) {
		obj = json_object();
		tenant_rec_json(&op->rec, obj);
		http_reply_json(op->req, 201, obj);
	} else {
		obj = json_pack("{s:s,s:b}", "id", op->rec.id, "deleted", 1);
		http_reply_json(op->req, 200, obj);
	}
}

static void
create_run(struct job *j)
{
	struct tenant_op	*op = (struct tenant_op *)j;
	struct catalog		*c = server_catalog;
	char			 path[1024];
	int			 rc, version = 0;

	op->rec.state = TENANT_CREATING;
	op->rec.created = op->rec.updated = (int64_t)time_now_ms();
	rc = catalog_put(c, &op->rec, CATALOG_NOOVERWRITE);
	if (rc == CATALOG_EXISTS) {
		j->status = 409;
		j->errcode = "TENANT_EXISTS";
		snprintf(j->errmsg, sizeof j->errmsg, "tenant %s already exists",
		    op->rec.id);
		return;
	}
	if (rc != CATALOG_OK) {
		j->status = 500;
		j->errcode = "CREATE_FAILED";
		strlcpy_x(j->errmsg, catalog_strerror(c), sizeof j->errmsg);
		return;
	}
	crash_point("create-after-record");
	handle_path(op->rec.id, strlen(op->rec.id), path, sizeof path);
	if (mkdir_shard(path) == -1) {
		snprintf(j->errmsg, sizeof j->errmsg, "cannot create the "
		    "tenant's folder: %s", strerror(errno));
		goto fail;
	}
	tenant_rm_files(path);	/* nothing should be there; be sure */
	if (exec_create_db(path, op->schema ? op->schema->set : NULL, &version,
	    j->errmsg, sizeof j->errmsg) != 0)
		goto fail;
	if (fsync_dir_of(path) == -1) {
		snprintf(j->errmsg, sizeof j->errmsg, "fsync of the tenant's "
		    "folder failed: %s", strerror(errno));
		goto fail;
	}
	schema_applied(op->schema, version);
	crash_point("create-after-file");
	op->rec.state = TENANT_ACTIVE;
	op->rec.version = version;
	op->rec.updated = (int64_t)time_now_ms();
	if (catalog_put(c, &op->rec, 0) != CATALOG_OK) {
		strlcpy_x(j->errmsg, catalog_strerror(c), sizeof j->errmsg);
		goto fail;
	}
	j->status = 201;
	return;

fail:
	log_warnx("tenant %s: create failed: %s", op->rec.id, j->errmsg);
	tenant_rm_files(path);
	catalog_del(c, op->rec.id);
	j->status = 500;
	j->errcode = "CREATE_FAILED";
}

static void
op_done(struct job *j)
{
	struct tenant_op	*op = (struct tenant_op *)j;

	cache_busy_del(op->rec.id, strlen(op->rec.id));
	if (j->status == 201)
		log_info("tenant %s: created (schema %s, version %d)",
		    op->rec.id, op->rec.schema[0] ? op->rec.schema : "none",
		    op->rec.version);
	else if (j->status == 200)
		log_info("tenant %s: deleted", op->rec.id);
	op_reply(op);
	schema_unref(op->schema);
	free(op);
}

/*
 * POST /v1/tenants: id is valid (checked by the caller); schema_name NULL
 * means the default schema, "" means none.
 */
void
tenant_create(struct http_req *req, const char *id, size_t len,
    const char *schema_name)
{
	struct tenant_op	*op;
	struct schema		*s = NULL;
	struct tenant_rec	 rec;
	int			 rc;

	if (schema_name == NULL)
		schema_name = cfg.default_schema ? cfg.default_schema : "";
	if (*schema_name != '\0' && (s = schema_get(schema_name)) == NULL) {
		http_reply_error(req, 404, "SCHEMA_NOT_FOUND", "there is no "
		    "schema named \"%s\" (see GET /v1/schemas)", schema_name);
		return;
	}
	if (s != NULL && s->edited[0] != '\0') {
		http_reply_error(req, 409, "SCHEMA_EDITED", "schema %s: %s",
		    s->name, s->edited);
		schema_unref(s);
		return;
	}
	if (cache_busy_id(id, len)) {
		schema_unref(s);
		http_reply_error(req, 409, "TENANT_EXISTS", "tenant %.*s is "
		    "being created or deleted", (int)len, id);
		return;
	}
	rc = catalog_get(server_catalog, id, len, &rec);
	if (rc != CATALOG_NOTFOUND) {
		schema_unref(s);
		if (rc == CATALOG_OK)
			http_reply_error(req, 409, "TENANT_EXISTS", "tenant %.*s "
			    "already exists", (int)len, id);
		else
			http_reply_error(req, 500, "INTERNAL", "the catalog "
			    "could not be read");
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->req = req;
	op->schema = s;
	memcpy(op->rec.id, id, len);
	if (s != NULL)
		strlcpy_x(op->rec.schema, s->name, sizeof op->rec.schema);
	op->job.run = create_run;
	op->job.done = op_done;
	cache_busy_add(id, len);
	worker_push(&op->job);
}

static void
delete_run(struct job *j)
{
	struct tenant_op	*op = (struct tenant_op *)j;
	struct catalog		*c = server_catalog;
	char			 path[1024];

	op->rec.state = TENANT_DELETING;
	op->rec.updated = (int64_t)time_now_ms();
	if (catalog_put(c, &op->rec, 0) != CATALOG_OK)
		goto fail;
	crash_point("delete-after-record");
	if (j->h != NULL) {
		handle_close_db(j->h);
		j->h->deleted = 1;
	}
	handle_path(op->rec.id, strlen(op->rec.id), path, sizeof path);
	if (tenant_rm_files(path) != 0) {
		snprintf(j->errmsg, sizeof j->errmsg, "cannot remove the "
		    "tenant's files; the delete finishes at the next start");
		j->status = 500;
		j->errcode = "DELETE_FAILED";
		return;
	}
	crash_point("delete-after-unlink");
	if (catalog_del(c, op->rec.id) == CATALOG_ERROR)
		goto fail;
	j->status = 200;
	return;

fail:
	strlcpy_x(j->errmsg, catalog_strerror(c), sizeof j->errmsg);
	j->status = 500;
	j->errcode = "DELETE_FAILED";
}

/* DELETE /v1/tenants/{id}: id is valid (checked by the caller). */
void
tenant_delete(struct http_req *req, const char *id, size_t len)
{
	struct tenant_op	*op;
	struct handle		*h;
	int			 rc;

	op = xcalloc(1, sizeof *op);
	rc = catalog_get(server_catalog, id, len, &op->rec);
	if (rc != CATALOG_OK || cache_busy_id(id, len) ||
	    op->rec.state == TENANT_DELETING) {
		free(op);
		if (rc == CATALOG_ERROR)
			http_reply_error(req, 500, "INTERNAL", "the catalog "
			    "could not be read");
		else
			http_reply_error(req, 404, "TENANT_NOT_FOUND", "no such "
			    "tenant: %.*s", (int)len, id);
		return;
	}
	op->req = req;
	op->job.run = delete_run;
	op->job.done = op_done;
	cache_busy_add(id, len);
	if ((h = cache_detach(id, len)) != NULL) {
		/* Runs after requests already queued for the tenant, and
		 * even if a stream holds a transaction (rolled back). */
		op->job.force = 1;
		cache_submit(h, &op->job);
	} else
		worker_push(&op->job);
}

/*
 * GET /v1/tenants/{id}/check: PRAGMA integrity_check on a connection of
 * its own, and whether the file's migration record, user_version and the
 * catalog agree.  A tenant whose file is damaged answers here (and fails
 * its own requests) without affecting any other tenant.
 */
struct check_op {
	struct job		 job;
	struct http_req		*req;
	struct tenant_rec	 rec;
	json_t			*problems;	/* built on the worker, handed over */
	int			 file_version;
};

static void
check_run(struct job *j)
{
	struct check_op		*op = (struct check_op *)j;
	struct migrate_error	 err;
	sqlite3_stmt		*st = NULL;
	sqlite3			*db = NULL;
	char			 path[1024];
	const char		*line;
	int			 rc, n = 0;

	op->problems = json_array();
	op->file_version = -1;
	handle_path(op->rec.id, strlen(op->rec.id), path, sizeof path);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, cfg.busy_timeout_ms);
		rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(100)", -1,
		    &st, NULL);
	}
	if (rc != SQLITE_OK) {
		json_array_append_new(op->problems, json_string(db ?
		    sqlite3_errmsg(db) : sqlite3_errstr(rc)));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		line = (const char *)sqlite3_column_text(st, 0);
		if (line != NULL && strcmp(line, "ok") != 0 && n++ < 100)
			json_array_append_new(op->problems, json_string(line));
	}
	if (rc != SQLITE_DONE)
		json_array_append_new(op->problems, json_string(
		    sqlite3_errmsg(db)));
	sqlite3_finalize(st);
	memset(&err, 0, sizeof err);
	if (migrate_db_version(db, &op->file_version, &err) != MIGRATE_OK)
		json_array_append_new(op->problems, json_string(err.message));
	else if (op->file_version != op->rec.version)
		json_array_append_new(op->problems, json_pack("s", "the file is "
		    "at a different version than the catalog says"));
out:
	if (db != NULL)
		sqlite3_close(db);
}

static void
check_done(struct job *j)
{
	struct check_op	*op = (struct check_op *)j;
	json_t		*o;

	o = json_object();
	json_object_set_new(o, "id", json_string(op->rec.id));
	json_object_set_new(o, "ok", json_boolean(json_array_size(
	    op->problems) == 0));
	json_object_set_new(o, "catalog_version", json_integer(op->rec.version));
	json_object_set_new(o, "file_version", op->file_version >= 0 ?
	    json_integer(op->file_version) : json_null());
	json_object_set_new(o, "problems", op->problems);
	if (json_array_size(op->problems) > 0)
		log_warnx("tenant %s: check found %zu problems", op->rec.id,
		    json_array_size(op->problems));
	http_reply_json(op->req, 200, o);
	free(op);
}

void
tenant_check(struct http_req *req, const char *id, size_t len)
{
	struct check_op	*op = xcalloc(1, sizeof *op);
	int		 rc;

	rc = catalog_get(server_catalog, id, len, &op->rec);
	if (rc != CATALOG_OK || op->rec.state == TENANT_CREATING ||
	    op->rec.state == TENANT_DELETING) {
		free(op);
		http_reply_error(req, rc == CATALOG_ERROR ? 500 : 404,
		    rc == CATALOG_ERROR ? "INTERNAL" : "TENANT_NOT_FOUND",
		    "no such tenant: %.*s", (int)len, id);
		return;
	}
	op->req = req;
	op->job.run = check_run;
	op->job.done = check_done;
	worker_push(&op->job);
}
