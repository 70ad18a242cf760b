/*
 * rollout.c: fleet migrations inside the daemon (POST /v1/migrations).
 *
 * A rollout brings every tenant of one schema (or a listed subset) to a
 * target version.  It is planned from the catalog's (schema, version)
 * index on a worker, then scheduled from the loop: at most `parallel`
 * tenant migrations in flight, each a job on the tenant's own handle, so
 * it is serialised with that tenant's requests and other tenants keep
 * serving.  Each step is all-or-nothing (migrate.c); a tenant that fails
 * stays at its last good version, keeps serving, and carries the error in
 * the catalog.
 *
 *   canary K           migrate K tenants first; any failure stops the job
 *   continue_on_error  otherwise the first failure stops scheduling
 *   dry_run            every plan runs in a transaction that is rolled back
 *
 * State survives restarts: the job document (settings, state, counters,
 * failures) is kept in the catalog's "jobs" database, and on start a
 * rollout that was running is planned again from the catalog (tenants
 * already at the target drop out; tenants that failed in this job are not
 * retried).  Catalog version updates are batched (one LMDB commit per
 * batch); if a crash loses a batch, the files' own records are the truth
 * and the re-plan or the next open brings the catalog back in line.
 *
 * A tenant whose file was never made (created, never opened) is not
 * opened: its record's version is simply moved to the target, and its
 * file will be made at that version on its first open.  There is no data
 * to migrate, and the steps themselves were proven on an empty database
 * when the set was loaded.  That update is marked unmade_only, so if a
 * first open makes the file before the batch is written, the batch leaves
 * the record alone (the file's own version is the truth, and migrate on
 * open takes it on from there).
 *
 * Loop thread, except the run callbacks.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tenantd.h"

#define ROLLOUT_HISTORY		100	/* finished jobs kept in memory */
#define ROLLOUT_MAX_FAILS	10000	/* failures kept in detail */
#define ROLLOUT_BATCH		256	/* catalog updates per commit */
#define ROLLOUT_MAX_TENANTS	1000000

enum ro_state {
	RO_PLANNING, RO_CANARY, RO_RUNNING, RO_SUCCEEDED, RO_FAILED,
	RO_COMPLETED_WITH_ERRORS
};

static const char *ro_state_names[] = { "planning", "canary", "running",
    "succeeded", "failed", "completed_with_errors" };

struct rfail {
	char	tenant[TID_MAX + 1];
	int	version;
	int	line;
	char	file[256];
	char	error[600];
};

struct rollout {
	TAILQ_ENTRY(rollout)	 entry;
	uint64_t		 id;
	uint64_t		 seq;
	struct schema		*s;
	char			 schema[MIGRATE_NAME_MAX + 1];
	int			 to;
	int			 canary;
	int			 parallel;
	int			 cont;
	int			 dry;
	char			(*only)[TID_MAX + 1];
	size_t			 nonly;
	int			 state;
	int			 canary_passed;
	char			 why[600];	/* why it stopped */
	char			(*plan)[TID_MAX + 1];
	size_t			 nplan;
	size_t			 next;
	size_t			 canary_end;
	size_t			 base;		/* done before this plan */
	size_t			 done;
	size_t			 failed;
	size_t			 skipped;
	size_t			 inflight;
	struct rfail		*fails;
	size_t			 nfails;
	int64_t			 created_ms;
	int64_t			 finished_ms;
	uint64_t		 t0_us;
	uint64_t		 t1_us;		/* when it finished */
	size_t			 t0_count;
	struct catalog_version	*cv;
	size_t			 ncv;
	int			 dirty;
	uint64_t		 persisted_us;
};
TAILQ_HEAD(rollout_list, rollout);

static struct rollout_list	rollouts = TAILQ_HEAD_INITIALIZER(rollouts);
static uint64_t			rollout_next_id;

struct rjob {
	struct job		 job;
	uint64_t		 rid;
	struct schema		*s;
	int			 to;
	int			 dry;
	int			 rc;
	int			 reached;
	int			 skipped;
	int			 unmade;	/* no file: record only */
	int			 transient;	/* not open before: close after */
	struct migrate_error	 err;
};

static void	rollout_pump(struct rollout *);
static void	rollout_persist(struct rollout *, int);

static struct rollout *
rollout_find(uint64_t id)
{
	struct rollout	*r;

	TAILQ_FOREACH(r, &rollouts, entry)
		if (r->id == id)
			return (r);
	return (NULL);
}

static int
ro_terminal(int state)
{
	return (state == RO_SUCCEEDED || state == RO_FAILED ||
	    state == RO_COMPLETED_WITH_ERRORS);
}

static void
rollout_free(struct rollout *r)
{
	schema_unref(r->s);
	free(r->only);
	free(r->plan);
	free(r->fails);
	free(r->cv);
	free(r);
}

/* The job document: what GET shows and what the catalog keeps. */
static json_t *
rollout_json(struct rollout *r, int with_failures)
{
	json_t		*o = json_object(), *arr;
	char		 ts[40];
	size_t		 i, finished, total, pending;
	double		 secs, rate = 0;

	finished = r->done + r->failed + r->skipped;
	total = r->state == RO_PLANNING ? 0 : r->base + r->nplan;
	if (total < finished)
		total = finished;
	pending = total - finished;
	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(o, "schema", json_string(r->schema));
	json_object_set_new(o, "to", json_integer(r->to));
	json_object_set_new(o, "canary", json_integer(r->canary));
	json_object_set_new(o, "parallel", json_integer(r->parallel));
	json_object_set_new(o, "continue_on_error", json_boolean(r->cont));
	json_object_set_new(o, "dry_run", json_boolean(r->dry));
	if (r->only != NULL) {
		arr = json_array();
		for (i = 0; i < r->nonly; i++)
			json_array_append_new(arr, json_string(r->only[i]));
		json_object_set_new(o, "tenants", arr);
	} else
		json_object_set_new(o, "tenants", json_null());
	json_object_set_new(o, "state", json_string(ro_state_names[r->state]));
	json_object_set_new(o, "canary_passed", json_boolean(r->canary_passed));
	json_object_set_new(o, "message", r->why[0] ? json_string(r->why) :
	    json_null());
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	json_object_set_new(o, "done", json_integer((json_int_t)r->done));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(o, "pending", json_integer((json_int_t)pending));
	json_object_set_new(o, "running", json_integer((json_int_t)r->inflight));
	time_format_iso(r->created_ms, ts, sizeof ts);
	json_object_set_new(o, "created", json_string(ts));
	json_object_set_new(o, "created_ms", json_integer(r->created_ms));
	json_object_set_new(o, "finished_ms", json_integer(r->finished_ms));
	if (r->finished_ms != 0) {
		time_format_iso(r->finished_ms, ts, sizeof ts);
		json_object_set_new(o, "finished", json_string(ts));
	} else
		json_object_set_new(o, "finished", json_null());
	secs = (double)((r->t1_us ? r->t1_us : time_mono_us()) - r->t0_us) /
	    1e6;
	if (r->t0_us != 0 && secs > 0 && finished > r->t0_count)
		rate = (double)(finished - r->t0_count) / secs;
	json_object_set_new(o, "rate_per_s", json_real(rate));
	json_object_set_new(o, "eta_s", !ro_terminal(r->state) && rate > 0 ?
	    json_real((double)pending / rate) : json_null());
	json_object_set_new(o, "failures_total", json_integer((json_int_t)
	    r->failed));
	if (with_failures) {
		arr = json_array();
		for (i = 0; i < r->nfails; i++)
			json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:i,"
			    "s:s}", "tenant", r->fails[i].tenant, "version",
			    r->fails[i].version, "file", r->fails[i].file,
			    "line", r->fails[i].line, "error",
			    r->fails[i].error));
		json_object_set_new(o, "failures", arr);
	}
	return (o);
}

/* --- persistence ------------------------------------------------------- */

struct pjob_doc {
	struct job	 job;
	uint64_t	 id;
	uint64_t	 seq;
	char		*doc;
	struct catalog_version *cv;
	size_t		 ncv;
};

static void
persist_run(struct job *j)
{
	struct pjob_doc	*p = (struct pjob_doc *)j;

	if (p->ncv > 0 &&
	    catalog_set_versions(server_catalog, p->cv, p->ncv) != CATALOG_OK)
		log_warnx("%s", catalog_strerror(server_catalog));
	if (p->doc != NULL &&
	    catalog_job_put(server_catalog, p->id, p->seq, p->doc) != CATALOG_OK)
		log_warnx("%s", catalog_strerror(server_catalog));
}

static void
persist_done(struct job *j)
{
	struct pjob_doc	*p = (struct pjob_doc *)j;

	free(p->doc);
	free(p->cv);
	free(p);
}

/*
 * Write the catalog updates gathered so far and, with doc, the job
 * document.  sync: run on this thread (shutdown, workers stopped).
 */
static void
rollout_persist_now(struct rollout *r, int doc, int sync)
{
	struct pjob_doc	*p;
	json_t		*o;

	if (r->ncv == 0 && !doc)
		return;
	p = xcalloc(1, sizeof *p);
	p->id = r->id;
	p->cv = r->cv;
	p->ncv = r->ncv;
	r->cv = NULL;
	r->ncv = 0;
	if (doc) {
		o = rollout_json(r, 1);
		p->doc = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		p->seq = ++r->seq;
		r->dirty = 0;
		r->persisted_us = time_mono_us();
	}
	p->job.run = persist_run;
	p->job.done = persist_done;
	if (sync) {
		persist_run(&p->job);
		persist_done(&p->job);
	} else
		worker_push(&p->job);
}

static void
rollout_persist(struct rollout *r, int doc)
{
	rollout_persist_now(r, doc, 0);
}

/* --- running ------------------------------------------------------------ */

/*
 * Whether h's tenant has no file yet (its record says so and there is
 * none): then a rollout only moves the record.  Worker, on the handle, so
 * no first open runs meanwhile.
 */
static int
rjob_unmade(struct handle *h)
{
	struct tenant_rec	rec;

	if (catalog_get(server_catalog, h->le.key, h->le.keylen, &rec) !=
	    CATALOG_OK || rec.materialized)
		return (0);
	return (access(h->path, F_OK) == -1 && errno == ENOENT);
}

static void
rjob_run(struct job *j)
{
	struct rjob	*rj = (struct rjob *)j;
	struct handle	*h = j->h;
	char		 err[512];
	int		 flags = rj->dry ? MIGRATE_DRY_RUN : 0;

	rj->reached = -1;
	if (h->deleted) {
		rj->skipped = 1;
		return;
	}
	if (h->db == NULL && rjob_unmade(h)) {
		/* No file yet: it will be made at the target version. */
		rj->unmade = 1;
		rj->rc = MIGRATE_OK;
		rj->reached = rj->to;
		if (!rj->dry)
			schema_applied(rj->s, rj->to);
		crash_point("rollout-tenant");
		return;
	}
	if (h->db == NULL && exec_open(h, err, sizeof err) != 0) {
		rj->rc = MIGRATE_EDB;
		snprintf(rj->err.message, sizeof rj->err.message, "%s", err);
		return;
	}
	h->internal = 1;
	rj->rc = migrate_apply(h->db, rj->s->set, rj->to, flags, &rj->reached,
	    &rj->err);
	h->internal = 0;
	exec_durable(h);	/* reported only once on disk */
	if (!rj->dry && rj->rc == MIGRATE_OK)
		schema_applied(rj->s, rj->reached);
	crash_point("rollout-tenant");
	if (!rj->dry && rj->reached >= 0)
		h->version = rj->reached;
}

static void
rollout_add_cv(struct rollout *r, const char *tenant, int version,
    const char *error, int unmade)
{
	struct catalog_version	*cv;

	if (r->dry)
		return;
	r->cv = xreallocarray(r->cv, r->ncv + 1, sizeof *r->cv);
	cv = &r->cv[r->ncv++];
	memset(cv, 0, sizeof *cv);
	strlcpy_x(cv->id, tenant, sizeof cv->id);
	cv->version = version;
	cv->when = (int64_t)time_now_ms();
	cv->unmade_only = unmade;
	strlcpy_x(cv->error, error, sizeof cv->error);
	if (r->ncv >= ROLLOUT_BATCH)
		rollout_persist(r, 0);
}

static void
rollout_tenant_done(struct rollout *r, const char *tenant, int skipped,
    int unmade, int rc, int reached, const struct migrate_error *err)
{
	struct rfail	*f;
	char		 msg[600];

	r->inflight--;
	if (skipped)
		r->skipped++;
	else if (rc == MIGRATE_OK) {
		r->done++;
		rollout_add_cv(r, tenant, reached, "", unmade);
	} else {
		r->failed++;
		snprintf(msg, sizeof msg, "%s%s", r->dry ? "dry run: " : "",
		    err->message);
		log_warnx("rollout %llu: tenant %s: %s",
		    (unsigned long long)r->id, tenant, msg);
		if (r->nfails < ROLLOUT_MAX_FAILS) {
			r->fails = xreallocarray(r->fails, r->nfails + 1,
			    sizeof *r->fails);
			f = &r->fails[r->nfails++];
			memset(f, 0, sizeof *f);
			strlcpy_x(f->tenant, tenant, sizeof f->tenant);
			f->version = reached;
			f->line = err->line;
			strlcpy_x(f->file, err->file, sizeof f->file);
			strlcpy_x(f->error, msg, sizeof f->error);
		}
		snprintf(msg, sizeof msg, "rollout %llu to version %d failed: "
		    "%.500s", (unsigned long long)r->id, r->to, err->message);
		rollout_add_cv(r, tenant, reached, msg, 0);
		r->dirty = 1;
	}
	if (r->state == RO_CANARY && r->next >= r->canary_end &&
	    r->inflight == 0) {
		if (r->failed > 0) {
			snprintf(r->why, sizeof r->why, "the canary failed on "
			    "%zu of %zu tenants; nothing else was touched",
			    r->failed, r->canary_end);
			r->state = RO_FAILED;
			r->finished_ms = (int64_t)time_now_ms();
			r->t1_us = time_mono_us();
			log_warnx("rollout %llu: %s", (unsigned long long)r->id,
			    r->why);
			rollout_persist(r, 1);
			return;
		}
		r->canary_passed = 1;
		r->state = RO_RUNNING;
		r->dirty = 1;
		log_info("rollout %llu: canary of %zu tenants passed",
		    (unsigned long long)r->id, r->canary_end);
	}
	rollout_pump(r);
}

static void
rjob_done(struct job *j)
{
	struct rjob	*rj = (struct rjob *)j;
	struct rollout	*r = rollout_find(rj->rid);
	struct handle	*h = j->h;

	/*
	 * A tenant opened only to be migrated is closed again: a fleet
	 * rollout should not push the tenants clients use out of the cache,
	 * and every open file makes the next open slower (SQLite's unix VFS
	 * keeps its open inodes in one list).
	 */
	if (rj->transient && h != NULL && h->in_table && h->le.pins == 1 &&
	    TAILQ_EMPTY(&h->jobs) && h->owner == 0)
		cache_detach(j->tid, j->tidlen);
	if (r != NULL) {
		if (j->status >= 400)	/* never reached a worker */
			rollout_tenant_done(r, j->tid, 1, 0, 0, -1, &rj->err);
		else
			rollout_tenant_done(r, j->tid, rj->skipped, rj->unmade,
			    rj->rc, rj->reached, &rj->err);
	}
	schema_unref(rj->s);
	free(rj);
}

static void
rollout_start_tenant(struct rollout *r, const char *tenant)
{
	struct rjob	*rj = xcalloc(1, sizeof *rj);
	const char	*code, *msg;

	rj->rid = r->id;
	rj->s = r->s;
	r->s->refs++;
	rj->to = r->to;
	rj->dry = r->dry;
	rj->job.tidlen = strlen(tenant);
	memcpy(rj->job.tid, tenant, rj->job.tidlen);
	rj->job.run = rjob_run;
	rj->job.done = rjob_done;
	rj->transient = cache_find(tenant, rj->job.tidlen) == NULL;
	r->inflight++;
	if (cache_dispatch(&rj->job, &code, &msg) != 0) {
		/* Deleted since planning: skipped. */
		rj->job.status = 404;
		rjob_done(&rj->job);
	}
}

static void
rollout_finish(struct rollout *r)
{
	if (r->state == RO_CANARY && r->failed > 0) {
		snprintf(r->why, sizeof r->why, "the canary failed on %zu of "
		    "%zu tenants; nothing else was touched", r->failed,
		    r->canary_end);
		r->state = RO_FAILED;
	} else if (r->failed == 0)
		r->state = RO_SUCCEEDED;
	else if (r->cont)
		r->state = RO_COMPLETED_WITH_ERRORS;
	else {
		r->state = RO_FAILED;
		if (r->why[0] == '\0')
			snprintf(r->why, sizeof r->why, "stopped at the first "
			    "failure (use continue_on_error to go on)");
	}
	r->finished_ms = (int64_t)time_now_ms();
	r->t1_us = time_mono_us();
	log_info("rollout %llu: schema %s to version %d%s: %s, %zu done, %zu "
	    "failed, %zu skipped", (unsigned long long)r->id, r->schema, r->to,
	    r->dry ? " (dry run)" : "", ro_state_names[r->state], r->done,
	    r->failed, r->skipped);
	rollout_persist(r, 1);
}

/* Start what may start now; finish when everything is done. */
static void
rollout_pump(struct rollout *r)
{
	size_t	limit;
	int	stop;

	if (r->state != RO_CANARY && r->state != RO_RUNNING)
		return;
	stop = (!r->cont && r->failed > 0) || server_shutting_down();
	limit = r->state == RO_CANARY ? r->canary_end : r->nplan;
	while (!stop && r->inflight < (size_t)r->parallel && r->next < limit)
		rollout_start_tenant(r, r->plan[r->next++]);
	if (r->inflight == 0 && !server_shutting_down() &&
	    (r->next >= r->nplan || stop))
		rollout_finish(r);
}

/* --- planning ------------------------------------------------------------ */

struct plan_job {
	struct job	  job;
	uint64_t	  rid;
	char		  schema[MIGRATE_NAME_MAX + 1];
	int		  to;
	char		(*ids)[TID_MAX + 1];
	size_t		  nids;
	int		  failed;
};

/* Every tenant of the schema not at the target: below it (up), then
 * above it (down). */
static void
plan_run(struct job *j)
{
	struct plan_job	*p = (struct plan_job *)j;
	char		(*above)[TID_MAX + 1] = NULL;
	size_t		 nabove = 0;

	p->failed = catalog_scan_schema(server_catalog, p->schema, 0,
	    p->to - 1, &p->ids, &p->nids) != CATALOG_OK ||
	    catalog_scan_schema(server_catalog, p->schema, p->to + 1, INT_MAX,
	    &above, &nabove) != CATALOG_OK;
	if (nabove > 0) {
		p->ids = xreallocarray(p->ids, p->nids + nabove,
		    sizeof *p->ids);
		memcpy(p->ids + p->nids, above, nabove * sizeof *above);
		p->nids += nabove;
	}
	free(above);
}

static int
id_cmp(const void *a, const void *b)
{
	return (strcmp(a, b));
}

static void
plan_done(struct job *j)
{
	struct plan_job	*p = (struct plan_job *)j;
	struct rollout	*r = rollout_find(p->rid);
	size_t		 i, k, n = 0;
	int		 keep;

	if (r == NULL)
		goto out;
	if (p->failed) {
		snprintf(r->why, sizeof r->why, "planning failed: %s",
		    catalog_strerror(server_catalog));
		r->state = RO_FAILED;
		r->finished_ms = (int64_t)time_now_ms();
		rollout_persist(r, 1);
		goto out;
	}
	/* Keep listed tenants only; never retry one that failed here. */
	for (i = 0; i < p->nids; i++) {
		keep = r->only == NULL || bsearch(p->ids[i], r->only, r->nonly,
		    sizeof *r->only, id_cmp) != NULL;
		for (k = 0; keep && k < r->nfails; k++)
			if (strcmp(r->fails[k].tenant, p->ids[i]) == 0)
				keep = 0;
		if (keep)
			memmove(p->ids[n++], p->ids[i], sizeof p->ids[i]);
	}
	r->plan = p->ids;
	r->nplan = n;
	p->ids = NULL;
	r->next = 0;
	r->base = r->done + r->failed + r->skipped;
	r->t0_us = time_mono_us();
	r->t0_count = r->base;
	if (r->canary > 0 && !r->canary_passed) {
		r->state = RO_CANARY;
		r->canary_end = (size_t)r->canary < n ? (size_t)r->canary : n;
	} else
		r->state = RO_RUNNING;
	log_info("rollout %llu: schema %s to version %d%s: %zu tenants to "
	    "migrate, %d at a time%s", (unsigned long long)r->id, r->schema,
	    r->to, r->dry ? " (dry run)" : "", n, r->parallel,
	    r->state == RO_CANARY ? ", canary first" : "");
	rollout_persist(r, 1);
	rollout_pump(r);
out:
	free(p->ids);
	free(p);
}

static void
rollout_plan(struct rollout *r)
{
	struct plan_job	*p = xcalloc(1, sizeof *p);

	p->rid = r->id;
	p->to = r->to;
	strlcpy_x(p->schema, r->schema, sizeof p->schema);
	r->state = RO_PLANNING;
	p->job.run = plan_run;
	p->job.done = plan_done;
	worker_push(&p->job);
}

/* --- the API ---------------------------------------------------------- */

struct create_ctx {
	struct http_req	*req;
	json_t		*body;
};

static int
rollout_busy(const char *schema)
{
	struct rollout	*r;

	TAILQ_FOREACH(r, &rollouts, entry)
		if (!ro_terminal(r->state) && strcmp(r->schema, schema) == 0)
			return (1);
	return (0);
}

static void
rollout_trim_history(void)
{
	struct rollout	*r, *next;
	size_t		 n = 0;

	TAILQ_FOREACH(r, &rollouts, entry)
		n++;
	for (r = TAILQ_FIRST(&rollouts); r != NULL && n > ROLLOUT_HISTORY;
	    r = next) {
		next = TAILQ_NEXT(r, entry);
		if (ro_terminal(r->state) && r->inflight == 0) {
			TAILQ_REMOVE(&rollouts, r, entry);
			rollout_free(r);
			n--;
		}
	}
}

/*
 * Fill r's settings from a JSON body (the API's or a stored document).
 * Returns 0, or -1 with an HTTP status, code and message.
 */
static int
rollout_settings(struct rollout *r, json_t *body, int *status,
    const char **code, char *msg, size_t msglen)
{
	json_t		*v, *e;
	const char	*schema, *why;
	size_t		 i;
	int		 latest;

	*status = 400;
	*code = "BAD_REQUEST";
	schema = json_string_value(json_object_get(body, "schema"));
	if (schema == NULL || *schema == '\0' ||
	    strlen(schema) > MIGRATE_NAME_MAX) {
		snprintf(msg, msglen, "\"schema\" must name a schema");
		return (-1);
	}
	strlcpy_x(r->schema, schema, sizeof r->schema);
	if ((r->s = schema_get(schema)) == NULL) {
		*status = 404;
		*code = "SCHEMA_NOT_FOUND";
		snprintf(msg, msglen, "there is no schema named \"%s\"", schema);
		return (-1);
	}
	latest = migrate_set_latest(r->s->set);
	v = json_object_get(body, "to");
	if (v == NULL || json_is_null(v))
		r->to = latest;
	else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > latest) {
		*code = "TARGET_OUT_OF_RANGE";
		snprintf(msg, msglen, "\"to\" must be a version from 0 to %d "
		    "(schema %s)", latest, schema);
		return (-1);
	} else
		r->to = (int)json_integer_value(v);
	v = json_object_get(body, "canary");
	if (v != NULL && !json_is_null(v) && (!json_is_integer(v) ||
	    json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)) {
		snprintf(msg, msglen, "\"canary\" must be a number of tenants");
		return (-1);
	}
	r->canary = v && json_is_integer(v) ? (int)json_integer_value(v) : 0;
	v = json_object_get(body, "parallel");
	if (v != NULL && !json_is_null(v) && (!json_is_integer(v) ||
	    json_integer_value(v) < 1 || json_integer_value(v) > 256)) {
		snprintf(msg, msglen, "\"parallel\" must be from 1 to 256");
		return (-1);
	}
	r->parallel = v && json_is_integer(v) ? (int)json_integer_value(v) :
	    cfg.workers;
	v = json_object_get(body, "continue_on_error");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
		snprintf(msg, msglen, "\"continue_on_error\" must be a boolean");
		return (-1);
	}
	r->cont = v != NULL && json_is_true(v);
	v = json_object_get(body, "dry_run");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
		snprintf(msg, msglen, "\"dry_run\" must be a boolean");
		return (-1);
	}
	r->dry = v != NULL && json_is_true(v);
	v = json_object_get(body, "tenants");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > ROLLOUT_MAX_TENANTS) {
			snprintf(msg, msglen, "\"tenants\" must be a non-empty "
			    "list of tenant ids, or null for all");
			return (-1);
		}
		r->only = xcalloc(json_array_size(v), sizeof *r->only);
		json_array_foreach(v, i, e) {
			const char *id = json_string_value(e);
			if (id == NULL || (why = tid_error(id,
			    json_string_length(e))) != NULL) {
				*code = "INVALID_TENANT_ID";
				snprintf(msg, msglen, "tenants[%zu]: %s", i,
				    id ? why : "not a string");
				return (-1);
			}
			strlcpy_x(r->only[i], id, sizeof r->only[i]);
		}
		r->nonly = json_array_size(v);
		qsort(r->only, r->nonly, sizeof *r->only, id_cmp);
	}
	return (0);
}

/* A down plan needs every .down.sql from the target up. */
static int
rollout_check_down(struct rollout *r, char *msg, size_t msglen)
{
	const struct migrate_step	*st;
	int				 v;

	for (v = migrate_set_latest(r->s->set); v > r->to; v--) {
		st = migrate_set_step(r->s->set, v);
		if (st != NULL && st->down_sql == NULL) {
			snprintf(msg, msglen, "%s has no .down.sql, so schema "
			    "%s cannot go down to version %d; nothing was "
			    "touched", st->file, r->schema, r->to);
			return (-1);
		}
	}
	return (0);
}

static void
create_after_reload(void *arg)
{
	struct create_ctx	*ctx = arg;
	struct rollout		*r;
	const char		*code;
	char			 msg[600];
	int			 status;

	r = xcalloc(1, sizeof *r);
	if (rollout_settings(r, ctx->body, &status, &code, msg,
	    sizeof msg) != 0) {
		http_reply_error(ctx->req, status, code, "%s", msg);
		rollout_free(r);
		goto out;
	}
	if (r->s->edited[0] != '\0') {
		http_reply_error(ctx->req, 409, "SCHEMA_EDITED", "schema %s: %s",
		    r->schema, r->s->edited);
		rollout_free(r);
		goto out;
	}
	if (rollout_busy(r->schema)) {
		http_reply_error(ctx->req, 409, "ROLLOUT_RUNNING", "a rollout of "
		    "schema %s is already running", r->schema);
		rollout_free(r);
		goto out;
	}
	if (rollout_check_down(r, msg, sizeof msg) != 0) {
		http_reply_error(ctx->req, 400, "NO_DOWN_MIGRATION", "%s", msg);
		rollout_free(r);
		goto out;
	}
	r->id = ++rollout_next_id;
	r->created_ms = (int64_t)time_now_ms();
	TAILQ_INSERT_TAIL(&rollouts, r, entry);
	rollout_trim_history();
	log_info("rollout %llu: schema %s to version %d requested%s",
	    (unsigned long long)r->id, r->schema, r->to,
	    r->dry ? " (dry run)" : "");
	rollout_plan(r);
	http_reply_json(ctx->req, 202, rollout_json(r, 0));
out:
	json_decref(ctx->body);
	free(ctx);
}

/* POST /v1/migrations.  The sets are read again first. */
static void
rollout_create(struct http_req *req)
{
	struct create_ctx	*ctx;
	json_error_t		 jerr;
	json_t			*body;

	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (body == NULL || !json_is_object(body)) {
		if (body != NULL)
			json_decref(body);
		http_reply_error(req, 400, "BAD_REQUEST", "body must be a JSON "
		    "object like {\"schema\": \"notes\", \"to\": 3}");
		return;
	}
	ctx = xcalloc(1, sizeof *ctx);
	ctx->req = req;
	ctx->body = body;
	schema_reload(create_after_reload, ctx);
}

/* /v1/migrations[/{id}] */
void
rollout_route(struct http_req *req, const char *rest)
{
	struct rollout	*r;
	json_t		*arr;
	char		*end;
	unsigned long long id;

	req->route = ROUTE_MIGRATIONS;
	if (*rest == '\0' || strcmp(rest, "/") == 0) {
		if (strcasecmp(req->method, "POST") == 0) {
			rollout_create(req);
			return;
		}
		if (strcasecmp(req->method, "GET") != 0) {
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET "
			    "or POST on /v1/migrations");
			return;
		}
		arr = json_array();
		TAILQ_FOREACH_REVERSE(r, &rollouts, rollout_list, entry)
			json_array_append_new(arr, rollout_json(r, 0));
		http_reply_json(req, 200, json_pack("{s:o}", "migrations", arr));
		return;
	}
	if (strcasecmp(req->method, "GET") != 0) {
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
		return;
	}
	id = strtoull(rest + 1, &end, 10);
	if (rest[1] == '\0' || *end != '\0' ||
	    (r = rollout_find((uint64_t)id)) == NULL) {
		http_reply_error(req, 404, "ROLLOUT_NOT_FOUND", "no such rollout");
		return;
	}
	http_reply_json(req, 200, rollout_json(r, 1));
}

/* --- start, tick, shutdown ----------------------------------------------- */

static void
rollout_load_cb(void *arg, uint64_t id, const char *doc, size_t len)
{
	struct rollout	*r;
	json_error_t	 jerr;
	json_t		*o, *fails, *e;
	const char	*state, *code;
	char		 msg[600];
	size_t		 i;
	int		 status, st;

	if (id > rollout_next_id)
		rollout_next_id = id;
	if ((o = json_loadb(doc, len, 0, &jerr)) == NULL) {
		log_warnx("rollout %llu: stored document unreadable",
		    (unsigned long long)id);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->id = id;
	state = json_string_value(json_object_get(o, "state"));
	for (st = 0; st <= RO_COMPLETED_WITH_ERRORS; st++)
		if (state != NULL && strcmp(state, ro_state_names[st]) == 0)
			break;
	if (rollout_settings(r, o, &status, &code, msg, sizeof msg) != 0 &&
	    r->s == NULL && !ro_terminal(st)) {
		/* The schema is gone: it cannot resume. */
		st = RO_FAILED;
		snprintf(r->why, sizeof r->why, "cannot resume: %.500s", msg);
	}
	r->canary_passed = json_is_true(json_object_get(o, "canary_passed"));
	r->done = (size_t)json_integer_value(json_object_get(o, "done"));
	r->failed = (size_t)json_integer_value(json_object_get(o, "failed"));
	r->skipped = (size_t)json_integer_value(json_object_get(o, "skipped"));
	r->seq = 1;
	if (json_string_value(json_object_get(o, "message")) != NULL &&
	    r->why[0] == '\0')
		strlcpy_x(r->why, json_string_value(json_object_get(o,
		    "message")), sizeof r->why);
	fails = json_object_get(o, "failures");
	json_array_foreach(fails, i, e) {
		struct rfail *f;
		r->fails = xreallocarray(r->fails, r->nfails + 1,
		    sizeof *r->fails);
		f = &r->fails[r->nfails++];
		memset(f, 0, sizeof *f);
		strlcpy_x(f->tenant, json_string_value(json_object_get(e,
		    "tenant")) ? json_string_value(json_object_get(e,
		    "tenant")) : "", sizeof f->tenant);
		f->version = (int)json_integer_value(json_object_get(e,
		    "version"));
		f->line = (int)json_integer_value(json_object_get(e, "line"));
		strlcpy_x(f->file, json_string_value(json_object_get(e, "file"))
		    ? json_string_value(json_object_get(e, "file")) : "",
		    sizeof f->file);
		strlcpy_x(f->error, json_string_value(json_object_get(e,
		    "error")) ? json_string_value(json_object_get(e, "error")) :
		    "", sizeof f->error);
	}
	r->created_ms = json_integer_value(json_object_get(o, "created_ms"));
	if (r->created_ms == 0)
		r->created_ms = (int64_t)time_now_ms();
	r->finished_ms = json_integer_value(json_object_get(o, "finished_ms"));
	r->state = st > RO_COMPLETED_WITH_ERRORS ? RO_FAILED : st;
	TAILQ_INSERT_TAIL(&rollouts, r, entry);
	json_decref(o);
}

/* Load stored rollouts; resume the ones a stop or crash interrupted.
 * At start, after the schemas are loaded and the workers run. */
void
rollout_init(void)
{
	struct rollout	*r;

	if (catalog_job_each(server_catalog, rollout_load_cb, NULL) !=
	    CATALOG_OK)
		log_warnx("%s", catalog_strerror(server_catalog));
	TAILQ_FOREACH(r, &rollouts, entry) {
		if (ro_terminal(r->state)) {
			if (r->finished_ms == 0)
				r->finished_ms = r->created_ms;
			if (r->why[0] != '\0' && strncmp(r->why, "cannot resume",
			    13) == 0)
				rollout_persist(r, 1);
			continue;
		}
		log_info("rollout %llu: resuming schema %s to version %d "
		    "(%zu done, %zu failed before the restart)",
		    (unsigned long long)r->id, r->schema, r->to, r->done,
		    r->failed);
		rollout_plan(r);
	}
	rollout_trim_history();
}

/* Four times a second: flush batched catalog updates, save progress. */
void
rollout_tick(void)
{
	struct rollout	*r;
	uint64_t	 now = time_mono_us();

	TAILQ_FOREACH(r, &rollouts, entry) {
		if (r->ncv > 0 || (r->dirty && now - r->persisted_us > 1000000))
			rollout_persist(r, r->dirty || !ro_terminal(r->state));
	}
}

/* After the loop stopped (workers joined): save everything, free. */
void
rollout_shutdown(void)
{
	struct rollout	*r;

	while ((r = TAILQ_FIRST(&rollouts)) != NULL) {
		TAILQ_REMOVE(&rollouts, r, entry);
		if (r->ncv > 0 || !ro_terminal(r->state) || r->dirty)
			rollout_persist_now(r, 1, 1);
		rollout_free(r);
	}
}

/* Used by the status route. */
size_t
rollout_running(void)
{
	struct rollout	*r;
	size_t		 n = 0;

	TAILQ_FOREACH(r, &rollouts, entry)
		if (!ro_terminal(r->state))
			n++;
	return (n);
}
