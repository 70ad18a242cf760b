/*
 * server.c: request routing and the data plane (Hrana over HTTP).
 *
 * Every request arrives here on the loop that owns its connection.  Tenant
 * ids are validated before anything else, on every route.  A pipeline is
 * decoded and validated whole on the loop, without the state lock, then
 * runs as one job on the tenant's handle: on this loop when the tenant is
 * open and idle (pipeline_fast), otherwise on a worker; its done callback
 * settles the stream, makes the next baton and answers.
 *
 * A job never points at a connection: it holds the http_req, which http.c
 * keeps valid until the one reply (see http.c), and the stream it runs on
 * is marked busy so nothing else touches it meanwhile.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tenantd.h"
#include "token.h"

struct catalog		*server_catalog;
struct event_base	*server_base;
uint64_t		 server_start_ms;
static _Atomic int	 shutting_down;

int
server_shutting_down(void)
{
	return (shutting_down);
}

void
server_set_shutdown(void)
{
	shutting_down = 1;
}

/* Bytes reserved in front of the results for the envelope. */
#define PIPELINE_HEAD	128

struct pjob {
	struct job		 job;
	struct http_req		*req;
	struct hrana_pipeline	 p;
	struct stream		*s;
	struct sqlstore		 tmp;	/* stored SQL of a new stream */
	struct buf		 out;
	int			 closed;
	int			 in_txn;
};

static void
pipeline_run(struct job *j)
{
	struct pjob	*pj = (struct pjob *)j;
	struct handle	*h = j->h;

	if (h->deleted) {
		j->status = 404;
		j->errcode = "TENANT_NOT_FOUND";
		snprintf(j->errmsg, sizeof j->errmsg, "no such tenant");
		return;
	}
	if (h->db == NULL) {
		int rc = exec_open(h, j->errmsg, sizeof j->errmsg);
		if (rc != 0 && h->inline_run) {
			/* On a loop (pipeline_fast): a worker tries again, and
			 * answers the error if there is one. */
			h->inline_abort = 1;
			return;
		}
		if (rc == -2) {
			j->status = 503;
			j->errcode = "UNAVAILABLE";
			j->open_failed = 2;
			return;
		}
		if (rc != 0) {
			log_warnx("tenant %s: %s", h->le.key, j->errmsg);
			j->status = 500;
			j->errcode = "TENANT_UNAVAILABLE";
			return;
		}
		tenant_migrate_on_open(h);
	}
	/* Room in front for the envelope, filled in by pipeline_done once
	 * the baton is known, so the results are never copied again. */
	buf_init(&pj->out, 512);
	pj->out.len = PIPELINE_HEAD;
	if (j->readonly)
		exec_query_only(h, 1);
	exec_pipeline(h, &pj->p, pj->s ? &pj->s->sql : &pj->tmp, &pj->out,
	    &pj->closed, &pj->in_txn);
	if (j->readonly)
		exec_query_only(h, 0);
	/* Its answer may show the tenant's last commit: not before that is
	 * on disk (group commit, durable.c; 0 otherwise). */
	pj->req->sync_ticket = h->sync_ticket;
	j->status = 200;
}

static void
pjob_free(struct pjob *pj)
{
	hrana_pipeline_free(&pj->p);
	sqlstore_clear(&pj->tmp);
	buf_free(&pj->out);
	free(pj);
}

static void
pipeline_done(struct job *j)
{
	struct pjob	*pj = (struct pjob *)j;
	struct stream	*s = pj->s;
	char		 baton[64], head[PIPELINE_HEAD];
	int		 n;
	int		 have_baton = 0;

	if (j->status != 200) {
		if (s != NULL)
			s->busy = 0;
		if (j->open_failed == 2)
			cache_shrink();
		http_reply_error(pj->req, j->status, j->errcode, "%s", j->errmsg);
		pjob_free(pj);
		return;
	}
	if (s == NULL && !pj->closed) {
		s = stream_new(j->tid);
		s->sql = pj->tmp;
		pj->tmp.n = 0;
		s->busy = 1;
	}
	if (s != NULL) {
		stream_release(s, pj->closed, pj->in_txn, j->h);
		if (!pj->closed) {
			stream_baton(s, baton, sizeof baton);
			have_baton = 1;
		}
	}
	n = snprintf(head, sizeof head, "{\"baton\":%s%s%s,\"base_url\":null,"
	    "\"results\":[", have_baton ? "\"" : "", have_baton ? baton : "null",
	    have_baton ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof head)
		fatalx("pipeline_done: envelope too long");
	memcpy(pj->out.p + PIPELINE_HEAD - n, head, (size_t)n);
	buf_add(&pj->out, "]}", 2);
	http_reply_buf_from(pj->req, 200, "application/json", &pj->out,
	    PIPELINE_HEAD - (size_t)n);
	pjob_free(pj);
}

/* Answer a job that could not be queued, or was refused while waiting. */
static void
pipeline_refused(struct pjob *pj, const char *code, const char *msg)
{
	if (pj->s != NULL)
		pj->s->busy = 0;
	http_reply_error(pj->req, pj->job.status ? pj->job.status : 500, code,
	    "%s", msg);
	pjob_free(pj);
}

/*
 * The fast path, for a pipeline without a baton whose tenant is open and
 * idle: run it here, on the loop that read it, instead of handing it to a
 * worker and back.  Only requests that can be redone are tried (execute,
 * close, get_autocommit), and a write only when it is the pipeline's one
 * statement and commits need no fsync: exec.c stops the pipeline before
 * anything that would have an effect it cannot redo (a write otherwise, a
 * transaction), and stops any of it past a step budget (an interrupted
 * autocommit statement leaves no trace).  A stopped pipeline goes to a
 * worker as if it had just arrived.
 *
 * A tenant that is not cached is opened here too, as a worker would,
 * while this loop has no other request in hand and no other event ready
 * (cache_dispatch_cold says which files may be: made already, no
 * migration due).  The loop would only wait for the worker, at the cost
 * of a wake-up each way on top of the same open (bench: a cold tenant at
 * one connection, eight pairs: p50 median 256 -> 232 us; 3.8 -> 2.3
 * context switches per request).  A socket ready is a request that would
 * wait behind the open: under load, where a loop reads and handles its
 * requests one at a time, "nothing else in hand" alone let the loops open
 * every file themselves, serially, and their heaps fragmented around the
 * connections' memory (the bench's memory phase: 38 -> 45-52 KiB per idle
 * handle).  With more going on, the workers open files beside the loop.
 *
 * Called with the state lock held; returns 1 when it took the job
 * (answered it, or queued it for a worker) and released the lock, 0 when
 * the job still has to be dispatched (lock held).
 */
#define PIPELINE_FAST_STMTS	16

static int
pipeline_fast(struct pjob *pj)
{
	struct job	*j = &pj->job;
	struct handle	*h, *victim;
	const char	*code, *msg;
	size_t		 i, nexec = 0;
	int		 ran, cold, waited = 0;

	for (i = 0; i < pj->p.nreqs; i++) {
		switch (pj->p.reqs[i].type) {
		case HR_EXECUTE:
			/* The step budget does not count preparing: a long
			 * list of statements is a worker's. */
			if (++nexec > PIPELINE_FAST_STMTS)
				return (0);
			break;
		case HR_CLOSE:
		case HR_GET_AUTOCOMMIT:
			break;
		default:
			return (0);
		}
	}
	if ((h = cache_claim(j)) == NULL) {
		/* Not cached: while this loop has nothing else in hand
		 * and nothing else ready, it opens the file itself
		 * (below). */
		if (http_loop_inflight(pj->req) > 1 || loop_others_ready())
			return (0);
		if (cache_dispatch_cold(j, &h, &code, &msg) != 0) {
			pipeline_refused(pj, code, msg);
			state_unlock();
			return (1);
		}
		if (h == NULL) {
			state_unlock();		/* queued, or waiting */
			return (1);
		}
	}
	state_unlock();

	/*
	 * A tenant not open yet is opened here only from what the kernel
	 * has cached (exclvfs_nowait): a name, a page or anything else
	 * that would wait for the disk hands the job to a worker, which
	 * opens the file again.
	 */
	if ((cold = h->db == NULL))
		exclvfs_nowait(1);
	h->inline_run = 1;
	/* With group commit a commit does not fsync either: its answer
	 * waits for the sync round instead, off the loop.  One that starts
	 * the WAL over does (exec.c, wal_restart). */
	h->inline_write_ok = !cold && nexec == 1 && !h->wal_restart &&
	    (!cfg.synchronous_full || durable_active());
	h->inline_abort = 0;
	h->inline_ticks = 0;
	pipeline_run(j);
	h->inline_run = 0;
	if (cold && exclvfs_blocked()) {
		/* What ran saw a failed read: start over on a worker. */
		h->inline_abort = 1;
		waited = 1;
		if (h->db != NULL)
			handle_close_db(h);
	}
	if (cold)
		exclvfs_nowait(0);
	ran = !h->inline_abort;
	if (!ran) {
		/* Only reads ran, or a write SQLite rolled back whole; a
		 * transaction begun on the way is undone. */
		if (h->db != NULL && !sqlite3_get_autocommit(h->db))
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		h->inline_abort = 0;
		buf_free(&pj->out);
		pj->closed = pj->in_txn = 0;
		j->status = 0;
	}

	state_lock();
	if (waited)
		cache_stats.inline_open_waits++;
	cache_unclaim(j, ran);
	if (!ran) {
		state_unlock();		/* queued for a worker */
		return (1);
	}
	victim = j->victim;	/* a claimed miss's: closed after the answer */
	j->victim = NULL;
	if (j->status == 200 && pj->closed && pj->s == NULL) {
		/* No stream to settle: answer outside the lock. */
		state_unlock();
		pipeline_done(j);
		if (victim != NULL) {
			state_lock();
			cache_close_victim(victim);
			state_unlock();
		}
		return (1);
	}
	pipeline_done(j);
	cache_close_victim(victim);
	state_unlock();
	return (1);
}

static void
pipeline_start(struct http_req *req, const char *tid, size_t tidlen,
    int version)
{
	struct pjob	*pj;
	const char	*code, *msg;
	char		 err[512];

	req->route = ROUTE_PIPELINE;
	if (strcasecmp(req->method, "POST") != 0) {
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use POST for "
		    "the pipeline");
		return;
	}
	pj = xcalloc(1, sizeof *pj);
	pj->req = req;
	if (hrana_decode_pipeline(req->body, req->body_len, version, &pj->p,
	    err, sizeof err) != 0) {
		free(pj);
		http_reply_error(req, 400, "HRANA_PROTO_ERROR", "%s", err);
		return;
	}
	memcpy(pj->job.tid, tid, tidlen);
	pj->job.tidlen = tidlen;
	pj->job.run = pipeline_run;
	pj->job.done = pipeline_done;
	pj->job.readonly = req->readonly;
	pj->job.bounded = 1;
	state_lock();
	if (pj->p.baton != NULL) {
		if (stream_lookup(pj->p.baton, pj->p.baton_len, pj->job.tid,
		    &pj->s, &code, &msg) != 0) {
			state_unlock();
			pjob_free(pj);
			http_reply_error(req, 400, code, "%s", msg);
			return;
		}
		pj->job.stream_id = pj->s->id;
	} else {
		pj->job.batchable = 1;
		if (pipeline_fast(pj))
			return;		/* taken, unlocked */
	}
	if (cache_dispatch(&pj->job, &code, &msg) != 0)
		pipeline_refused(pj, code, msg);
	state_unlock();
}

/* The tenant named by x-namespace, or by the Host header's first label. */
static int
tenant_from_headers(struct http_req *req, char *tid, size_t *len,
    const char **why)
{
	const char	*ns, *host, *dot, *p;
	size_t		 n;

	if ((ns = http_header(req, "x-namespace")) != NULL) {
		n = strlen(ns);
		if ((*why = tid_error(ns, n)) != NULL)
			return (-1);
		memcpy(tid, ns, n);
		*len = n;
		return (0);
	}
	host = http_header(req, "Host");
	if (host == NULL || *host == '[' || (dot = strchr(host, '.')) == NULL) {
		*why = NULL;
		return (-1);
	}
	/* An IPv4 address names no tenant. */
	for (p = host; *p != '\0' && *p != ':'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			break;
	if (*p == '\0' || *p == ':') {
		*why = NULL;
		return (-1);
	}
	n = (size_t)(dot - host);
	if ((*why = tid_error(host, n)) != NULL)
		return (-1);
	memcpy(tid, host, n);
	*len = n;
	return (0);
}

/* rest: what follows the tenant part, e.g. "/v2/pipeline". */
static void
data_route(struct http_req *req, const char *tid, size_t tidlen,
    const char *rest)
{
	static const char hello[] = "Hello, this is HTTP API v2 (Hrana over "
	    "HTTP)\n";
	int	access;

	if (req->claims != NULL && !req->admin && tidlen > 0) {
		access = token_access(req->claims, tid, tidlen);
		if (access == TOKEN_ACCESS_NONE) {
			http_reply_error(req, 403, "FORBIDDEN", "the token does "
			    "not grant access to tenant %.*s", (int)tidlen, tid);
			return;
		}
		req->readonly = access == TOKEN_ACCESS_RO;
	}

	if (strcmp(rest, "/v2/pipeline") == 0) {
		pipeline_start(req, tid, tidlen, 2);
		return;
	}
	if (strcmp(rest, "/v3/pipeline") == 0) {
		pipeline_start(req, tid, tidlen, 3);
		return;
	}
	if (strcmp(rest, "/v2") == 0 || strcmp(rest, "/v3") == 0 ||
	    strcmp(rest, "/v2/") == 0 || strcmp(rest, "/v3/") == 0) {
		req->route = ROUTE_VERSION;
		if (strcasecmp(req->method, "GET") != 0 &&
		    strcasecmp(req->method, "HEAD") != 0) {
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED",
			    "use GET");
			return;
		}
		http_reply(req, 200, "text/plain", hello, sizeof hello - 1);
		return;
	}
	if (strcmp(rest, "/v3/cursor") == 0) {
		http_reply_error(req, 501, "NOT_IMPLEMENTED", "the Hrana cursor "
		    "endpoint is not served yet; use /v3/pipeline");
		return;
	}
	http_reply_error(req, 404, "NOT_FOUND", "no such route");
}

static void
serve_health(struct http_req *req)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	static const char bye[] = "{\"message\":\"tenantd is shutting down\","
	    "\"code\":\"UNAVAILABLE\",\"status\":\"stopping\"}";

	req->route = ROUTE_HEALTH;
	if (shutting_down)
		http_reply(req, 503, "application/json", bye, sizeof bye - 1);
	else
		http_reply(req, 200, "application/json", ok, sizeof ok - 1);
}

static void
serve_metrics(struct http_req *req)
{
	struct buf	b;

	req->route = ROUTE_METRICS;
	buf_init(&b, 4096);
	metrics_render(&b);
	http_reply_buf(req, 200, "text/plain; version=0.0.4", &b);
}

/* Uploads that go to a file instead of memory: tenant imports. */
int
server_body_policy(struct http_req *req)
{
	const char	*p = req->path, *slash;

	if (strcasecmp(req->method, "PUT") != 0 ||
	    strncmp(p, "/v1/tenants/", 12) != 0)
		return (0);
	slash = strchr(p + 12, '/');
	return (slash != NULL && slash > p + 12 &&
	    strcmp(slash, "/import") == 0);
}

/*
 * The one entry point for every parsed request, on the loop that owns its
 * connection, without the state lock: what touches shared state takes it
 * (the admin API and metrics whole, the data plane around its stream and
 * cache steps).
 */
void
server_handle(struct http_req *req)
{
	const char	*path = req->path, *slash, *why;
	char		 tid[TID_MAX * 3 + 1];
	size_t		 tidlen;

	if (strcmp(path, "/health") == 0) {
		serve_health(req);
		return;
	}
	req->admin = 1;
	if (req->tcp && !cfg.no_auth) {
		int	status;

		req->claims = xcalloc(1, sizeof *req->claims);
		state_lock();
		status = auth_check(req, req->claims, &why);
		state_unlock();
		if (status != 0) {
			http_reply_error(req, status, "UNAUTHORIZED", "%s", why);
			return;
		}
		req->admin = req->claims->kind == TOKEN_ADMIN;
	}
	if (shutting_down) {
		http_reply_error(req, 503, "UNAVAILABLE", "tenantd is shutting "
		    "down");
		return;
	}
	if (!req->admin && (strcmp(path, "/metrics") == 0 ||
	    strncmp(path, "/v1", 3) == 0)) {
		http_reply_error(req, 403, "FORBIDDEN", "a tenant token reaches "
		    "only its tenant's data; the admin API needs an admin token");
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		if (strcasecmp(req->method, "GET") != 0)
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED",
			    "use GET");
		else {
			state_lock();
			serve_metrics(req);
			state_unlock();
		}
		return;
	}
	if (strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0) {
		state_lock();
		admin_route(req, path, strlen(path));
		state_unlock();
		return;
	}
	if (strncmp(path, "/t/", 3) == 0) {
		path += 3;
		slash = strchr(path, '/');
		if (slash == NULL)
			slash = path + strlen(path);
		if (http_pct_decode(path, (size_t)(slash - path), tid,
		    sizeof tid - 1, &tidlen) != 0) {
			http_reply_error(req, 400, "INVALID_TENANT_ID", "tenant "
			    "id is not correctly percent-encoded");
			return;
		}
		if ((why = tid_error(tid, tidlen)) != NULL) {
			http_reply_error(req, 400, "INVALID_TENANT_ID", "%s",
			    why);
			return;
		}
		data_route(req, tid, tidlen, slash);
		return;
	}
	if (strncmp(path, "/v2", 3) == 0 || strncmp(path, "/v3", 3) == 0) {
		if (tenant_from_headers(req, tid, &tidlen, &why) != 0) {
			if (why != NULL)
				http_reply_error(req, 400, "INVALID_TENANT_ID",
				    "%s", why);
			else if (strcmp(path, "/v2") == 0 ||
			    strcmp(path, "/v3") == 0)
				data_route(req, "", 0, path);
			else
				http_reply_error(req, 400, "NO_TENANT", "no "
				    "tenant given: use the path /t/{tenant}/, "
				    "the x-namespace header, or a Host name "
				    "whose first label is the tenant");
			return;
		}
		data_route(req, tid, tidlen, path);
		return;
	}
	http_reply_error(req, 404, "NOT_FOUND", "no such route");
}
