/*
 * cache.c: the LRU handle cache and the per-tenant job queues.
 *
 * A handle is one tenant's SQLite connection.  It is created on the first
 * request for a tenant (a cache miss, after the catalog confirms the tenant
 * exists); the worker running its first job opens the file.  At most
 * cfg.max_open handles exist: to make room the least recently used idle
 * handle is evicted, and the worker that runs the new handle's first job
 * closes the victim's connection, after that job's answer is on its way
 * while fewer than CACHE_LATE_CLOSES victims are closing, else before
 * opening (cache_place); a loop that opened the new handle itself holds
 * the victim until it runs out of events (cache_close_victim, cache_idle).
 * So the cache holds at most CACHE_LATE_CLOSES connections over the cap,
 * for the time of a close.  A handle is pinned
 * (never a victim) while it has a job queued or running, or while a Hrana
 * stream holds a transaction on it.
 * When every handle is pinned, a miss waits on waitq until one frees up or
 * cfg.handle_wait_ms passes (then 503).
 *
 * Each handle runs one job at a time (h->running); its other jobs wait in
 * h->jobs.  While a stream owns the handle (open transaction), only that
 * stream's jobs, and forced ones, may run.
 *
 * On a loop with the state lock held, except handle_close_db() (worker),
 * the atomic open counter, and a handle claimed by cache_claim (its
 * claimer runs it, see server.c).
 */
#include "config.h"

#include <sys/resource.h>

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

static void	trim_run(struct job *);
static int	trims_running;

/* At most this many requests ride behind one in a batch (cache_kick). */
#define CACHE_BATCH_MAX	32

/*
 * A handle idle for --idle-release seconds gives its page cache back
 * (sqlite3_db_release_memory on a worker, as background upkeep: when no
 * request waits, one at a time); at most CACHE_TRIM_PER_TICK handles per
 * tick, once the last tick's are done, so that few handles sit pinned
 * behind a queued trim (a request takes a queued trim off the queue).
 * An idle handle then holds little more than its connection, schema, WAL
 * index and prepared statements.  A trimmed handle goes on the LRU's cold
 * list (lru_unpin_old): evicted before any other, and out of the tick's
 * walk, which starts at the old end of the idle list and so only visits
 * the handles it trims and the one that stops it, however many thousand
 * trimmed handles a mostly idle fleet has.  The heap is
 * trimmed at most every CACHE_MALLOC_TRIM_US: malloc_trim walks every
 * free chunk and the pages it returns fault back in when reused.
 */
#define CACHE_TRIM_PER_TICK	16

/*
 * A miss that evicts answers before the victim's connection closes (a
 * close is a third of a miss's work: bench, a cold tenant at one
 * connection, p50 130 -> 103 us), while fewer than this many victims are
 * closing: the cache's descriptors exceed the cap by at most twice that,
 * well inside what the default cap (CACHE_FD_SLACK) leaves for everything
 * else.  Room for a batch of held victims (CACHE_VICTIM_BATCH) and as
 * many closing on workers.
 */
#define CACHE_LATE_CLOSES	8
#define CACHE_MALLOC_TRIM_US	10000000
#define CACHE_REGROW_US		30000000	/* see cache_regrow */
#define CACHE_FD_SLACK		64

struct cache_stats	 cache_stats;
_Atomic long		 cache_open_handles;

static struct lru	 table;		/* tenant id -> struct handle */
static size_t		 cap;		/* cfg.max_open, lowered on EMFILE */
static uint64_t		 cap_lowered_at;	/* last cache_shrink (or regrow try) */
static uint64_t		 cap_regrow_us = CACHE_REGROW_US;
static struct lru	 busyids;	/* ids being created or deleted */
static struct job_list	 waitq = TAILQ_HEAD_INITIALIZER(waitq);
/* Client jobs queued on a handle, oldest first (for --queue-wait-ms). */
static TAILQ_HEAD(, job) queued = TAILQ_HEAD_INITIALIZER(queued);
static struct catalog	*cat;

static void	cache_wake_waiters(void);
static void	cache_regrow(uint64_t);

void
cache_init(struct catalog *c)
{
	const char	*env;

	cat = c;
	lru_init(&table, (size_t)cfg.max_open);
	cap = (size_t)cfg.max_open;
	lru_init(&busyids, 16);
	/* Tests of the cap's regrowth: a shorter wait. */
	if ((env = getenv("TENANTD_TEST_CACHE_REGROW_MS")) != NULL &&
	    strtoull(env, NULL, 10) > 0)
		cap_regrow_us = strtoull(env, NULL, 10) * 1000;
}

/* The file of tenant tid: DATA/tenants/SHARD/TID.db */
void
handle_path(const char *tid, size_t len, char *out, size_t size)
{
	snprintf(out, size, "%s/tenants/%02x/%.*s.db", cfg.data_dir,
	    tid_shard(tid, len), (int)len, tid);
}

static struct handle *
handle_new(const struct tenant_rec *r)
{
	struct handle	*h;
	size_t		 len = strlen(r->id);

	h = xcalloc(1, sizeof *h);
	handle_path(r->id, len, h->path, sizeof h->path);
	strlcpy_x(h->schema, r->schema, sizeof h->schema);
	h->set = r->schema[0] != '\0' ? schema_get(r->schema) : NULL;
	h->version = r->version;
	TAILQ_INIT(&h->jobs);
	if (lru_insert(&table, &h->le, r->id, len) != 0)
		fatalx("handle_new: %s already cached", r->id);
	h->in_table = 1;
	return (h);
}

/* Close the connection.  Worker (or loop at shutdown, workers stopped). */
void
handle_close_db(struct handle *h)
{
	int	i;

	for (i = 0; i < HANDLE_STMTS; i++) {
		if (h->stmts[i].st != NULL)
			sqlite3_finalize(h->stmts[i].st);
		free(h->stmts[i].sql);
		memset(&h->stmts[i], 0, sizeof h->stmts[i]);
	}
	if (h->db != NULL) {
		if (sqlite3_close(h->db) != SQLITE_OK)
			log_warnx("tenant %s: close: %s", h->le.key,
			    sqlite3_errmsg(h->db));
		h->db = NULL;
		cache_open_handles--;
	}
	h->ro_txn = 0;
}

/*
 * Close after a TRUNCATE checkpoint, leaving the database file complete
 * and the WAL empty (closing alone does not checkpoint, see exec_open).
 */
void
handle_close_clean(struct handle *h)
{
	exec_wal_checkpoint(h, SQLITE_CHECKPOINT_TRUNCATE);
	handle_close_db(h);
}

/*
 * Close a handle evicted to make room.  A WAL of CACHE_EVICT_CKPT_FRAMES
 * frames or more is put into the file first (handle_close_clean): every
 * later open would read it all back to rebuild its index, about 1.3 us a
 * frame (a 900-frame WAL: 1.35 ms per open against 0.12 ms), for as long as
 * the tenant is only read.  A smaller one stays: the checkpoint's two
 * fsyncs cost more than reading it back a few times.
 */
#define CACHE_EVICT_CKPT_FRAMES	256
void
handle_close_evicted(struct handle *h)
{
	if (h->db != NULL && h->wal_frames >= CACHE_EVICT_CKPT_FRAMES)
		handle_close_clean(h);
	else
		handle_close_db(h);
}

void
handle_free(struct handle *h)
{
	if (h->db != NULL)
		fatalx("handle_free: %s still open", h->le.key);
	schema_unref(h->set);
	free(h);
}

struct handle *
cache_find(const char *tid, size_t len)
{
	return ((struct handle *)lru_find(&table, tid, len));
}

/* Run the next runnable job of h if h is free. */
static void
cache_kick(struct handle *h)
{
	struct job	*j, *b;

	if (h->running != NULL)
		return;
	TAILQ_FOREACH(j, &h->jobs, entry) {
		if (h->owner == 0 || j->force || j->stream_id == h->owner)
			break;
	}
	if (j == NULL)
		return;
	TAILQ_REMOVE(&h->jobs, j, entry);
	if (j->bounded)
		TAILQ_REMOVE(&queued, j, qentry);
	h->running = j;
	/*
	 * A popular tenant collects requests while one runs.  Stateless
	 * pipelines queued right behind go to the same worker in one
	 * batch, run back to back on the handle: one hand-off to the
	 * workers and back instead of one per request.  The worker stops
	 * the batch where a job leaves a transaction open; what it did not
	 * run comes back to the front of the queue (cache_job_done).
	 */
	TAILQ_INIT(&j->batch);
	if (j->batchable && h->owner == 0) {
		int	 n = 0;

		while (n < CACHE_BATCH_MAX && (b = TAILQ_FIRST(&h->jobs)) != NULL &&
		    b->batchable && !b->front && !b->force) {
			TAILQ_REMOVE(&h->jobs, b, entry);
			if (b->bounded)
				TAILQ_REMOVE(&queued, b, qentry);
			b->unrun = 0;
			TAILQ_INSERT_TAIL(&j->batch, b, entry);
			n++;
		}
	}
	worker_push(j);
}

/* Take h's trim off the run queue if no worker has started it: 1 if so. */
static int
trim_cancel(struct handle *h)
{
	if (h->running == NULL || h->running->run != trim_run ||
	    !worker_cancel_background(h->running))
		return (0);
	free(h->running);
	h->running = NULL;
	trims_running--;
	lru_unpin(&table, &h->le);
	return (1);
}

/*
 * A stop has begun: the trims still queued will not run (the stop closes
 * every handle, cache_shutdown) and no new ones start (cache_trim_idle).
 * The stop waits for the jobs in flight, and each tick used to queue the
 * next trims before that check: with more idle handles than a tick trims,
 * a stop that found any job running sat out its whole grace period.
 */
void
cache_stop_upkeep(void)
{
	struct lru_entry	*e;
	size_t			 pos;

	for (e = lru_first(&table, &pos); e != NULL;
	    e = lru_next(&table, e, &pos))
		(void)trim_cancel((struct handle *)e);
}

/* Queue j on h (forced jobs go first) and run it when h is free. */
void
cache_submit(struct handle *h, struct job *j)
{
	/* A trim still waiting for a worker gives way: the tenant is not
	 * idle any more. */
	(void)trim_cancel(h);
	j->h = h;
	if (j->loop == NULL)
		j->loop = loop_self;	/* its done runs where it came from */
	lru_pin(&table, &h->le);
	if (j->bounded) {
		j->t_queued = time_mono_us();
		TAILQ_INSERT_TAIL(&queued, j, qentry);
	}
	if (j->front)
		TAILQ_INSERT_HEAD(&h->jobs, j, entry);
	else
		TAILQ_INSERT_TAIL(&h->jobs, j, entry);
	cache_kick(h);
}

static void
close_run(struct job *j)
{
	handle_close_db(j->arg);
}

static void
close_done(struct job *j)
{
	handle_free(j->arg);
	free(j);
}

/*
 * A worker closes the connection of handle arg, or of every handle in a
 * victim_batch (run), then its loop frees it (done).
 */
static void
close_push(void *arg, void (*run)(struct job *),
    void (*done)(struct job *))
{
	struct job	*j = xcalloc(1, sizeof *j);

	j->run = run;
	j->done = done;
	j->arg = arg;
	j->quiet = 1;
	worker_push(j);
}

/* Victims evicted by misses and not freed yet (worker_close_victim). */
static size_t	 victims_closing;

/* A victim's connection was closed (worker_close_victim): free it. */
void
cache_victim_free(struct job *j)
{
	close_done(j);
	cache_victim_gone();
}

void
cache_victim_gone(void)
{
	victims_closing--;
}

/* Free a handle that has left the table once nothing uses it. */
static void
cache_reap(struct handle *h)
{
	if (h->in_table || h->le.pins > 0 || h->running != NULL ||
	    !TAILQ_EMPTY(&h->jobs))
		return;
	if (h->db == NULL) {
		handle_free(h);
		return;
	}
	close_push(h, close_run, close_done);
}

/*
 * h has just become free (or left the table): run what waits on it, free
 * it if nothing needs it, and let waiting misses take a freed slot.
 */
static void
cache_settle(struct handle *h)
{
	cache_kick(h);
	cache_reap(h);
	cache_wake_waiters();
}

/* A job bound to a handle came back from its worker. */
void
cache_job_done(struct job *j)
{
	struct handle	*h = j->h;
	struct job_list	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct job_list	 unrun = TAILQ_HEAD_INITIALIZER(unrun);
	struct job	*b;

	h->running = NULL;
	TAILQ_CONCAT(&batch, &j->batch, entry);
	j->done(j);			/* may free j */
	lru_unpin(&table, &h->le);
	while ((b = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, b, entry);
		if (b->unrun) {
			TAILQ_INSERT_TAIL(&unrun, b, entry);
			continue;
		}
		if (!loop_mine(b->loop)) {
			/* Its connection is another loop's: answer there. */
			b->batch_done = 1;
			loop_post(b->loop, b);
			continue;
		}
		cache_stats.batched++;
		b->done(b);
		lru_unpin(&table, &h->le);
	}
	/* Not run: back to the front, in order, with their pins. */
	while ((b = TAILQ_LAST(&unrun, job_list)) != NULL) {
		TAILQ_REMOVE(&unrun, b, entry);
		if (b->bounded)
			TAILQ_INSERT_HEAD(&queued, b, qentry);
		TAILQ_INSERT_HEAD(&h->jobs, b, entry);
	}
	h->idle_since = time_mono_us();
	h->trimmed = 0;
	cache_settle(h);
}

/* A batched job, posted to its own loop by cache_job_done.  [loop] */
void
cache_batch_done(struct job *b)
{
	struct handle	*h = b->h;

	cache_stats.batched++;
	b->done(b);
	lru_unpin(&table, &h->le);
	cache_reap(h);
	cache_wake_waiters();
}

static int	 trims_since_malloc_trim;
static uint64_t	 last_malloc_trim;

/* Return the heap pages the trims freed to the system (a worker). */
static void
malloc_trim_run(struct job *j)
{
	malloc_trim(0);
}

static void
malloc_trim_done(struct job *j)
{
	free(j);
}

static void
trim_run(struct job *j)
{
	struct handle	*h = j->arg;

	if (h->db == NULL)
		return;
	/* Its WAL's disk space too: a tenant left open but idle keeps an
	 * empty -wal file. */
	exec_wal_checkpoint(h, SQLITE_CHECKPOINT_TRUNCATE);
	sqlite3_db_release_memory(h->db);
}

static void
trim_done(struct job *j)
{
	struct handle	*h = j->arg;

	free(j);
	h->running = NULL;
	h->trimmed = 1;
	cache_stats.trims++;
	lru_unpin_old(&table, &h->le);	/* the cold list */
	trims_since_malloc_trim++;
	trims_running--;
	cache_settle(h);
}

static void
ckpt_run(struct job *j)
{
	exec_checkpoint(j->arg);
}

static void
ckpt_done(struct job *j)
{
	struct handle	*h = j->arg;

	free(j);
	h->running = NULL;
	lru_unpin(&table, &h->le);
	cache_settle(h);
}

/*
 * Run the WAL checkpoint a fast-path commit left due, on a worker, ahead
 * of the handle's queued jobs (h is free).
 */
static void
cache_checkpoint(struct handle *h)
{
	struct job	*j;

	j = xcalloc(1, sizeof *j);
	j->run = ckpt_run;
	j->done = ckpt_done;
	j->arg = h;
	lru_pin(&table, &h->le);
	h->running = j;
	cache_stats.checkpoints++;
	worker_push(j);
}

/* Give back the page cache of handles idle for a while (cache_tick). */
static void
cache_trim_idle(uint64_t now)
{
	struct lru_entry	*e, *prev;
	struct handle		*h;
	struct job		*j;
	struct job_list		 trims = TAILQ_HEAD_INITIALIZER(trims);
	uint64_t		 after = (uint64_t)cfg.idle_release_s * 1000000;
	int			 n = 0;

	if (cfg.idle_release_s == 0 || server_shutting_down())
		return;		/* a stop closes every handle anyway */
	if (trims_running == 0 && trims_since_malloc_trim > 0 &&
	    (last_malloc_trim == 0 ||
	    now - last_malloc_trim >= CACHE_MALLOC_TRIM_US)) {
		/* Freed chunks stay in malloc's heap, counted in RSS, until
		 * trimmed: once the trims of a tick are done, at most every
		 * CACHE_MALLOC_TRIM_US. */
		last_malloc_trim = now;
		trims_since_malloc_trim = 0;
		j = xcalloc(1, sizeof *j);
		j->run = malloc_trim_run;
		j->done = malloc_trim_done;
		worker_push_background(j);
	}
	if (trims_running > 0)
		return;		/* the last tick's are still going */
	for (e = TAILQ_LAST(&table.idle, lru_list); e != NULL &&
	    n < CACHE_TRIM_PER_TICK; e = prev) {
		prev = TAILQ_PREV(e, lru_list, idle);
		h = (struct handle *)e;
		if (!h->trimmed && now - h->idle_since < after)
			break;		/* the rest were used more recently */
		if (h->trimmed && h->running == NULL) {
			/* Put back on the idle list without its mark
			 * cleared (no path does that today): to the cold
			 * list, out of the next ticks' way. */
			lru_pin(&table, e);
			lru_unpin_old(&table, e);
			continue;
		}
		if (h->trimmed || h->db == NULL || h->running != NULL)
			continue;
		j = xcalloc(1, sizeof *j);
		j->run = trim_run;
		j->done = trim_done;
		j->arg = h;
		lru_pin(&table, e);	/* not a victim while it runs */
		h->running = j;
		trims_running++;
		TAILQ_INSERT_TAIL(&trims, j, entry);
		n++;
	}
	worker_push_backgrounds(&trims);	/* one lock, one wake-up */
}

/* h runs j on the calling loop (the fast path), pinned.  [loop] */
static struct handle *
handle_claim(struct handle *h, struct job *j)
{
	cache_stats.inline_runs++;
	j->h = h;
	j->loop = loop_self;
	lru_pin(&table, &h->le);
	h->running = j;
	return (h);
}

/*
 * The victims of misses a loop opened itself (cache_dispatch_cold) are
 * held after the answers, and closed by the first loop to run out of
 * events (cache_idle: its answers are out by then, and a close is only
 * a few descriptors and frees when nothing is left to checkpoint), or
 * by a worker once CACHE_VICTIM_BATCH are held (a busy loop: one wake-up
 * of a worker, and one post back, for the batch instead of one each),
 * or at the next tick.  Handing each to a worker as it came cost the
 * loop a wake-up of a sleeping worker and the worker's post back, a
 * tenth of its time at one connection on cold tenants (bench/README.md,
 * session 19).  Until closed, they count as closing (victims_closing):
 * their descriptors are open.
 */
#define CACHE_VICTIM_BATCH	4

struct victim_batch {
	size_t		 n;
	struct handle	*h[CACHE_VICTIM_BATCH];
};
static struct victim_batch	*held;
static _Atomic int		 held_any;	/* held != NULL, unlocked */

static void
victim_batch_run(struct job *j)
{
	struct victim_batch	*b = j->arg;
	size_t			 i;

	for (i = 0; i < b->n; i++)
		handle_close_evicted(b->h[i]);
}

static void
victim_batch_done(struct job *j)
{
	struct victim_batch	*b = j->arg;
	size_t			 i;

	for (i = 0; i < b->n; i++) {
		handle_free(b->h[i]);
		cache_victim_gone();
	}
	free(b);
	free(j);
}

/* The held victims, taken off the list.  [locked] */
static struct victim_batch *
victim_batch_take(void)
{
	struct victim_batch	*b = held;

	held = NULL;
	atomic_store(&held_any, 0);
	return (b);
}

/* Hand the held victims to a worker.  [locked] */
static void
victim_batch_push(void)
{
	if (held != NULL)
		close_push(victim_batch_take(), victim_batch_run,
		    victim_batch_done);
}

/*
 * Hold the victim a claimed miss evicted (cache_dispatch_cold) to be
 * closed once the job has run on the loop (above).  [loop, locked]
 */
void
cache_close_victim(struct handle *victim)
{
	if (victim == NULL)
		return;
	if (held == NULL) {
		held = xcalloc(1, sizeof *held);
		atomic_store(&held_any, 1);
	}
	held->h[held->n++] = victim;
	if (held->n == CACHE_VICTIM_BATCH)
		victim_batch_push();
}

/* Whether cache_idle has anything to do.  [any thread, unlocked] */
int
cache_idle_pending(void)
{
	return (atomic_load_explicit(&held_any, memory_order_relaxed));
}

/*
 * The calling loop has run out of events: close the held victims that
 * have nothing to checkpoint here, hand the others to a worker.  [loop,
 * unlocked]
 */
void
cache_idle(void)
{
	struct victim_batch	*b;
	struct handle		*h, *closed[CACHE_VICTIM_BATCH];
	size_t			 i, n = 0, keep = 0;

	if (!atomic_load_explicit(&held_any, memory_order_relaxed))
		return;
	state_lock();
	b = victim_batch_take();
	state_unlock();
	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		h = b->h[i];
		if (h->db != NULL && h->wal_frames >= CACHE_EVICT_CKPT_FRAMES) {
			b->h[keep++] = h;	/* a checkpoint: a worker's */
			continue;
		}
		handle_close_db(h);
		closed[n++] = h;
	}
	b->n = keep;
	state_lock();
	for (i = 0; i < n; i++) {
		handle_free(closed[i]);
		cache_victim_gone();
	}
	if (keep > 0)
		close_push(b, victim_batch_run, victim_batch_done);
	else
		free(b);
	state_unlock();
}

/*
 * Whether the calling loop may open h's file itself (cache_dispatch_cold):
 * the file was made (making one writes) and is opened through exclvfs.c's
 * VFS (its non-blocking mode, if the system has it), no migration is due
 * on open, and not too many evicted handles are still closing (the miss
 * could not wait for a close).
 */
static int
cache_cold_inline_ok(struct handle *h, const struct tenant_rec *rec)
{
	return (rec->materialized && !cfg.shared_files &&
	    exclvfs_nowait_works() &&
	    (h->set == NULL || h->version >= migrate_set_latest(h->set->set)) &&
	    victims_closing < CACHE_LATE_CLOSES);
}

/*
 * Give j a handle for a tenant that is not cached: make room if needed.
 * Returns 0 (submitted or waiting) or -1 with *code and *msg.  With claim,
 * a handle the calling loop may open itself is claimed for j instead (as
 * by cache_claim, not open yet) and returned there; the victim it evicted
 * is closed by a worker.
 */
static int
cache_place(struct job *j, struct handle **claim, const char **code,
    const char **msg)
{
	struct tenant_rec	 rec;
	struct lru_entry	*victim = NULL;
	struct handle		*h;
	int			 rc;

	if (cache_busy_id(j->tid, j->tidlen)) {
		j->status = 404;
		*code = "TENANT_NOT_FOUND";
		*msg = "tenant is being created or deleted";
		return (-1);
	}
	rc = catalog_get(cat, j->tid, j->tidlen, &rec);
	if (rc == CATALOG_NOTFOUND || (rc == CATALOG_OK &&
	    (rec.state == TENANT_CREATING || rec.state == TENANT_DELETING))) {
		j->status = 404;
		*code = "TENANT_NOT_FOUND";
		*msg = "no such tenant";
		return (-1);
	}
	if (rc != CATALOG_OK) {
		log_warnx("%s", catalog_strerror(cat));
		j->status = 500;
		*code = "INTERNAL";
		*msg = "the catalog could not be read";
		return (-1);
	}
	if (table.count >= cap) {
		if ((victim = lru_victim(&table)) == NULL) {
			TAILQ_INSERT_TAIL(&waitq, j, entry);
			j->t_queued = time_mono_us();
			return (0);
		}
		lru_remove(&table, victim);
		((struct handle *)victim)->in_table = 0;
		cache_stats.evictions++;
		log_debug("tenant %s: evicted to make room for %s",
		    victim->key, rec.id);
	}
	cache_stats.misses++;
	h = handle_new(&rec);
	if (claim != NULL && cache_cold_inline_ok(h, &rec)) {
		cache_stats.inline_opens++;
		*claim = handle_claim(h, j);
		if (victim != NULL) {
			/* Closed after the answer (cache_close_victim), or by
			 * the worker the job may go to, as any late one. */
			j->victim = (struct handle *)victim;
			j->victim_late = 1;
			victims_closing++;
		}
		return (0);
	}
	if (victim != NULL) {
		j->victim = (struct handle *)victim;
		j->victim_late = victims_closing < CACHE_LATE_CLOSES;
		victims_closing++;
	}
	cache_submit(h, j);
	return (0);
}

/*
 * Route a data-plane job to its tenant's handle.  Returns 0 when the job is
 * queued (its done callback will run), or -1 with j->status and an error
 * code and message when it cannot be (the caller answers).
 */
int
cache_dispatch(struct job *j, const char **code, const char **msg)
{
	struct handle	*h;

	if ((h = cache_find(j->tid, j->tidlen)) != NULL) {
		cache_stats.hits++;
		cache_submit(h, j);
		return (0);
	}
	return (cache_place(j, NULL, code, msg));
}

/*
 * The fast path for a tenant that is not cached (server.c): as
 * cache_dispatch, but a new handle whose file the calling loop may open
 * itself is claimed for j (as by cache_claim, with h->db NULL) and put in
 * *claim; otherwise *claim is NULL and j was queued, or refused (-1).
 * [loop]
 */
int
cache_dispatch_cold(struct job *j, struct handle **claim, const char **code,
    const char **msg)
{
	*claim = NULL;
	if (cache_find(j->tid, j->tidlen) != NULL)
		return (cache_dispatch(j, code, msg));
	return (cache_place(j, claim, code, msg));
}

/*
 * The fast path (server.c): claim the cached handle of j's tenant for the
 * calling loop if it is open, idle and nothing waits on it.  Returns the
 * handle, running j and pinned, or NULL.  The caller then runs j itself
 * without the state lock and gives the handle back with cache_unclaim.
 * [loop]
 */
struct handle *
cache_claim(struct job *j)
{
	struct handle	*h;

	/* Not a trimmed handle: idle long enough to have given its pages
	 * back, its next read may wait on the disk, which is a worker's
	 * job, not a loop's. */
	if ((h = cache_find(j->tid, j->tidlen)) == NULL || h->running != NULL ||
	    h->db == NULL || h->deleted || h->owner != 0 || h->trimmed ||
	    !TAILQ_EMPTY(&h->jobs))
		return (NULL);
	cache_stats.hits++;
	return (handle_claim(h, j));
}

/*
 * Give back a handle claimed by cache_claim.  ran: j ran to the end;
 * otherwise it had no effect and goes to the front of the handle's queue,
 * for a worker.  [loop]
 */
void
cache_unclaim(struct job *j, int ran)
{
	struct handle	*h = j->h;

	h->running = NULL;
	lru_unpin(&table, &h->le);
	if (!ran) {
		cache_stats.inline_runs--;
		cache_stats.inline_handoffs++;
		j->front = 1;
		cache_submit(h, j);
		return;
	}
	h->idle_since = time_mono_us();
	h->trimmed = 0;
	if (h->ckpt_due)
		cache_checkpoint(h);	/* runs before what is queued */
	cache_settle(h);
}

static void
cache_fail_job(struct job *j, int status, const char *code, const char *msg)
{
	j->status = status;
	j->errcode = code;
	strlcpy_x(j->errmsg, msg, sizeof j->errmsg);
	j->done(j);
}

static void
cache_wake_waiters(void)
{
	struct job	*j;
	const char	*code, *msg;

	while ((j = TAILQ_FIRST(&waitq)) != NULL) {
		if (cache_find(j->tid, j->tidlen) == NULL &&
		    table.count >= cap &&
		    lru_victim(&table) == NULL)
			return;
		TAILQ_REMOVE(&waitq, j, entry);
		if (cache_dispatch(j, &code, &msg) != 0)
			cache_fail_job(j, j->status, code, msg);
	}
}

/* Each tick: requests that waited too long get 503. */
void
cache_tick(void)
{
	struct job	*j, *next;
	struct handle	*h;
	uint64_t	 now = time_mono_us();

	/* Queued behind a tenant's long migration or transaction. */
	while ((j = TAILQ_FIRST(&queued)) != NULL &&
	    now - j->t_queued >= (uint64_t)cfg.queue_wait_ms * 1000) {
		h = j->h;
		TAILQ_REMOVE(&queued, j, qentry);
		TAILQ_REMOVE(&h->jobs, j, entry);
		cache_stats.wait_timeouts++;
		cache_fail_job(j, 503, "UNAVAILABLE", "the request waited too "
		    "long behind other work on this tenant (a migration or a "
		    "transaction); try again");
		lru_unpin(&table, &h->le);
		cache_reap(h);
	}

	for (j = TAILQ_FIRST(&waitq); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (now - j->t_queued < (uint64_t)cfg.handle_wait_ms * 1000)
			continue;
		TAILQ_REMOVE(&waitq, j, entry);
		cache_stats.wait_timeouts++;
		cache_fail_job(j, 503, "UNAVAILABLE", "every tenant handle is "
		    "busy (raise --max-open); try again");
	}
	victim_batch_push();
	cache_regrow(now);
	cache_trim_idle(now);
}

/*
 * How far the cap moves at a time when descriptors run out, and back:
 * 1/128 of the handles (at least 4; 77 of 9,936, i.e. 154 descriptors),
 * so that a burst of connections costs a cache of that size a few dozen
 * handles per step, not a quarter of them.
 */
static size_t
cap_step(size_t n)
{
	return (n / 128 > 4 ? n / 128 : 4);
}

/*
 * The process ran out of file descriptors opening a tenant (connections
 * and handles share the fd limit): lower the cap a step below the handles
 * open now and close idle handles down to it, so that the cache yields
 * descriptors instead of failing opens over and over.
 *
 * Handles evicted here close on workers, and until they have, their
 * descriptors still count in cache_open_handles: while more are open than
 * the cap and the victims of misses still closing, a shrink is on its way
 * and further EMFILEs (every open that was in flight fails at once) do not
 * lower it again.  Lowering from the table
 * instead, which the evicted handles leave at once, took a cap of 9,936
 * down to 15 in one burst of 128 connections.
 */
void
cache_shrink(void)
{
	struct lru_entry	*v;
	struct handle		*h;
	long			 n = atomic_load(&cache_open_handles);
	size_t			 open, want;

	cap_lowered_at = time_mono_us();
	open = n > 0 ? (size_t)n : 0;
	if (open > cap + victims_closing)
		return;
	want = open > cap_step(open) ? open - cap_step(open) : 0;
	if (want < 4)
		want = 4;
	if (want >= cap)
		return;
	log_warnx("out of file descriptors: handle cache cap %zu -> %zu", cap,
	    want);
	cap = want;
	while (table.count > cap && (v = lru_victim(&table)) != NULL) {
		lru_remove(&table, v);
		h = (struct handle *)v;
		h->in_table = 0;
		cache_stats.evictions++;
		close_push(h, close_run, close_done);
	}
}

/* Descriptors open in this process, or -1. */
static long
fds_open(void)
{
	DIR		*d;
	struct dirent	*de;
	long		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);		/* the directory's own */
}

/*
 * A cap lowered by cache_shrink grows back a step at a time toward
 * --max-open, at most every cap_regrow_us, as far as the descriptors free
 * now allow: if the cache filled up to the new cap, CACHE_FD_SLACK would
 * still be left for new connections.  Counting /proc/self/fd costs about
 * a millisecond at 20,000 descriptors, and only a lowered cap pays it.
 */
static void
cache_regrow(uint64_t now)
{
	struct rlimit	rl;
	long		n, h = atomic_load(&cache_open_handles);
	size_t		per = cfg.shared_files ? 3 : 2, open, want;

	if (cap >= (size_t)cfg.max_open || now - cap_lowered_at < cap_regrow_us)
		return;
	cap_lowered_at = now;
	if ((n = fds_open()) < 0 || getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return;
	open = h > 0 ? (size_t)h : 0;
	want = cap + cap_step(cap);
	if (want > (size_t)cfg.max_open)
		want = (size_t)cfg.max_open;
	if (open > want || (long long)rl.rlim_cur - n <
	    (long long)((want - open) * per + CACHE_FD_SLACK))
		return;
	log_info("descriptors free again: handle cache cap %zu -> %zu", cap,
	    want);
	cap = want;
	cache_wake_waiters();
}

size_t
cache_cap(void)
{
	return (cap);
}

/* Take tenant tid's handle out of the table (for delete).  NULL if none. */
struct handle *
cache_detach(const char *tid, size_t len)
{
	struct handle	*h;

	if ((h = cache_find(tid, len)) == NULL)
		return (NULL);
	lru_remove(&table, &h->le);
	h->in_table = 0;
	cache_wake_waiters();
	return (h);
}

void
cache_set_owner(struct handle *h, uint64_t stream)
{
	h->owner = stream;
	lru_pin(&table, &h->le);
}

void
cache_clear_owner(struct handle *h, uint64_t stream)
{
	if (h->owner != stream)
		return;
	h->owner = 0;
	lru_unpin(&table, &h->le);
	cache_settle(h);
}

size_t
cache_count(void)
{
	return (table.count);
}

/* Ids with a create or delete in flight: requests for them see 404. */
int
cache_busy_id(const char *tid, size_t len)
{
	return (lru_find(&busyids, tid, len) != NULL);
}

void
cache_busy_add(const char *tid, size_t len)
{
	struct lru_entry	*e = xcalloc(1, sizeof *e);

	if (lru_insert(&busyids, e, tid, len) != 0)
		fatalx("cache_busy_add: duplicate");
}

void
cache_busy_del(const char *tid, size_t len)
{
	struct lru_entry	*e;

	if ((e = lru_find(&busyids, tid, len)) != NULL) {
		lru_remove(&busyids, e);
		free(e);
	}
}

/*
 * Shutdown closes the handles on this many threads at once: most of a
 * close is waiting on the disk (with the file system mounted -o discard,
 * emptying a WAL waits for the discard of its blocks), and the waits
 * overlap.
 */
#define CACHE_CLOSE_THREADS	8

/* The handles of one shutdown, and how far each stage got. */
struct close_pass {
	struct handle	**hs;
	size_t		  n;
	_Atomic size_t	  next;
	int		  stage;	/* CLOSE_COPY, CLOSE_CLEAN, CLOSE_KEEP */
	_Atomic int	  copied;	/* a WAL had frames */
};
#define CLOSE_COPY	0	/* WAL into the database file, no sync */
#define CLOSE_CLEAN	1	/* empty the WAL and close */
#define CLOSE_KEEP	2	/* close, the WAL kept as it is */

static void *
close_pass_main(void *arg)
{
	struct close_pass	*p = arg;
	struct handle		*h;
	size_t			 i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		h = p->hs[i];
		switch (p->stage) {
		case CLOSE_COPY:
			if (exec_wal_backfill(h) > 0)
				atomic_store(&p->copied, 1);
			break;
		case CLOSE_CLEAN:
			crash_point("shutdown-close");
			handle_close_clean(h);
			break;
		default:
			handle_close_db(h);
			break;
		}
	}
	return (NULL);
}

/* Run one stage over every handle, on up to CACHE_CLOSE_THREADS threads. */
static void
close_pass_run(struct close_pass *p, int stage)
{
	pthread_t	t[CACHE_CLOSE_THREADS - 1];
	size_t		want;
	int		i, n = 0;

	p->stage = stage;
	atomic_store(&p->next, 0);
	want = p->n / 64;	/* a thread for each 64 handles */
	while ((size_t)n < want && n < CACHE_CLOSE_THREADS - 1 &&
	    pthread_create(&t[n], NULL, close_pass_main, p) == 0)
		n++;
	close_pass_main(p);	/* this thread too, alone if none started */
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/*
 * Close every handle, leaving each tenant's database file complete and
 * its WAL empty.  Instead of a checkpoint with two fsyncs per tenant
 * (handle_close_clean alone: 10,000 handles open after a run of updates
 * took 10 s, longer than a supervisor's stop timeout, and the bench
 * harness's 15 s were not enough after FULL updates: killed, it left
 * every WAL to be read back at each later open), every WAL is copied into
 * its database without a sync, one syncfs puts all of it on disk, and
 * only then are the WALs emptied (nothing left to copy, so no sync).  If
 * the syncfs fails the WALs stay as they are: the next open reads them
 * back.  A WAL the copy failed on is copied and synced by its own
 * checkpoint.  Workers are stopped: runs on the main thread.
 */
void
cache_shutdown(void)
{
	struct lru_entry	*e, *next;
	struct close_pass	 p;
	struct job		*j;
	size_t			 pos;
	int			 fd, keep = 0;

	while ((j = TAILQ_FIRST(&waitq)) != NULL) {
		TAILQ_REMOVE(&waitq, j, entry);
		cache_fail_job(j, 503, "UNAVAILABLE", "tenantd is shutting down");
	}
	memset(&p, 0, sizeof p);
	p.hs = xcalloc(table.count + CACHE_VICTIM_BATCH + 1, sizeof *p.hs);
	for (e = lru_first(&table, &pos); e != NULL; e = next) {
		next = lru_next(&table, e, &pos);
		lru_remove(&table, e);
		p.hs[p.n++] = (struct handle *)e;
	}
	/* Victims waiting for their batch close as the cached do. */
	for (pos = 0; held != NULL && pos < held->n; pos++) {
		p.hs[p.n++] = held->h[pos];
		cache_victim_gone();
	}
	free(held);
	held = NULL;
	close_pass_run(&p, CLOSE_COPY);
	crash_point("shutdown-after-copy");
	if (atomic_load(&p.copied)) {
		if ((fd = open(cfg.data_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1 || syncfs(fd) == -1) {
			log_warn("shutdown: syncfs of %s (WALs kept)",
			    cfg.data_dir);
			keep = 1;
		}
		if (fd != -1)
			close(fd);
	}
	close_pass_run(&p, keep ? CLOSE_KEEP : CLOSE_CLEAN);
	for (pos = 0; pos < p.n; pos++)
		handle_free(p.hs[pos]);
	free(p.hs);
	lru_free(&table);
	for (e = lru_first(&busyids, &pos); e != NULL; e = next) {
		next = lru_next(&busyids, e, &pos);
		lru_remove(&busyids, e);
		free(e);
	}
	lru_free(&busyids);
}
