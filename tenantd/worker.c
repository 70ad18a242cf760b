/*
 * worker.c: the worker pool.
 *
 * A loop pushes ready jobs onto a list of its own; once per loop
 * iteration (an active event queued behind the other ready events) that
 * list moves onto the run queue (mutex + condvar) under one lock, and as
 * many sleeping workers as there are new jobs are woken, after the unlock
 * so that they do not wake into a held mutex.  A fixed set of worker
 * threads pops jobs in FIFO order and runs job->run.  A finished job is
 * posted back to the loop that pushed it (loop.c), which runs job->done
 * under the state lock.  The cache only pushes a job whose handle is not
 * running another one, so a tenant's connection is used by one thread at
 * a time while different tenants run in parallel.
 *
 * Threads: worker_push is called on a loop with the state lock held;
 * the workers touch nothing but the job they run.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

static pthread_mutex_t	 runq_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 runq_cv = PTHREAD_COND_INITIALIZER;
static struct job_list	 runq = TAILQ_HEAD_INITIALIZER(runq);
static int		 runq_stop;
static int		 runq_idle;	/* workers waiting on runq_cv */
static _Atomic int	 runq_ready;	/* runq not empty (for worker_spin) */
/*
 * Upkeep (idle handles' trims, malloc_trim): run only when no request is
 * queued, and one at a time, so at most one worker is ever busy with it.
 * The idle release used to queue up to 1,024 trims at once (each a WAL
 * checkpoint with two fsyncs) in front of requests: a tenant's first read
 * after its trim waited behind them (bench: p99 of a half-of-peak select
 * run after update and mix runs, 1.5-38 ms over seven runs, median 6.3
 * ms; this way 2.0-3.1 ms over five).
 */
static struct job_list	 bgq = TAILQ_HEAD_INITIALIZER(bgq);	/* [runq_mtx] */
static int		 bg_running;				/* [runq_mtx] */

/* Each loop's jobs pushed during this iteration.  [that loop] */
struct pushq {
	struct job_list	 q;
	size_t		 n;
	struct event	*ev;	/* flushes q, made on first use */
};
static struct pushq	*pushqs;
static int		 npushqs;

static pthread_t	*workers;
static int		 nworkers;
static _Atomic size_t	 inflight;	/* pushed, not yet done */
static _Atomic size_t	 victims_posted;	/* of inflight: victims to free */

/*
 * Run the jobs batched behind j on the same handle (cache_kick), in order,
 * until one cannot go: the handle is not open, or the previous job left
 * its connection inside a transaction (that belongs to its stream now).
 * The rest is marked unrun and requeued by the loop.
 */
static void
worker_run_batch(struct job *j)
{
	struct job	*b;
	int		 stop = 0;

	TAILQ_FOREACH(b, &j->batch, entry) {
		if (!stop && (j->h == NULL || j->h->db == NULL ||
		    !sqlite3_get_autocommit(j->h->db)))
			stop = 1;
		if (stop) {
			b->unrun = 1;
			continue;
		}
		b->run(b);
	}
}

/*
 * Before sleeping, a worker may watch the run queue for a moment: on a
 * quiet daemon the next request of a client (or the next step of its
 * transaction) comes back within WORKER_SPIN_US and is picked up without
 * the futex wake-up and context switch, tens of microseconds on a VM
 * (bench: a cold request at one connection, p50 167 -> 101 us).  Only
 * when the daemon has at most the job just finished in flight (not
 * counting the evicted handles posted back to be freed, which need no
 * worker: counted, they kept a miss at the cap from ever spinning while
 * its loop had not yet taken them, 39% of cold requests at one
 * connection, p50 243-385 -> 203-257 us in six pairs) and no
 * other worker is running one, and one worker at a time: with more going
 * on, spinning takes CPU from the loop and the other workers (measured at
 * half of peak throughput: p50 180 -> 320 us when idle workers spun).
 * Nor while the loops have other requests in hand: under a busy load that
 * the loops serve themselves (the fast path), the few jobs a worker gets
 * come far apart, and its spins were 3% of the daemon's CPU in a Zipf
 * select over 10,000 tenants.  A job pushed while a worker spins wakes
 * no sleeping one (worker_flush_cb): it used to, for a sleeper to find
 * the queue already empty (70% of cold requests at one connection).
 * Nor after upkeep no client waits on (j->quiet: closing evicted
 * handles; background jobs): what follows it is not coming back soon,
 * and at one connection on cold tenants the spin after each close took
 * the CPU the loop and the client needed (p50 191-214 -> 165-168 us with
 * the loop's own poll, bench/README.md session 19).
 */
#define WORKER_SPIN_US	50

static _Atomic int	 spinning;
static _Atomic int	 running;	/* workers inside a job */

int
worker_busy(void)
{
	return (atomic_load(&running) != 0);
}

static void
worker_spin(void)
{
	uint64_t	 until;
	int		 zero = 0;

	if (atomic_load(&running) != 0 ||
	    atomic_load(&inflight) > atomic_load(&victims_posted) + 1 ||
	    http_inflight() > 1 ||
	    !atomic_compare_exchange_strong(&spinning, &zero, 1))
		return;
	until = time_mono_us() + WORKER_SPIN_US;
	while (!atomic_load_explicit(&runq_ready, memory_order_relaxed) &&
	    time_mono_us() < until)
		CPU_RELAX();
	atomic_store(&spinning, 0);
}

/*
 * Close the connection of a handle evicted to make room (j->victim).  The
 * handle is freed on the loop (cache_victim_free), posted as a job of its
 * own; until then it counts as in flight.
 */
static void
worker_close_victim(struct loop *l, struct handle *victim)
{
	struct job	*v;

	handle_close_evicted(victim);
	v = xcalloc(1, sizeof *v);
	v->arg = victim;
	v->done = cache_victim_free;
	v->victim_free = 1;
	atomic_fetch_add(&victims_posted, 1);
	atomic_fetch_add(&inflight, 1);
	loop_post(l, v);
}

static void *
worker_main(void *arg)
{
	struct job	*j;
	struct handle	*victim;
	struct loop	*l;
	int		 bg, late, spin = 0;

	thread_slice(0);	/* not the loops' short one: long SQL runs here */
	for (;;) {
		if (spin)
			worker_spin();
		pthread_mutex_lock(&runq_mtx);
		while (TAILQ_EMPTY(&runq) && (TAILQ_EMPTY(&bgq) ||
		    bg_running > 0) && !runq_stop) {
			runq_idle++;
			pthread_cond_wait(&runq_cv, &runq_mtx);
			runq_idle--;
		}
		bg = 0;
		if (!TAILQ_EMPTY(&runq)) {
			j = TAILQ_FIRST(&runq);
			TAILQ_REMOVE(&runq, j, entry);
			atomic_store(&runq_ready, !TAILQ_EMPTY(&runq));
		} else if (!TAILQ_EMPTY(&bgq) && (bg_running == 0 ||
		    runq_stop)) {
			j = TAILQ_FIRST(&bgq);
			TAILQ_REMOVE(&bgq, j, entry);
			j->bg_queued = 0;
			bg_running++;
			bg = 1;
		} else {	/* stopping, nothing left */
			pthread_mutex_unlock(&runq_mtx);
			break;
		}
		pthread_mutex_unlock(&runq_mtx);
		atomic_fetch_add(&running, 1);
		spin = !bg && !j->quiet;

		/* The connection of a handle evicted to make room closes
		 * once the answer of the miss that evicted it is on its way,
		 * or before the open when enough others are still closing
		 * (cache_place). */
		victim = j->victim;
		late = j->victim_late;
		l = j->loop;
		if (victim != NULL && !late)
			worker_close_victim(l, victim);
		if (j->run != NULL)
			j->run(j);
		worker_run_batch(j);
		if (victim != NULL && late) {
			loop_post(l, j);
			worker_close_victim(l, victim);
		}
		atomic_fetch_sub(&running, 1);
		if (bg) {
			/* The next upkeep job may go (to a sleeping worker). */
			pthread_mutex_lock(&runq_mtx);
			bg_running--;
			if (!TAILQ_EMPTY(&bgq) && runq_idle > 0)
				pthread_cond_signal(&runq_cv);
			pthread_mutex_unlock(&runq_mtx);
		}
		if (victim == NULL || !late)
			loop_post(l, j);
	}
	return (NULL);
}

/*
 * A finished job, back on the loop that pushed it, state lock held: run
 * its done callback (through the cache for a job bound to a handle).
 */
void
worker_complete(struct job *j)
{
	if (j->batch_done) {
		cache_batch_done(j);
		return;
	}
	inflight--;
	if (j->victim_free)
		victims_posted--;
	if (j->h != NULL)
		cache_job_done(j);	/* calls j->done */
	else
		j->done(j);
}

/* Loop: hand the jobs pushed during this iteration to the workers. */
static void
worker_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pushq	*pq = arg;
	size_t		 n = pq->n, wake;

	if (n == 0)
		return;
	pthread_mutex_lock(&runq_mtx);
	TAILQ_CONCAT(&runq, &pq->q, entry);
	atomic_store(&runq_ready, 1);
	/* A worker still spinning takes one job without a wake-up: it
	 * clears spinning before it takes runq_mtx, so while we hold the
	 * lock and see it set, it is yet to look at the queue. */
	if (atomic_load(&spinning) && n > 0)
		n--;
	wake = (size_t)runq_idle < n ? (size_t)runq_idle : n;
	pthread_mutex_unlock(&runq_mtx);
	pq->n = 0;
	if (wake == (size_t)nworkers)
		pthread_cond_broadcast(&runq_cv);
	else
		while (wake-- > 0)
			pthread_cond_signal(&runq_cv);
}

/* Start n workers (after loops_init).  Main thread, once. */
void
worker_start(int n)
{
	int	i, rc;

	npushqs = loop_count();
	pushqs = xcalloc((size_t)npushqs, sizeof *pushqs);
	for (i = 0; i < npushqs; i++)
		TAILQ_INIT(&pushqs[i].q);
	nworkers = n;
	workers = xcalloc((size_t)n, sizeof *workers);
	for (i = 0; i < n; i++) {
		if ((rc = pthread_create(&workers[i], NULL, worker_main,
		    NULL)) != 0) {
			errno = rc;
			fatal("worker: pthread_create");
		}
		thread_name(workers[i], "worker", i);
	}
}

/*
 * Queue j for a worker.  The caller has made sure its handle is free.
 * After worker_stop() (done callbacks at shutdown) the job runs at once on
 * the calling thread.
 */
void
worker_push(struct job *j)
{
	struct pushq	*pq;

	if (workers == NULL && runq_stop) {
		if (j->victim != NULL) {
			handle_close_evicted(j->victim);
			handle_free(j->victim);
			cache_victim_gone();
			j->victim = NULL;
		}
		if (j->run != NULL)
			j->run(j);
		worker_run_batch(j);
		inflight++;
		worker_complete(j);
		return;
	}
	if (j->loop == NULL)
		j->loop = loop_self;
	pq = &pushqs[loop_id(loop_self)];
	if (pq->ev == NULL && (pq->ev = event_new(loop_base(loop_self), -1, 0,
	    worker_flush_cb, pq)) == NULL)
		fatalx("worker: cannot create the run queue event");
	inflight++;
	j->t_queued = time_mono_us();
	TAILQ_INSERT_TAIL(&pq->q, j, entry);
	if (pq->n++ == 0)
		event_active(pq->ev, 0, 0);
}

/*
 * Queue the upkeep jobs on list (not bound to a request; list is left
 * empty): they run when no request waits, one upkeep job at a time.  One
 * lock and at most one wake-up for the lot.  A loop, state lock held.
 */
void
worker_push_backgrounds(struct job_list *list)
{
	struct job	*j;
	uint64_t	 now;
	int		 wake;

	if (workers == NULL && runq_stop) {
		while ((j = TAILQ_FIRST(list)) != NULL) {
			TAILQ_REMOVE(list, j, entry);
			worker_push(j);
		}
		return;
	}
	if (TAILQ_EMPTY(list))
		return;
	now = time_mono_us();
	TAILQ_FOREACH(j, list, entry) {
		if (j->loop == NULL)
			j->loop = loop_self;
		inflight++;
		j->t_queued = now;
		j->bg_queued = 1;
	}
	pthread_mutex_lock(&runq_mtx);
	TAILQ_CONCAT(&bgq, list, entry);
	wake = bg_running == 0 && runq_idle > 0;
	pthread_mutex_unlock(&runq_mtx);
	if (wake)
		pthread_cond_signal(&runq_cv);
}

/* worker_push_backgrounds for one job. */
void
worker_push_background(struct job *j)
{
	struct job_list	list;

	TAILQ_INIT(&list);
	TAILQ_INSERT_TAIL(&list, j, entry);
	worker_push_backgrounds(&list);
}

/*
 * Take upkeep j off its queue if no worker has started it: 1 if so (it
 * will never run; the caller undoes what its push did).  A loop, state
 * lock held.
 */
int
worker_cancel_background(struct job *j)
{
	int	took = 0;

	pthread_mutex_lock(&runq_mtx);
	if (j->bg_queued) {
		TAILQ_REMOVE(&bgq, j, entry);
		j->bg_queued = 0;
		took = 1;
	}
	pthread_mutex_unlock(&runq_mtx);
	if (took)
		inflight--;
	return (took);
}

/* Let the workers finish what is queued, then join them.  Loop, once. */
void
worker_stop(void)
{
	int	i;

	if (workers == NULL)
		return;
	for (i = 0; i < npushqs; i++)	/* the loops may not run it again */
		worker_flush_cb(-1, 0, &pushqs[i]);
	pthread_mutex_lock(&runq_mtx);
	runq_stop = 1;
	pthread_cond_broadcast(&runq_cv);
	pthread_mutex_unlock(&runq_mtx);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	workers = NULL;
	/* Run what finished after the loops stopped (frees, catalog acks). */
	loops_drain_all();
	for (i = 0; i < npushqs; i++)
		if (pushqs[i].ev != NULL)
			event_free(pushqs[i].ev);
	free(pushqs);
	pushqs = NULL;
}

int
worker_count(void)
{
	return (nworkers);
}

size_t
worker_inflight(void)
{
	return (inflight);
}
