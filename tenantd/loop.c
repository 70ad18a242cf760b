/*
 * loop.c: the event loops and the state lock.
 *
 * tenantd runs one libevent loop per core (--loops).  Loop 0 is the main
 * thread's: it owns the listeners, the signals and the tick, and accepts
 * every connection; it hands each new connection to a loop in turn, and
 * from then on that loop alone reads, parses and answers on it.  A
 * connection never moves.
 *
 * Everything shared (the handle cache, streams, the catalog's in-memory
 * state, rollouts, backups, tokens) is guarded by one lock, the state
 * lock.  It is held by the tick, by signals, by every job's done callback
 * and around the parts of request handling that touch shared state; it
 * is not held while a loop reads or writes sockets, parses HTTP or JSON,
 * or runs a tenant's SQL on the fast path (server.c), which is where a
 * request spends its time.  The lock is recursive: a done callback may
 * answer a request whose cleanup calls back into locked code.
 *
 * Loops talk through a queue each (a mutex-guarded list of jobs and an
 * eventfd): workers post finished jobs to the loop that started them, and
 * loops post work for another loop (a new connection, an answer for a
 * connection it owns, a batched request's completion).  A posted job with
 * j->onloop set runs that callback on the loop without the state lock;
 * otherwise it is a finished worker job and runs as a completion, locked.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

struct loop {
	int			 id;
	struct event_base	*base;
	pthread_t		 thr;
	int			 fd;		/* eventfd: the queue has jobs */
	struct event		*ev;
	pthread_mutex_t		 mtx;
	struct job_list		 q;
	_Atomic int		 woken;		/* eventfd written, not drained */
	int			 stop;
	uint64_t		 spin_window;	/* us; loop_spin, loop_run */
};

static struct loop	*loops;
static int		 nloops;
static _Atomic int	 loops_stopped;

_Thread_local struct loop *loop_self;

static pthread_mutex_t	 state_mtx;

void
state_lock(void)
{
	pthread_mutex_lock(&state_mtx);
}

void
state_unlock(void)
{
	pthread_mutex_unlock(&state_mtx);
}

/* Run what was posted to l, in order. */
static void
loop_drain(struct loop *l)
{
	struct job_list	 list = TAILQ_HEAD_INITIALIZER(list);
	struct job	*j;

	pthread_mutex_lock(&l->mtx);
	TAILQ_CONCAT(&list, &l->q, entry);
	atomic_store(&l->woken, 0);
	pthread_mutex_unlock(&l->mtx);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		if (j->onloop != NULL) {
			j->onloop(j);
			continue;
		}
		state_lock();
		worker_complete(j);
		state_unlock();
	}
}

static void
loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop	*l = arg;
	uint64_t	 n;

	loop_note_activity();
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN && errno != EINTR)
		fatal("loop: eventfd read");
	loop_drain(l);
	if (l->stop)
		event_base_loopexit(l->base, NULL);	/* after what is active */
}

/*
 * Queue j on loop l; it runs there (see the top of the file).  Any thread.
 * Only the post that finds the queue empty writes the eventfd: the loop
 * takes everything queued at once.
 */
void
loop_post(struct loop *l, struct job *j)
{
	uint64_t	 one = 1;
	int		 wake;

	pthread_mutex_lock(&l->mtx);
	wake = TAILQ_EMPTY(&l->q);
	TAILQ_INSERT_TAIL(&l->q, j, entry);
	if (wake)
		atomic_store(&l->woken, 1);
	pthread_mutex_unlock(&l->mtx);
	while (wake && write(l->fd, &one, sizeof one) == -1) {
		if (errno == EAGAIN)
			break;		/* counter saturated: it will wake */
		if (errno != EINTR)
			fatal("loop: eventfd write");
	}
}

/*
 * Ask the scheduler for a short time slice for the calling thread (a
 * loop, or the group commit thread; 0: the default again, for workers,
 * which inherit the main thread's).  Linux's EEVDF scheduler (6.12 and
 * later) takes sched_runtime as the slice a SCHED_OTHER task asks for: a
 * task with a shorter slice gets an earlier deadline, so when it wakes
 * (a socket is readable) it runs before a busy task's slice (the default,
 * 1.4 ms on the bench machine) is over instead of after it.  The CPU it gets over time does not change.
 * Older kernels ignore the field; no privilege is needed.
 */
struct sched_attr_v0 {
	uint32_t	size;
	uint32_t	policy;
	uint64_t	flags;
	int32_t		nice;
	uint32_t	priority;
	uint64_t	runtime;
	uint64_t	deadline;
	uint64_t	period;
};

void
thread_slice(uint64_t ns)
{
	struct sched_attr_v0	 a;

	memset(&a, 0, sizeof a);
	if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == -1)
		return;
	if (a.policy != SCHED_OTHER)
		return;
	a.size = sizeof a;
	a.flags = 0;
	a.runtime = ns;
	if (syscall(SYS_sched_setattr, 0, &a, 0) == -1)
		log_debug("sched_setattr: %s", strerror(errno));
}

/*
 * An event loop about to sleep may poll instead, for up to --spin-us
 * (default 50 us), when nothing else in the daemon is going on: no
 * request in hand anywhere, every other loop asleep, no worker in a job,
 * no other loop polling, and a CPU free for every runnable task on the
 * machine (/proc/loadavg's count of runnable tasks, the caller among
 * them, at most the CPUs this process may use; checked every
 * LOOP_SPIN_CHECK_US while polling, which stops as soon as a task waits
 * for a CPU).  A client's next request, or a worker's answer, then finds
 * the loop awake: on a VM whose idle CPUs halt, waking a sleeping thread
 * costs tens of microseconds (bench: floor wake-up round trip 47-61 us).
 * Between polls it yields, so a task the scheduler queued on this CPU
 * (the other may be idle) runs at once.  How long it polls adapts to the
 * traffic (spin_adapt): a client that sends its next request as soon as
 * it has the answer keeps the polls, requests far apart stop them.
 * Measured (bench/README.md, session 19): a cold tenant at one connection
 * p50 ~200 -> ~150 us, a cached one 75 -> 31 us; at half of peak and at
 * peak, no change beyond the noise; paced requests at 1,000-20,000/s,
 * the same CPU and latency as without polling (a fixed 50 us poll had
 * cost 2.4x the CPU at 1,000/s, and 40 us of p50).  --spin-us 0 turns it
 * off (a machine billed by CPU time, or one that polls in the kernel:
 * guest_halt_poll_ns).
 */
#define LOOP_SPIN_CHECK_US	8

static _Thread_local uint64_t loop_activity;	/* reads and drains */
static _Thread_local uint64_t loop_woke;	/* the first since a sleep */
static _Atomic int	 loops_awake;	/* loops not asleep in epoll_wait */
static _Atomic int	 loop_spinning;
static _Atomic uint64_t	 spin_count, spin_hits, spin_us;

static int	 loadavg_fd = -1;
static long	 ncpus;

static void
spin_init(void)
{
	cpu_set_t	set;

	if (cfg.spin_us <= 0)
		return;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		ncpus = CPU_COUNT(&set);
	else
		ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	/* One CPU: a poll would only keep the client from running. */
	if (ncpus >= 2)
		loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

/*
 * Whether every runnable task on the machine, the caller among them, has
 * a CPU: the fourth field of /proc/loadavg ("1/250": runnable/all).
 */
static int
cpu_free(void)
{
	char	 buf[128], *p = buf;
	ssize_t	 n;
	int	 i;

	if (loadavg_fd == -1 ||
	    (n = pread(loadavg_fd, buf, sizeof buf - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	for (i = 0; i < 3 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	return (p != NULL && *p >= '0' && *p <= '9' &&
	    strtol(p, NULL, 10) <= ncpus);
}

/*
 * A callback of the calling loop read a request or drained its queue:
 * what a poll waits for, and the end of a sleep for spin_adapt.
 */
void
loop_note_activity(void)
{
	loop_activity++;
	if (loop_woke == 0)
		loop_woke = time_mono_us();
}

/* Poll l's events instead of sleeping; 1 if something came in. */
static int
loop_spin(struct loop *l)
{
	uint64_t	 start, now, check, seen = loop_activity;
	int		 zero = 0, got = 0;

	if (loadavg_fd == -1 || l->spin_window == 0 || http_inflight() != 0 ||
	    atomic_load(&loops_awake) > 1 || worker_busy() ||
	    !atomic_compare_exchange_strong(&loop_spinning, &zero, 1))
		return (0);
	if (!cpu_free()) {
		atomic_store(&loop_spinning, 0);
		return (0);
	}
	start = now = time_mono_us();
	check = now + LOOP_SPIN_CHECK_US;
	do {
		/* A task the scheduler put on this CPU runs now. */
		sched_yield();
		if (event_base_loop(l->base, EVLOOP_NONBLOCK) != 0 ||
		    event_base_got_exit(l->base))
			break;
		if (loop_activity != seen) {
			got = 1;
			break;
		}
		now = time_mono_us();
		if (now >= check) {
			if (!cpu_free())
				break;
			check = now + LOOP_SPIN_CHECK_US;
		}
	} while (now - start < l->spin_window);
	atomic_store(&loop_spinning, 0);
	atomic_fetch_add_explicit(&spin_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&spin_hits, got, memory_order_relaxed);
	atomic_fetch_add_explicit(&spin_us, now - start,
	    memory_order_relaxed);
	return (got);
}

/*
 * After a sleep of us microseconds (until the first request or posted job,
 * not counting the time to handle it), as guest halt polling sizes its poll:
 * a sleep the longest poll would have covered grows the window (from
 * SPIN_GROW_START_US, doubling, up to --spin-us); a longer one halves it,
 * and below SPIN_GROW_START_US it is 0 (no poll) until a short sleep
 * again.  Traffic that comes back faster than --spin-us (one client's
 * next request, a worker's answer) keeps the polls; requests that arrive
 * far apart (a paced client, a quiet daemon) stop them, and with them the
 * CPU they cost.
 */
#define SPIN_GROW_START_US	10

static void
spin_adapt(struct loop *l, uint64_t us)
{
	if (cfg.spin_us <= 0)
		return;
	if (us <= (uint64_t)cfg.spin_us) {
		l->spin_window = l->spin_window == 0 ? SPIN_GROW_START_US :
		    l->spin_window * 2;
		if (l->spin_window > (uint64_t)cfg.spin_us)
			l->spin_window = cfg.spin_us;
	} else {
		l->spin_window /= 2;
		if (l->spin_window < SPIN_GROW_START_US)
			l->spin_window = 0;
	}
}

/* Polls, polls that found work, and microseconds spent polling. */
void
loop_spin_stats(uint64_t *count, uint64_t *hits, uint64_t *us)
{
	*count = atomic_load(&spin_count);
	*hits = atomic_load(&spin_hits);
	*us = atomic_load(&spin_us);
}

/*
 * Run the calling loop's base until event_base_loopexit(): as
 * event_base_dispatch(), polling before it sleeps (loop_spin).
 */
void
loop_run(struct event_base *base)
{
	struct loop	*l = loop_self;
	uint64_t	 seen, slept;

	l->spin_window = cfg.spin_us;
	atomic_fetch_add(&loops_awake, 1);
	while (!event_base_got_exit(base) && !event_base_got_break(base)) {
		/* Out of events (a last look without blocking): upkeep
		 * that waits for an idle moment (cache.c). */
		if (cache_idle_pending()) {
			seen = loop_activity;
			if (event_base_loop(base, EVLOOP_NONBLOCK) != 0)
				break;
			if (loop_activity != seen || event_base_got_exit(base))
				continue;
			cache_idle();
		}
		if (loop_spin(l) || event_base_got_exit(base))
			continue;
		atomic_fetch_sub(&loops_awake, 1);
		slept = time_mono_us();
		loop_woke = 0;
		if (event_base_loop(base, EVLOOP_ONCE) != 0) {
			atomic_fetch_add(&loops_awake, 1);
			break;
		}
		atomic_fetch_add(&loops_awake, 1);
		spin_adapt(l, (loop_woke != 0 ? loop_woke : time_mono_us()) -
		    slept);
	}
	atomic_fetch_sub(&loops_awake, 1);
}

static void *
loop_main(void *arg)
{
	struct loop	*l = arg;

	thread_slice(LOOP_SLICE_NS);
	loop_self = l;
	loop_run(l->base);
	return (NULL);
}

static void
loop_setup(struct loop *l, int id, struct event_base *base)
{
	l->id = id;
	l->base = base;
	TAILQ_INIT(&l->q);
	pthread_mutex_init(&l->mtx, NULL);
	if ((l->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("loop: eventfd");
	l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, loop_wake_cb, l);
	if (l->ev == NULL || event_add(l->ev, NULL) == -1)
		fatalx("loop: cannot watch the queue");
}

/*
 * Make n loops; main is the calling thread's base and becomes loop 0.
 * The others start at once (they only wait on their queues until
 * connections are handed to them).  Main thread, once, before any
 * listener or worker.
 */
void
loops_init(struct event_base *main, int n)
{
	pthread_mutexattr_t	 a;
	int			 i, rc;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&state_mtx, &a);
	pthread_mutexattr_destroy(&a);

	spin_init();
	nloops = n < 1 ? 1 : n;
	loops = xcalloc((size_t)nloops, sizeof *loops);
	thread_slice(LOOP_SLICE_NS);		/* loop 0 is the main thread */
	loop_setup(&loops[0], 0, main);
	loop_self = &loops[0];
	for (i = 1; i < nloops; i++) {
		struct event_base *b;

		if ((b = event_base_new()) == NULL)
			fatalx("event_base_new failed");
		loop_setup(&loops[i], i, b);
		if ((rc = pthread_create(&loops[i].thr, NULL, loop_main,
		    &loops[i])) != 0) {
			errno = rc;
			fatal("loop: pthread_create");
		}
		thread_name(loops[i].thr, "loop", i);
	}
}

static void
loop_stop_cb(struct job *j)
{
	loop_self->stop = 1;
	free(j);
}

/*
 * Stop and join every loop but the main one (whose dispatch has returned).
 * What is posted afterwards, to any loop, runs on the main thread in
 * loops_drain_all().  Main thread, at shutdown.
 */
void
loops_stop(void)
{
	struct job	*j;
	int		 i;

	for (i = 1; i < nloops; i++) {
		j = xcalloc(1, sizeof *j);
		j->onloop = loop_stop_cb;
		loop_post(&loops[i], j);
	}
	for (i = 1; i < nloops; i++)
		pthread_join(loops[i].thr, NULL);
	loops_stopped = 1;
	loop_self = &loops[0];
}

/* Run whatever is queued on any loop (after loops_stop).  Main thread. */
void
loops_drain_all(void)
{
	int	i;

	for (i = 0; i < nloops; i++)
		loop_drain(&loops[i]);
}

/* Free the loops' events and bases (after every connection is gone). */
void
loops_free(void)
{
	int	i;

	for (i = 0; i < nloops; i++) {
		event_free(loops[i].ev);
		close(loops[i].fd);
		pthread_mutex_destroy(&loops[i].mtx);
		if (i > 0)
			event_base_free(loops[i].base);
	}
	free(loops);
	loops = NULL;
}

/*
 * Name a thread for ps, top -H and perf ("loop 1", "worker 3", "sync"):
 * at most 15 characters.  n < 0: no number.
 */
void
thread_name(pthread_t t, const char *what, int n)
{
	char	name[16];

	if (n < 0)
		snprintf(name, sizeof name, "%s", what);
	else
		snprintf(name, sizeof name, "%s %d", what, n);
	(void)pthread_setname_np(t, name);
}

/* Is l the calling thread's loop (always, once the others stopped)? */
int
loop_mine(struct loop *l)
{
	return (l == loop_self || loops_stopped);
}

/* The loop the next connection goes to: each in turn.  Loop 0. */
struct loop *
loop_next(void)
{
	static int	 next;
	struct loop	*l = &loops[next];

	next = (next + 1) % nloops;
	return (l);
}

struct event_base *
loop_base(struct loop *l)
{
	return (l->base);
}

/*
 * Whether the calling loop has events ready beside the one it is running:
 * other sockets readable in this iteration, answers to send, jobs to hand
 * over.  Not its queue of posted jobs: what comes back there for a
 * request still counts as in hand (http_loop_inflight), and the rest (an
 * evicted handle to free after its close) is no request waiting.  At one
 * connection that post and the client's next request often come in the
 * same wake-up.  [loop]
 */
int
loop_others_ready(void)
{
	int	n;

	n = event_base_get_num_events(loop_self->base,
	    EVENT_BASE_COUNT_ACTIVE);
	if (n > 0 && atomic_load(&loop_self->woken))
		n--;
	return (n > 0);
}

int
loop_count(void)
{
	return (nloops);
}

int
loop_id(struct loop *l)
{
	return (l->id);
}
