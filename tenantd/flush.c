/*
 * flush.c: at --synchronous normal, a bound on what a power cut takes back.
 *
 * At synchronous=NORMAL SQLite syncs a tenant's WAL only when it
 * checkpoints: when the WAL passes EXEC_CKPT_PAGES frames, when the
 * handle idles --idle-release seconds, when it is evicted or closed.
 * Until then its commits are in the page cache only, and a power cut
 * takes them all back: a tenant written every few seconds can lose
 * everything since its last checkpoint (tests/js/powercut.test.mjs, run
 * without this: every answered write of a one-second load was gone).
 *
 * So one thread syncs the data dir's file system (one syncfs) every
 * --flush-ms N ms (200 by default, 0: never) in which a commit was made.
 * A commit answered before a pass begins is on disk when the pass ends,
 * so a power cut takes back at most the commits of the last N ms and one
 * pass, as PostgreSQL's WAL writer (wal_writer_delay) bounds what
 * synchronous_commit=off can lose.  A sync at any moment is safe in WAL
 * mode: recovery keeps every commit whose frames are whole and stops at
 * the first that is not.
 *
 * syncfs writes back the whole file system, other programs' files too:
 * the data dir is best on a file system of its own.  A pass over 10,000
 * tenants under load costs write throughput (bench/README.md); the
 * window can be widened, or --flush-ms 0 leaves it to the checkpoints.
 *
 * A failed syncfs is logged (once a minute at most) and the next pass
 * tries again: the files' own syncs (checkpoints) still report their
 * errors to SQLite, which keeps its rules.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tenantd.h"

struct flush_stats	 flush_stats;
_Atomic uint64_t	 flush_commits;

static pthread_t	 thr;
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv;
static int		 active, stopping, dirfd = -1;

static void *
flush_main(void *arg)
{
	struct timespec	 at;
	uint64_t	 seen = 0, now, t0, warned = 0;
	int		 rc;

	for (;;) {
		pthread_mutex_lock(&mtx);
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += cfg.flush_ms / 1000;
		at.tv_nsec += (long)(cfg.flush_ms % 1000) * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		rc = 0;
		while (!stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&cv, &mtx, &at);
		if (stopping) {
			pthread_mutex_unlock(&mtx);
			return (NULL);
		}
		pthread_mutex_unlock(&mtx);

		now = atomic_load_explicit(&flush_commits,
		    memory_order_relaxed);
		if (now == seen)
			continue;	/* nothing committed since */
		t0 = time_mono_us();
		if (syncfs(dirfd) == -1) {
			if (warned == 0 || t0 - warned > 60000000) {
				log_warn("flush: syncfs of %s (commits of the "
				    "last %d ms are not on disk yet)",
				    cfg.data_dir, cfg.flush_ms);
				warned = t0;
			}
			atomic_fetch_add(&flush_stats.failed, 1);
			continue;
		}
		seen = now;	/* after a failure, the next pass tries again */
		atomic_fetch_add(&flush_stats.us, time_mono_us() - t0);
		atomic_fetch_add(&flush_stats.passes, 1);
	}
}

/* Start the flusher if --flush-ms asks for one (at normal only). */
void
flush_init(void)
{
	pthread_condattr_t	ca;

	if (cfg.flush_ms <= 0 || durable_active())
		return;		/* none, or through the commit log */
	if (cfg.synchronous_full) {
		if (cfg.flush_ms_set)
			log_warnx("--flush-ms: ignored at --synchronous full "
			    "(every commit is on disk when it is answered)");
		return;
	}
	if ((dirfd = open(cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		fatal("flush: open %s", cfg.data_dir);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	active = 1;
	if ((errno = pthread_create(&thr, NULL, flush_main, NULL)) != 0)
		fatal("flush: pthread_create");
	thread_name(thr, "flush", -1);
}

int
flush_active(void)
{
	return (active);
}

/* At shutdown: stop the thread (the clean close syncs everything). */
void
flush_stop(void)
{
	if (!active)
		return;
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mtx);
	if ((errno = pthread_join(thr, NULL)) != 0)
		fatal("flush: pthread_join");
	close(dirfd);
	dirfd = -1;
	active = 0;
}
