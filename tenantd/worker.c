/*
 * worker.c: the worker pool and the completion queue.
 *
 * The loop pushes ready jobs onto a list of its own; once per loop
 * iteration (an active event queued behind the other ready events) that
 * list moves onto the run queue (mutex + condvar) under one lock, and as
 * many sleeping workers as there are new jobs are woken, after the unlock
 * so that they do not wake into a held mutex.  A fixed set of worker
 * threads pops jobs in FIFO order and runs job->run.  A
 * finished job goes onto the completion queue, and an eventfd wakes the
 * loop, which runs job->done for everything queued.  The cache only pushes
 * a job whose handle is not running another one, so a tenant's connection
 * is used by one thread at a time while different tenants run in parallel.
 *
 * Threads: worker_push/worker_stop and the completion callback are loop
 * only; the workers touch nothing but the job they run.
 */
#include "config.h"

#include <sys/eventfd.h>

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

static struct job_list	 pushq = TAILQ_HEAD_INITIALIZER(pushq);	/* [loop] */
static size_t		 npushq;
static struct event	*flush_ev;

static pthread_mutex_t	 doneq_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct job_list	 doneq = TAILQ_HEAD_INITIALIZER(doneq);
static int		 done_fd = -1;
static struct event	*done_ev;

static pthread_t	*workers;
static int		 nworkers;
static _Atomic size_t	 inflight;	/* pushed, not yet done */

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
 * when the daemon has at most the job just finished in flight and no
 * other worker is running one, and one worker at a time: with more going
 * on, spinning takes CPU from the loop and the other workers (measured at
 * half of peak throughput: p50 180 -> 320 us when idle workers spun).
 */
#define WORKER_SPIN_US	50

static _Atomic int	 spinning;
static _Atomic int	 running;	/* workers inside a job */

static void
worker_spin(void)
{
	uint64_t	 until;
	int		 zero = 0;

	if (atomic_load(&running) != 0 || atomic_load(&inflight) > 1 ||
	    !atomic_compare_exchange_strong(&spinning, &zero, 1))
		return;
	until = time_mono_us() + WORKER_SPIN_US;
	while (__atomic_load_n(&TAILQ_FIRST(&runq), __ATOMIC_RELAXED) ==
	    NULL && time_mono_us() < until)
		__builtin_ia32_pause();
	atomic_store(&spinning, 0);
}

static void *
worker_main(void *arg)
{
	struct job	*j;
	uint64_t	 one = 1;
	int		 wake;

	for (;;) {
		worker_spin();
		pthread_mutex_lock(&runq_mtx);
		while (TAILQ_EMPTY(&runq) && !runq_stop) {
			runq_idle++;
			pthread_cond_wait(&runq_cv, &runq_mtx);
			runq_idle--;
		}
		if (TAILQ_EMPTY(&runq) && runq_stop) {
			pthread_mutex_unlock(&runq_mtx);
			break;
		}
		j = TAILQ_FIRST(&runq);
		TAILQ_REMOVE(&runq, j, entry);
		pthread_mutex_unlock(&runq_mtx);
		atomic_fetch_add(&running, 1);

		/* An evicted handle's connection closes before the new one
		 * opens, so open files never exceed the cap. */
		if (j->victim != NULL)
			handle_close_db(j->victim);
		if (j->run != NULL)
			j->run(j);
		worker_run_batch(j);

		/* Only the job that finds the queue empty wakes the loop:
		 * the loop takes everything queued at once, so later jobs
		 * ride along with the wake-up already on its way. */
		pthread_mutex_lock(&doneq_mtx);
		wake = TAILQ_EMPTY(&doneq);
		TAILQ_INSERT_TAIL(&doneq, j, entry);
		pthread_mutex_unlock(&doneq_mtx);
		atomic_fetch_sub(&running, 1);
		while (wake && write(done_fd, &one, sizeof one) == -1) {
			if (errno != EINTR && errno != EAGAIN)
				fatal("worker: eventfd write");
			if (errno == EAGAIN)
				break;	/* counter saturated: loop will wake */
		}
	}
	return (NULL);
}

/* Loop: run done callbacks for every finished job. */
static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job_list	 list = TAILQ_HEAD_INITIALIZER(list);
	struct job	*j;
	uint64_t	 n;

	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN && errno != EINTR)
		fatal("worker: eventfd read");
	pthread_mutex_lock(&doneq_mtx);
	TAILQ_CONCAT(&list, &doneq, entry);
	pthread_mutex_unlock(&doneq_mtx);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		inflight--;
		if (j->h != NULL)
			cache_job_done(j);	/* calls j->done */
		else
			j->done(j);
	}
}

/* Loop: hand the jobs pushed during this iteration to the workers. */
static void
worker_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	 n = npushq, wake;

	if (n == 0)
		return;
	pthread_mutex_lock(&runq_mtx);
	TAILQ_CONCAT(&runq, &pushq, entry);
	wake = (size_t)runq_idle < n ? (size_t)runq_idle : n;
	pthread_mutex_unlock(&runq_mtx);
	npushq = 0;
	if (wake == (size_t)nworkers)
		pthread_cond_broadcast(&runq_cv);
	else
		while (wake-- > 0)
			pthread_cond_signal(&runq_cv);
}

/* Start n workers feeding completions into base.  Loop, once. */
void
worker_start(struct event_base *base, int n)
{
	int	i, rc;

	if ((done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("worker: eventfd");
	done_ev = event_new(base, done_fd, EV_READ | EV_PERSIST,
	    worker_done_cb, NULL);
	if (done_ev == NULL || event_add(done_ev, NULL) == -1)
		fatalx("worker: cannot watch the completion queue");
	if ((flush_ev = event_new(base, -1, 0, worker_flush_cb, NULL)) == NULL)
		fatalx("worker: cannot create the run queue event");
	nworkers = n;
	workers = xcalloc((size_t)n, sizeof *workers);
	for (i = 0; i < n; i++) {
		if ((rc = pthread_create(&workers[i], NULL, worker_main,
		    NULL)) != 0) {
			errno = rc;
			fatal("worker: pthread_create");
		}
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
	if (workers == NULL && runq_stop) {
		if (j->victim != NULL)
			handle_close_db(j->victim);
		if (j->run != NULL)
			j->run(j);
		worker_run_batch(j);
		if (j->h != NULL)
			cache_job_done(j);
		else
			j->done(j);
		return;
	}
	inflight++;
	j->t_queued = time_mono_us();
	TAILQ_INSERT_TAIL(&pushq, j, entry);
	if (npushq++ == 0)
		event_active(flush_ev, 0, 0);
}

/* Let the workers finish what is queued, then join them.  Loop, once. */
void
worker_stop(void)
{
	int	i;

	if (workers == NULL)
		return;
	worker_flush_cb(-1, 0, NULL);	/* the loop may not run it again */
	pthread_mutex_lock(&runq_mtx);
	runq_stop = 1;
	pthread_cond_broadcast(&runq_cv);
	pthread_mutex_unlock(&runq_mtx);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	workers = NULL;
	/* Run what finished after the loop stopped (frees, catalog acks). */
	worker_done_cb(done_fd, EV_READ, NULL);
	event_free(done_ev);
	event_free(flush_ev);
	close(done_fd);
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
