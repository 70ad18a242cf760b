/*
 * tenant.c: creating and deleting tenants, crash-safe.
 *
 * A tenant exists once its catalog record is durable.  A create writes
 * only the record (state active, the version the tenant will be at,
 * materialized = false); its database file is made on the first open
 * (exec.c, exec_materialize), as PostgreSQL's CREATE TABLE writes catalog
 * rows to its WAL and makes the table's file durable later.  Creates that
 * arrive together share one LMDB commit (group commit, below), so one
 * fsync acknowledges a whole batch.
 *
 *   create: put(active, unmaterialized)                    -> 201
 *   delete: put(deleting) -> close handle -> unlink files -> fsync dir ->
 *           del                                            -> 200
 * Records in state creating (imports of new tenants) or deleting sit in
 * the catalog's pending index; at start tenant_recover() removes their
 * files and entries (a create that was never acknowledged is undone, a
 * delete is finished), so after a kill -9 at any point catalog and files
 * agree.  A create that crashed after its commit but before its 201 is
 * kept: it is durable, as a committed transaction whose answer was lost.
 *
 * The loop validates and queues; the steps above run on a worker.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

/*
 * Crash points for the crash-safety tests: TENANTD_CRASH_AT=NAME[:N] makes
 * the daemon exit at once (as kill -9 would, nothing flushed) the Nth time
 * (default the first) it reaches the step called NAME.  Any thread.
 */
static const char	*crash_at;
static size_t		 crash_namelen;
static long		 crash_after = 1;

static void
crash_point_init(void)
{
	const char	*colon;

	if ((crash_at = getenv("TENANTD_CRASH_AT")) == NULL)
		return;
	colon = strchr(crash_at, ':');
	crash_namelen = colon ? (size_t)(colon - crash_at) : strlen(crash_at);
	if (colon != NULL)
		crash_after = strtol(colon + 1, NULL, 10);
}

void
crash_point(const char *name)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;
	static _Atomic long	 hits;

	pthread_once(&once, crash_point_init);
	if (crash_at == NULL || strlen(name) != crash_namelen ||
	    strncmp(crash_at, name, crash_namelen) != 0)
		return;
	if (++hits >= crash_after) {
		log_warnx("crash point %s reached: exiting as if killed", name);
		_exit(137);
	}
}

struct tenant_op {
	struct job		 job;
	struct http_req		*req;
	struct tenant_rec	 rec;
};

/* Remove a tenant's database and its WAL, shm and journal files. */
int
tenant_rm_files(const char *path)
{
	static const char	*sfx[] = { "", "-wal", "-shm", "-journal" };
	char			 p[1100];
	size_t			 i;
	int			 rc = 0;

	durable_forget(path);	/* its WAL's logged writes end here */
	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (unlink(p) == -1 && errno != ENOENT) {
			log_warn("unlink %s", p);
			rc = -1;
		}
	}
	if (fsync_parent(path) == -1 && errno != ENOENT)
		rc = -1;
	return (rc);
}

/*
 * Finish or undo every create/delete a crash interrupted.  At start.
 * (Half-made files of an interrupted materialization live in DATA/tmp,
 * which export_init() empties at start.)
 */
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
		    recs[i].state == TENANT_CREATING ? "create or import" :
		    "delete");
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
	/* The catalog records the version once the database has it on
	 * disk (group commit: the round of the migration's commits). */
	exec_durable(h);
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
	json_object_set_new(obj, "materialized", json_boolean(r->materialized));
}

static void
op_reply(struct tenant_op *op)
{
	struct job	*j = &op->job;
	json_t		*obj;

	if (j->errcode != NULL)
		http_reply_error(op->req, j->status, j->errcode, "%s",
		    j->errmsg);
	else {
		obj = json_pack("{s:s,s:b}", "id", op->rec.id, "deleted", 1);
		http_reply_json(op->req, 200, obj);
	}
}

static void
op_done(struct job *j)
{
	struct tenant_op	*op = (struct tenant_op *)j;

	cache_busy_del(op->rec.id, strlen(op->rec.id));
	if (j->status == 200)
		log_info("tenant %s: deleted", op->rec.id);
	op_reply(op);
	free(op);
}

/*
 * Group commit.  The loop collects creates into batches (at most
 * CREATE_BATCH_MAX each); one batch at a time commits on a worker (LMDB
 * serialises writers anyway, and each commit fsyncs), and the creates
 * that arrive meanwhile wait in the next batch.  Alone, a create commits
 * at once; under load one fsync acknowledges up to a batch.  Each request
 * gets its own answer: 201, 409 if the id is taken, 500 if the commit
 * failed.  A batch never holds one id twice: the id is busy from the
 * moment it is queued.
 */
#define CREATE_BATCH_MAX	1024

struct create_batch {
	struct job			 job;
	TAILQ_ENTRY(create_batch)	 entry;
	int				 pushed;	/* [loop] */
	size_t				 n;
	size_t				 cap;
	struct http_req			**reqs;		/* [loop] */
	struct schema			**schemas;	/* [loop] refs */
	struct tenant_rec		*recs;		/* [const] pushed */
	int				*results;	/* [worker] */
	int				 failed;	/* [worker] */
	char				 error[512];	/* [worker] */
};
static TAILQ_HEAD(create_batch_list, create_batch) create_batches =
    TAILQ_HEAD_INITIALIZER(create_batches);

static void
create_batch_run(struct job *j)
{
	struct create_batch	*b = (struct create_batch *)j;
	struct catalog		*c = server_catalog;
	size_t			 i;

	if (catalog_create_batch(c, b->recs, b->n, b->results) != CATALOG_OK) {
		b->failed = 1;
		strlcpy_x(b->error, catalog_strerror(c), sizeof b->error);
		return;
	}
	crash_point("create-after-record");
	/* What these tenants will be made from counts as applied: an
	 * edit to those files is caught, as if the files were made now. */
	for (i = 0; i < b->n; i++)
		if (b->results[i] == CATALOG_OK)
			schema_applied(b->schemas[i], b->recs[i].version);
}

static void	create_batch_push(struct create_batch *);

static void
create_batch_done(struct job *j)
{
	struct create_batch	*b = (struct create_batch *)j;
	struct tenant_rec	*r;
	struct create_batch	*next;
	json_t			*obj;
	size_t			 i;

	TAILQ_REMOVE(&create_batches, b, entry);
	if ((next = TAILQ_FIRST(&create_batches)) != NULL)
		create_batch_push(next);
	if (b->failed)
		log_warnx("create of %zu tenants failed: %s", b->n, b->error);
	for (i = 0; i < b->n; i++) {
		r = &b->recs[i];
		cache_busy_del(r->id, strlen(r->id));
		if (b->failed)
			http_reply_error(b->reqs[i], 500, "CREATE_FAILED", "%s",
			    b->error);
		else if (b->results[i] == CATALOG_EXISTS)
			http_reply_error(b->reqs[i], 409, "TENANT_EXISTS",
			    "tenant %s already exists", r->id);
		else {
			log_info("tenant %s: created (schema %s, version %d)",
			    r->id, r->schema[0] ? r->schema : "none",
			    r->version);
			obj = json_object();
			tenant_rec_json(r, obj);
			http_reply_json(b->reqs[i], 201, obj);
		}
		schema_unref(b->schemas[i]);
	}
	free(b->reqs);
	free(b->schemas);
	free(b->recs);
	free(b->results);
	free(b);
}

static void
create_batch_push(struct create_batch *b)
{
	b->pushed = 1;
	b->results = xcalloc(b->n, sizeof *b->results);
	b->job.run = create_batch_run;
	b->job.done = create_batch_done;
	worker_push(&b->job);
}

/* Queue one create (its id marked busy) and start a commit if none runs. */
static void
create_batch_add(struct http_req *req, const char *id, size_t len,
    struct schema *s)
{
	struct create_batch	*b;
	struct tenant_rec	*r;

	b = TAILQ_LAST(&create_batches, create_batch_list);
	if (b == NULL || b->pushed || b->n == CREATE_BATCH_MAX) {
		b = xcalloc(1, sizeof *b);
		TAILQ_INSERT_TAIL(&create_batches, b, entry);
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->reqs = xreallocarray(b->reqs, b->cap, sizeof *b->reqs);
		b->schemas = xreallocarray(b->schemas, b->cap,
		    sizeof *b->schemas);
		b->recs = xreallocarray(b->recs, b->cap, sizeof *b->recs);
	}
	b->reqs[b->n] = req;
	b->schemas[b->n] = s;
	r = &b->recs[b->n];
	memset(r, 0, sizeof *r);
	memcpy(r->id, id, len);
	if (s != NULL) {
		strlcpy_x(r->schema, s->name, sizeof r->schema);
		r->version = migrate_set_latest(s->set);
	}
	r->state = TENANT_ACTIVE;
	r->materialized = 0;
	r->created = r->updated = (int64_t)time_now_ms();
	b->n++;
	cache_busy_add(id, len);
	if (b == TAILQ_FIRST(&create_batches) && !b->pushed)
		create_batch_push(b);
}

/*
 * POST /v1/tenants: id is valid (checked by the caller); schema_name NULL
 * means the default schema, "" means none.
 */
void
tenant_create(struct http_req *req, const char *id, size_t len,
    const char *schema_name)
{
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
	create_batch_add(req, id, len, s);
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
 * its own requests) without affecting any other tenant.  A tenant whose
 * file was never made (never opened since its create) is fine: there is
 * nothing to check yet, and its first open makes the file.
 */
struct check_op {
	struct job		 job;
	struct http_req		*req;
	struct tenant_rec	 rec;
	json_t			*problems;	/* built on the worker, handed over */
	int			 file_version;
	int			 unmade;	/* no file: nothing to check */
};

static void
check_run(struct job *j)
{
	struct check_op		*op = (struct check_op *)j;
	struct migrate_error	 err;
	sqlite3_stmt		*st = NULL;
	sqlite3			*db = NULL;
	char			 path[1024], id[TID_MAX + 1];
	const char		*line;
	int			 rc, n = 0;

	op->problems = json_array();
	op->file_version = -1;
	handle_path(op->rec.id, strlen(op->rec.id), path, sizeof path);
	/* The record again, here: a first open may have made the file. */
	strlcpy_x(id, op->rec.id, sizeof id);
	rc = catalog_get(server_catalog, id, strlen(id), &op->rec);
	if (rc != CATALOG_OK) {
		strlcpy_x(op->rec.id, id, sizeof op->rec.id);
		json_array_append_new(op->problems, json_string(rc ==
		    CATALOG_NOTFOUND ? "the tenant was deleted meanwhile" :
		    catalog_strerror(server_catalog)));
		return;
	}
	if (!op->rec.materialized && access(path, F_OK) == -1 &&
	    errno == ENOENT) {
		op->unmade = 1;
		return;
	}
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, TENANT_VFS);
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
	json_object_set_new(o, "note", op->unmade ? json_string("not opened "
	    "yet: the file is made on the first open") : json_null());
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
