/*
 * durable.c: group commit for --synchronous full, through a commit log.
 *
 * SQLite's synchronous=FULL fsyncs a tenant's WAL at every commit, and
 * every tenant has its own WAL: commits to different tenants cannot share
 * a flush the way commits to one PostgreSQL WAL do, and each pays its
 * own random write and cache flush (90-130 us on the bench machine,
 * whatever else is in flight; sixteen workers in fdatasync made 17k point
 * updates/s).  A syncfs(2) per round of commits does not help there
 * either: on ext4 without a journal it writes every dirty inode
 * synchronously, one after another (a round of 14 commits took 0.9 ms).
 *
 * So with group commit (the default at --synchronous full) tenant files
 * run at synchronous=NORMAL, which in WAL mode never corrupts a database
 * (checkpoints and WAL restarts still sync), and durability comes from
 * one sequential log in the data dir:
 *
 * - Every write and truncation of a tenant's WAL (vfs.c) is also copied,
 *   with the file's path and offset, into an in-memory buffer.
 * - A commit takes a ticket: the number of the round that will write the
 *   buffer holding its WAL writes.
 * - One thread runs rounds back to back while tickets wait: it takes the
 *   buffer, appends it to the log as one checksummed block, and
 *   fdatasyncs the log.  64 commits' pages (256 KiB) cost about 370 us
 *   there, against 64 x 127 us of fdatasyncs.
 * - No answer that depends on a commit leaves tenantd before the round
 *   of its ticket is done (http.c holds it).  A handle remembers the
 *   ticket of its last commit and every request run on it takes that
 *   ticket, reads included, so no client sees data that a crash could
 *   still take back; a handle opened anew takes the highest ticket
 *   handed out.
 *
 * After a crash, durable_recover() replays the log into the WAL files
 * before anything opens them: every logged write, in order, up to the
 * last whole block, then fsyncs them.  The WAL files are then exactly as
 * they were at the last completed round (or later), and SQLite's own
 * recovery takes it from there.
 *
 * The log is two files used in turn (commit-log-0/1).  When the one
 * being written passes --commit-log-mib (CLOG_SWITCH_BYTES by default),
 * writing moves to the other
 * (once it is empty) and a second thread makes the full one redundant:
 * a syncfs of the data dir's file system puts every tenant file on disk,
 * then the log is marked empty (clog_empty).  A tenant whose files are deleted or
 * replaced (delete, import) first logs a "forget" record for its WAL and
 * waits for it to be durable: replay cuts that WAL to nothing there, so
 * the old tenant's writes never land in a new file of the same name.
 *
 * The logs outlive the process (emptied, see clog_empty_fd) and are
 * written ahead with zeros while idle (clog_fill_one): a round's sync then
 * writes blocks over blocks the file has, not an append and the inode
 * with it.  Every pass over a log has its own random generation, so a
 * replay never runs on into blocks of an earlier pass.
 *
 * With --synchronous normal --flush-log the same log bounds what a power
 * cut can take back without holding any answer (async): commits take no
 * ticket, a round runs once --flush-ms has passed since the last and
 * something was logged (or at once for a waiter: a forget, exec_durable),
 * and the logs are not written ahead.
 *
 * If writing or syncing the log (or a syncfs) fails, written data may be
 * lost and it is not known whose: tenantd stops (fatal) without sending
 * any answer it holds, as PostgreSQL does on a failed WAL flush.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

#define CLOG_MAGIC		0x4c435444u	/* "DTCL" little-endian */
#define CLOG_VERSION		2
#define CLOG_SWITCH_BYTES	(256ull << 20)
static uint64_t			 switch_bytes = CLOG_SWITCH_BYTES;
#define CLOG_BLOCK_MAX		(1ull << 30)
/* Zeros written ahead, past the switch size: a round's block may end
 * beyond it. */
#define CLOG_FILL_EXTRA		(4ull << 20)
#define CLOG_FILL_CHUNK		(1u << 20)

/*
 * Block header; the payload (records) follows.  Version 1 (before the
 * logs were kept across restarts) ends before gen, and its hash does not
 * cover one; it is still replayed.
 */
struct clog_block {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	seq;		/* round number */
	uint64_t	len;		/* payload bytes */
	uint64_t	hash;		/* of gen, seq, len and the payload */
	uint64_t	gen;		/* the log's pass, see clog_gen */
};
#define CLOG_V1_HEADER		offsetof(struct clog_block, gen)

/*
 * Record header; the path, then the data, follow.  The path is the WAL's
 * under the data dir ("tenants/ab/alice.db-wal"), so a data dir moved
 * after a crash (another mount point) still replays; logs written before
 * that have full paths, replayed if they are under the data dir.
 */
struct clog_rec {
	uint8_t		type;
	uint8_t		pad;
	uint16_t	pathlen;
	uint32_t	len;		/* data bytes (DREC_WRITE) */
	uint64_t	off;		/* write offset, or new size */
};

struct cbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* A set of paths (open addressing; grows at half full). */
struct pathset {
	char	**slot;
	size_t	  n;
	size_t	  cap;
};

struct clog {
	int		 fd;
	uint64_t	 size;		/* written from 0 in this pass */
	uint64_t	 filled;	/* bytes of the file known written */
	uint64_t	 gen;		/* this pass's, in every block */
	int		 full;		/* waiting for the reset thread */
	struct pathset	 paths;		/* WALs it has writes of (about) */
};

static int			 active;
static int			 async;		/* normal --flush-log: no answer waits */
static int			 dirfd = -1;
static pthread_t		 thr, reset_thr;
static pthread_mutex_t		 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t		 done_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t		 reset_cv = PTHREAD_COND_INITIALIZER;
static struct cbuf		 cur;		/* [mtx] records to write */
static struct pathset		 dirty;		/* [mtx] WALs written since the
						   last switch */
static struct clog		 logs[2];
static int			 cur_log;	/* [mtx] being appended to */
static uint64_t			 started;	/* [mtx] rounds begun */
static _Atomic uint64_t		 done;		/* rounds finished */
static _Atomic uint64_t		 wanted;	/* highest ticket */
static int			 idle;		/* [mtx] sync thread waits */
static int			 stopping;	/* [mtx] */
static int			 nblocked;	/* [mtx] in durable_wait */
static void			(*notify)(void);

struct durable_stats durable_stats;
int		durable_lose_wal_writes;	/* tests: see durable_init */

/* A 64-bit hash of a block: not cryptographic, it finds torn writes. */
static uint64_t
clog_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		h = (h ^ *p++) * 0x100000001b3ull;
	return (h ^ (h >> 32));
}

/* A block's hash; gen is NULL for a version 1 block. */
static uint64_t
block_hash(const uint64_t *gen, uint64_t seq, uint64_t len,
    const void *payload)
{
	uint64_t	h = 0x84222325cbf29ce4ull;

	if (gen != NULL)
		h = clog_hash(h, gen, sizeof *gen);
	h = clog_hash(h, &seq, sizeof seq);
	h = clog_hash(h, &len, sizeof len);
	return (clog_hash(h, payload, len));
}

static void
cbuf_reserve(struct cbuf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return;
	while (b->cap - b->len < n)
		b->cap = b->cap ? b->cap * 2 : 1 << 16;
	b->p = xrealloc(b->p, b->cap);
}

static size_t
path_hash(const char *p, size_t n)
{
	uint64_t	h = 0xcbf29ce484222325ull;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 0x100000001b3ull;
	return ((size_t)(h ^ (h >> 31)));
}

static void	pathset_add(struct pathset *, const char *, size_t);

static void
pathset_grow(struct pathset *ps)
{
	struct pathset	 n = { NULL, 0, ps->cap ? ps->cap * 2 : 1024 };
	size_t		 i;

	n.slot = xcalloc(n.cap, sizeof *n.slot);
	for (i = 0; i < ps->cap; i++)
		if (ps->slot[i] != NULL) {
			pathset_add(&n, ps->slot[i], strlen(ps->slot[i]));
			free(ps->slot[i]);
		}
	free(ps->slot);
	*ps = n;
}

static void
pathset_add(struct pathset *ps, const char *p, size_t len)
{
	size_t	i;

	if (2 * (ps->n + 1) > ps->cap)
		pathset_grow(ps);
	for (i = path_hash(p, len) & (ps->cap - 1); ps->slot[i] != NULL;
	    i = (i + 1) & (ps->cap - 1))
		if (strncmp(ps->slot[i], p, len) == 0 &&
		    ps->slot[i][len] == '\0')
			return;
	ps->slot[i] = xmalloc(len + 1);
	memcpy(ps->slot[i], p, len);
	ps->slot[i][len] = '\0';
	ps->n++;
}

static void
pathset_clear(struct pathset *ps)
{
	size_t	i;

	for (i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
	memset(ps, 0, sizeof *ps);
}

static void
log_path(int i, char *out, size_t size)
{
	snprintf(out, size, "%s/commit-log-%d", cfg.data_dir, i);
}

/* Append a record.  [mtx] */
static void
rec_add(int type, const char *path, size_t pathlen, uint64_t off,
    const void *data, size_t len)
{
	struct clog_rec	 r;
	const char	*rel = path;
	size_t		 rlen = pathlen, dlen = strlen(cfg.data_dir);

	if (pathlen > UINT16_MAX || len > UINT32_MAX)
		fatalx("commit log: record too large");
	if (pathlen > dlen + 1 && memcmp(path, cfg.data_dir, dlen) == 0 &&
	    path[dlen] == '/') {
		rel = path + dlen + 1;
		rlen = pathlen - dlen - 1;
	}
	memset(&r, 0, sizeof r);
	r.type = (uint8_t)type;
	r.pathlen = (uint16_t)rlen;
	r.len = (uint32_t)len;
	r.off = off;
	cbuf_reserve(&cur, sizeof r + rlen + len);
	memcpy(cur.p + cur.len, &r, sizeof r);
	memcpy(cur.p + cur.len + sizeof r, rel, rlen);
	if (len > 0)
		memcpy(cur.p + cur.len + sizeof r + rlen, data, len);
	cur.len += sizeof r + rlen + len;
	if (type == DREC_WRITE)
		pathset_add(&dirty, path, pathlen);
}

/* vfs.c: a tenant WAL was written (DREC_WRITE) or cut (DREC_TRUNCATE). */
void
durable_log(int type, const char *path, size_t pathlen, uint64_t off,
    const void *data, size_t len)
{
	pthread_mutex_lock(&mtx);
	rec_add(type, path, pathlen, off, data, len);
	pthread_mutex_unlock(&mtx);
}

/* Make ticket t wanted and wake the sync thread.  [mtx] */
static void
want(uint64_t t)
{
	if (t > atomic_load(&wanted))
		atomic_store(&wanted, t);
	if (idle)
		pthread_cond_signal(&work_cv);
}

/*
 * A commit's ticket: call after the commit (its WAL writes logged).  0
 * when group commit is off.  Any thread.
 */
uint64_t
durable_ticket(void)
{
	uint64_t	t;

	if (!active)
		return (0);
	pthread_mutex_lock(&mtx);
	t = started + 1;
	want(t);
	pthread_mutex_unlock(&mtx);
	atomic_fetch_add(&durable_stats.commits, 1);
	return (t);
}

/*
 * The database at path is about to be deleted or replaced: log that its
 * WAL's history ends here, and wait until that is durable, so that a
 * replay never writes the old WAL's frames into a new file.  A worker.
 */
void
durable_forget(const char *path)
{
	char		 p[1100];
	uint64_t	 t;
	int		 n;

	if (!active)
		return;
	n = snprintf(p, sizeof p, "%s-wal", path);
	if (n < 0 || (size_t)n >= sizeof p)
		fatalx("commit log: path too long");
	pthread_mutex_lock(&mtx);
	rec_add(DREC_FORGET, p, (size_t)n, 0, NULL, 0);
	t = started + 1;
	want(t);
	pthread_mutex_unlock(&mtx);
	durable_wait(t);
}

/* The highest ticket handed out: what a newly opened handle depends on. */
uint64_t
durable_pending(void)
{
	return (active && !async ? atomic_load(&wanted) : 0);
}

/* Whether the round of ticket t has finished.  Any thread. */
int
durable_reached(uint64_t t)
{
	return (t <= atomic_load(&done));
}

/* Block until ticket t is on disk (a worker, not a loop). */
void
durable_wait(uint64_t t)
{
	if (!active || durable_reached(t))
		return;
	pthread_mutex_lock(&mtx);
	nblocked++;
	while (!durable_reached(t))
		pthread_cond_wait(&done_cv, &mtx);
	nblocked--;
	pthread_mutex_unlock(&mtx);
}

int
durable_active(void)
{
	return (active);
}

/* Whether answers wait for their commit's round (--synchronous full). */
int
durable_holds(void)
{
	return (active && !async);
}

/*
 * Which group commit cfg asks for: answers held for their rounds
 * (--synchronous full), rounds every --flush-ms with no answer held
 * (--synchronous normal --flush-log), or none.
 */
static int
durable_mode(void)
{
	if (cfg.synchronous_full)
		return (cfg.group_commit);
	return (cfg.flush_log && cfg.flush_ms > 0 ? 2 : 0);
}

static void
write_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = pwritev(fd, iov, n, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("commit log: write");
		}
		off += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/*
 * Write the WALs a full log has writes of back to disk one file at a
 * time, before the syncfs: a syncfs alone queues all of it at once (on
 * the bench machine hundreds of MB of scattered 4 KiB pages), and the
 * log's own write and flush then wait behind it (rounds of 80-95 ms;
 * paced, the slowest answer of an 8 s run took 17 ms).  The set is not
 * exact (a write logged just before a switch may be in
 * the other log's set): the syncfs that follows is what counts.
 */
static void
reset_pace(struct pathset *ps)
{
	size_t	i;
	int	fd;

	for (i = 0; i < ps->cap; i++) {
		if (ps->slot[i] == NULL)
			continue;
		if ((fd = open(ps->slot[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW))
		    == -1)
			continue;
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
		    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		close(fd);
	}
}

/*
 * A new pass's generation: random, so that a block left from any earlier
 * pass (of this process or of one before it, whose round numbers started
 * again from 1) never matches.
 */
static uint64_t
clog_gen(void)
{
	uint64_t	g;

	if (getrandom(&g, sizeof g, 0) != (ssize_t)sizeof g)
		g = time_mono_us() ^ ((uint64_t)getpid() << 32) ^
		    (uint64_t)(uintptr_t)&g;
	return (g);
}

/*
 * Mark the log on fd empty: its first block header zeroed, on disk.  The
 * file keeps its blocks and the next pass overwrites them from the start:
 * cutting it to nothing made ext4 free (and, mounted with discard,
 * discard) 256 MiB at once, and the other log's rounds waited 100-300 ms
 * behind that; and a sync of blocks written over blocks already there
 * does not write the file's inode as a sync of an append does (an 8-commit
 * round: about 100 us against 180 on the bench machine).  Replay stops at
 * the first block of another pass (its gen) or not newer than the one
 * before, so old blocks after the new ones are never read.
 */
static int
clog_empty_fd(int fd)
{
	struct clog_block	zero;

	memset(&zero, 0, sizeof zero);
	if (pwrite(fd, &zero, sizeof zero, 0) != (ssize_t)sizeof zero ||
	    fdatasync(fd) == -1)
		return (-1);
	return (0);
}

static void
clog_empty(int i)
{
	if (clog_empty_fd(logs[i].fd) == -1)
		fatal("commit log: emptying commit-log-%d", i);
}

/* The reset thread: make a full log redundant (syncfs), then empty it. */
static void *
reset_main(void *arg)
{
	int	i;

	thread_slice(0);	/* background: the default slice */
	pthread_mutex_lock(&mtx);
	for (;;) {
		for (i = 0; i < 2 && !logs[i].full; i++)
			;
		if (i == 2) {
			if (stopping)
				break;
			pthread_cond_wait(&reset_cv, &mtx);
			continue;
		}
		pthread_mutex_unlock(&mtx);
		reset_pace(&logs[i].paths);
		if (syncfs(dirfd) == -1)
			fatal("commit log: syncfs of the data dir");
		clog_empty(i);
		atomic_fetch_add(&durable_stats.resets, 1);
		pthread_mutex_lock(&mtx);
		logs[i].size = 0;
		logs[i].gen = clog_gen();
		logs[i].full = 0;
		pathset_clear(&logs[i].paths);
		pthread_cond_broadcast(&reset_cv);
	}
	pthread_mutex_unlock(&mtx);
	return (NULL);
}

/*
 * While no commit waits: write the next chunk of zeros past the end of a
 * log that is shorter than it will grow, so that rounds overwrite blocks
 * the file already has (see clog_empty_fd) from the first pass on, as
 * PostgreSQL zero-fills WAL segments before using them.  One chunk per
 * call, so a commit waits at most for one.  Each chunk is written back
 * here (sync_file_range), not left for a round's fdatasync; the last one
 * syncs the file's new size.  A failure (a full disk) only stops the
 * filling: the rounds then append as they would anyway.  1 if a chunk
 * was written.  The sync thread, with mtx held (released around the
 * write); the current log's end only moves on this thread, and a full
 * log's only back to 0, so zeros never land on a block.
 */
static int
clog_fill_one(void)
{
	static const char	 zeros[CLOG_FILL_CHUNK];
	static int		 failed;
	struct clog		*l = NULL;
	uint64_t		 off, want = switch_bytes + CLOG_FILL_EXTRA;
	int			 i, fd;

	for (i = 0; i < 2 && l == NULL; i++) {
		if (logs[(cur_log + i) % 2].filled < want)
			l = &logs[(cur_log + i) % 2];
	}
	if (l == NULL || failed)
		return (0);
	off = l->filled > l->size ? l->filled : l->size;
	fd = l->fd;
	pthread_mutex_unlock(&mtx);
	if (pwrite(fd, zeros, sizeof zeros, (off_t)off) !=
	    (ssize_t)sizeof zeros ||
	    sync_file_range(fd, (off_t)off, sizeof zeros,
	    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	    SYNC_FILE_RANGE_WAIT_AFTER) == -1 ||
	    (off + sizeof zeros >= want && fdatasync(fd) == -1)) {
		log_warn("commit log: writing it ahead (rounds append "
		    "instead)");
		failed = 1;
	}
	pthread_mutex_lock(&mtx);
	if (!failed && l->filled < off + sizeof zeros)
		l->filled = off + sizeof zeros;
	return (!failed);
}

static void *
durable_main(void *arg)
{
	struct cbuf		 out = { NULL, 0, 0 };
	struct clog_block	 bh;
	struct iovec		 iov[2];
	struct clog		*l;
	struct timespec		 at;
	uint64_t		 r, t0, next = 0, wait_us;
	int			 other;

	thread_slice(LOOP_SLICE_NS);	/* answers wait for its rounds */
	pthread_mutex_lock(&mtx);
	for (;;) {
		if (atomic_load(&wanted) <= atomic_load(&done)) {
			/* --flush-log: a round every --flush-ms while commits
			 * come, with nobody waiting for it. */
			if (async && cur.len > 0 && time_mono_us() >= next) {
				atomic_store(&wanted, started + 1);
				continue;
			}
			if (stopping)
				break;
			if (!async && clog_fill_one())
				continue;
			idle = 1;
			if (async) {
				wait_us = (uint64_t)cfg.flush_ms * 1000;
				if (cur.len > 0 && next > time_mono_us())
					wait_us = next - time_mono_us();
				clock_gettime(CLOCK_REALTIME, &at);
				at.tv_sec += (time_t)(wait_us / 1000000);
				at.tv_nsec += (long)(wait_us % 1000000) * 1000;
				if (at.tv_nsec >= 1000000000L) {
					at.tv_sec++;
					at.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&work_cv, &mtx, &at);
			} else
				pthread_cond_wait(&work_cv, &mtx);
			idle = 0;
			continue;
		}
		/* Take what was logged; commits from now on get the next
		 * round's ticket. */
		out.len = 0;
		if (cur.len > 0) {
			struct cbuf	tmp = out;

			out = cur;
			cur = tmp;
		}
		r = ++started;
		l = &logs[cur_log];
		pthread_mutex_unlock(&mtx);

		t0 = time_mono_us();
		next = t0 + (uint64_t)cfg.flush_ms * 1000;
		memset(&bh, 0, sizeof bh);
		bh.magic = CLOG_MAGIC;
		bh.version = CLOG_VERSION;
		bh.seq = r;
		bh.len = out.len;
		bh.gen = l->gen;
		bh.hash = block_hash(&bh.gen, r, out.len, out.p);
		iov[0].iov_base = &bh;
		iov[0].iov_len = sizeof bh;
		iov[1].iov_base = out.p;
		iov[1].iov_len = out.len;
		write_all(l->fd, iov, out.len > 0 ? 2 : 1, l->size);
		if (fdatasync(l->fd) == -1)
			fatal("commit log: fdatasync");
		l->size += sizeof bh + out.len;
		if (l->filled < l->size)
			l->filled = l->size;
		atomic_store(&done, r);
		atomic_fetch_add(&durable_stats.rounds, 1);
		atomic_fetch_add(&durable_stats.bytes, sizeof bh + out.len);
		atomic_fetch_add(&durable_stats.sync_us, time_mono_us() - t0);
		if (notify != NULL)
			notify();

		pthread_mutex_lock(&mtx);
		if (nblocked > 0)
			pthread_cond_broadcast(&done_cv);
		other = 1 - cur_log;
		if (l->size >= switch_bytes && !logs[other].full &&
		    logs[other].size == 0) {
			/* Write the other log from now on; this one becomes
			 * redundant once a syncfs has run. */
			l->full = 1;
			l->paths = dirty;
			memset(&dirty, 0, sizeof dirty);
			cur_log = other;
			pthread_cond_signal(&reset_cv);
		}
	}
	pthread_mutex_unlock(&mtx);
	free(out.p);
	return (NULL);
}

/* Read exactly len bytes at off; 0, or -1 at the end or on error. */
static int
read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = pread(fd, buf, len, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			return (-1);
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

struct replay {
	struct {
		char	*path;
		int	 fd;		/* -1: missing */
	} f[64];
	int	 nf;
	size_t	 writes;
	size_t	 skipped;
};

/* The descriptor of path during replay (opened once, never created). */
static int
replay_fd(struct replay *rp, const char *path)
{
	int	i;

	for (i = 0; i < rp->nf; i++)
		if (strcmp(rp->f[i].path, path) == 0)
			return (rp->f[i].fd);
	if (rp->nf == (int)(sizeof rp->f / sizeof rp->f[0])) {
		/* Make room: what was written so far goes to disk. */
		for (i = 0; i < rp->nf; i++) {
			if (rp->f[i].fd != -1 && (fsync(rp->f[i].fd) == -1 ||
			    close(rp->f[i].fd) == -1))
				fatal("commit log replay: %s", rp->f[i].path);
			free(rp->f[i].path);
		}
		rp->nf = 0;
	}
	i = rp->nf++;
	rp->f[i].path = xstrdup(path);
	rp->f[i].fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (rp->f[i].fd == -1 && errno != ENOENT)
		fatal("commit log replay: open %s", path);
	return (rp->f[i].fd);
}

/*
 * Apply one block's records.  The paths must be inside the data dir (a
 * log is tenantd's own file, but a damaged one must not write elsewhere).
 */
static int
replay_block(struct replay *rp, const char *p, size_t len)
{
	struct clog_rec	 r;
	char		 path[1100];
	size_t		 dlen = strlen(cfg.data_dir);
	int		 fd;

	while (len > 0) {
		if (len < sizeof r)
			return (-1);
		memcpy(&r, p, sizeof r);
		p += sizeof r;
		len -= sizeof r;
		if (r.pathlen == 0 || r.pathlen >= sizeof path ||
		    len < (size_t)r.pathlen + r.len)
			return (-1);
		if (memchr(p, '\0', r.pathlen) != NULL)
			return (-1);
		if (*p == '/') {	/* a full path (older logs) */
			memcpy(path, p, r.pathlen);
			path[r.pathlen] = '\0';
			if (strncmp(path, cfg.data_dir, dlen) != 0 ||
			    path[dlen] != '/')
				return (-1);
		} else if (dlen + 1 + r.pathlen >= sizeof path)
			return (-1);
		else {		/* under the data dir */
			memcpy(path, cfg.data_dir, dlen);
			path[dlen] = '/';
			memcpy(path + dlen + 1, p, r.pathlen);
			path[dlen + 1 + r.pathlen] = '\0';
			if (strncmp(path + dlen + 1, "../", 3) == 0)
				return (-1);
		}
		p += r.pathlen;
		len -= r.pathlen;
		if (strstr(path, "/../") != NULL ||
		    strcmp(path + strlen(path) - 3, "/..") == 0)
			return (-1);
		fd = replay_fd(rp, path);
		switch (r.type) {
		case DREC_WRITE:
			if (fd == -1) {
				rp->skipped++;
				break;
			}
			if (pwrite(fd, p, r.len, (off_t)r.off) != (ssize_t)r.len)
				fatal("commit log replay: write %s", path);
			rp->writes++;
			break;
		case DREC_TRUNCATE:
		case DREC_FORGET:
			if (fd != -1 && ftruncate(fd, r.type == DREC_FORGET ?
			    0 : (off_t)r.off) == -1)
				fatal("commit log replay: truncate %s", path);
			break;
		default:
			return (-1);
		}
		p += r.len;
		len -= r.len;
	}
	return (0);
}

/* The first block's sequence number of log fd, 0 if it has none. */
static uint64_t
first_seq(int fd)
{
	struct clog_block	bh;

	if (read_at(fd, &bh, CLOG_V1_HEADER, 0) == -1 ||
	    bh.magic != CLOG_MAGIC)
		return (0);
	return (bh.seq);
}

/* Replay one log; its last round number, or 0. */
static uint64_t
replay_log(struct replay *rp, int fd, int idx, uint64_t after)
{
	struct clog_block	 bh;
	uint64_t		 off = 0, last = after, gen = 0;
	uint32_t		 version = 0;
	size_t			 hlen;
	char			*p;

	for (;;) {
		if (read_at(fd, &bh, CLOG_V1_HEADER, off) == -1)
			break;
		if (bh.magic != CLOG_MAGIC || bh.len > CLOG_BLOCK_MAX ||
		    bh.seq <= last ||
		    (bh.version != 1 && bh.version != CLOG_VERSION) ||
		    (version != 0 && bh.version != version))
			break;
		hlen = bh.version == 1 ? CLOG_V1_HEADER : sizeof bh;
		if (hlen > CLOG_V1_HEADER && read_at(fd, &bh.gen,
		    sizeof bh.gen, off + CLOG_V1_HEADER) == -1)
			break;
		/* The first block names the pass; one of another is old. */
		if (version == 0) {
			version = bh.version;
			gen = bh.gen;
		} else if (version != 1 && bh.gen != gen)
			break;
		p = xmalloc(bh.len ? bh.len : 1);
		if (read_at(fd, p, bh.len, off + hlen) == -1 ||
		    block_hash(version == 1 ? NULL : &bh.gen, bh.seq, bh.len,
		    p) != bh.hash) {
			free(p);
			break;	/* torn: the round never finished */
		}
		if (replay_block(rp, p, bh.len) == -1) {
			free(p);
			log_warnx("commit log %d: a damaged record in round "
			    "%llu; replay stops there", idx,
			    (unsigned long long)bh.seq);
			break;
		}
		free(p);
		last = bh.seq;
		off += hlen + bh.len;
	}
	return (last);
}

/*
 * At start, before any tenant file is opened, whatever the mode: replay
 * what the logs hold into the WAL files, put them on disk, empty the
 * logs.  0, or -1 with err.
 */
int
durable_recover(char *err, size_t errlen)
{
	struct replay	 rp;
	char		 path[1100];
	int		 fd[2], i, order[2];
	uint64_t	 s[2], last = 0;

	memset(&rp, 0, sizeof rp);
	for (i = 0; i < 2; i++) {
		log_path(i, path, sizeof path);
		fd[i] = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd[i] == -1 && errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			if (i == 1 && fd[0] != -1)
				close(fd[0]);
			return (-1);
		}
		s[i] = fd[i] == -1 ? 0 : first_seq(fd[i]);
	}
	/* Older log first. */
	order[0] = s[1] != 0 && (s[0] == 0 || s[1] < s[0]) ? 1 : 0;
	order[1] = 1 - order[0];
	for (i = 0; i < 2; i++)
		if (s[order[i]] != 0)
			last = replay_log(&rp, fd[order[i]], order[i], last);
	for (i = 0; i < rp.nf; i++) {
		if (rp.f[i].fd != -1 && (fsync(rp.f[i].fd) == -1 ||
		    close(rp.f[i].fd) == -1))
			fatal("commit log replay: %s", rp.f[i].path);
		free(rp.f[i].path);
	}
	if (rp.writes > 0 || rp.skipped > 0)
		log_info("commit log: replayed %zu WAL writes up to round %llu "
		    "(%zu for files no longer there)", rp.writes,
		    (unsigned long long)last, rp.skipped);
	/*
	 * Emptied on disk first, whatever follows: a removal lost in a power
	 * cut must not bring back a log that replays again over WALs written
	 * since.  Then kept for group commit to write over, or removed.
	 */
	for (i = 0; i < 2; i++) {
		if (fd[i] == -1)
			continue;
		if (clog_empty_fd(fd[i]) == -1)
			fatal("commit log: emptying commit-log-%d", i);
		close(fd[i]);
		if (durable_mode() != 0)
			continue;
		log_path(i, path, sizeof path);
		if (unlink(path) == -1 || fsync_parent(path) == -1)
			fatal("commit log: removing %s", path);
	}
	return (0);
}

/*
 * Start group commit when cfg asks for it: the logs, the sync thread and
 * the reset thread.  fn runs on the sync thread after every round
 * (http.c posts the held answers' release to their loops).
 */
void
durable_init(void (*fn)(void))
{
	struct stat	 sb;
	char		 path[1100];
	const char	*env;
	int		 i;

	if (durable_mode() == 0)
		return;
	async = durable_mode() == 2;
	if ((dirfd = open(cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		fatal("group commit: open %s", cfg.data_dir);
	/* Kept from before (durable_recover emptied them), or new. */
	for (i = 0; i < 2; i++) {
		log_path(i, path, sizeof path);
		logs[i].fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (logs[i].fd == -1 || fstat(logs[i].fd, &sb) == -1)
			fatal("group commit: %s", path);
		logs[i].size = 0;
		logs[i].filled = (uint64_t)sb.st_size;
		logs[i].gen = clog_gen();
	}
	if (fsync(dirfd) == -1)
		fatal("group commit: fsync %s", cfg.data_dir);
	/*
	 * Tests of the replay only: WAL writes go to the log but not to the
	 * files, as if the machine had lost them with its page cache (a
	 * kill -9 loses nothing).  Reads of the WAL then see nothing:
	 * write, do not read back, kill, restart.
	 */
	if (getenv("TENANTD_TEST_LOSE_WAL_WRITES") != NULL) {
		durable_lose_wal_writes = 1;
		log_warnx("TENANTD_TEST_LOSE_WAL_WRITES: tenant WAL writes "
		    "reach the commit log only (a test of its replay)");
	}
	if (cfg.commit_log_mib > 0)	/* --commit-log-mib */
		switch_bytes = (uint64_t)cfg.commit_log_mib << 20;
	/* Tests of switching and reusing the logs: a smaller size. */
	if ((env = getenv("TENANTD_TEST_COMMIT_LOG_BYTES")) != NULL &&
	    strtoull(env, NULL, 10) >= 4096)
		switch_bytes = strtoull(env, NULL, 10);
	notify = fn;
	active = 1;
	if ((errno = pthread_create(&thr, NULL, durable_main, NULL)) != 0)
		fatal("group commit: pthread_create");
	thread_name(thr, "sync", -1);
	if ((errno = pthread_create(&reset_thr, NULL, reset_main, NULL)) != 0)
		fatal("group commit: pthread_create");
	thread_name(reset_thr, "sync reset", -1);
}

/*
 * At shutdown, after the workers stopped: a last round for what still
 * waits, then stop the threads.  The logs stay until durable_close().
 */
void
durable_stop(void)
{
	if (!active || stopping)
		return;
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_signal(&work_cv);
	pthread_cond_signal(&reset_cv);
	pthread_mutex_unlock(&mtx);
	if ((errno = pthread_join(thr, NULL)) != 0 ||
	    (errno = pthread_join(reset_thr, NULL)) != 0)
		fatal("group commit: pthread_join");
}

/*
 * After every tenant file was closed cleanly (checkpointed and synced):
 * put the rest of the file system on disk and empty the logs, so the next
 * start has nothing to replay.  The files stay, written ahead, for the
 * next start to write over.
 */
void
durable_close(void)
{
	int	i;

	if (!active)
		return;
	if (syncfs(dirfd) == -1)
		fatal("commit log: syncfs of the data dir");
	for (i = 0; i < 2; i++) {
		if (clog_empty_fd(logs[i].fd) == -1)
			fatal("commit log: emptying commit-log-%d", i);
		close(logs[i].fd);
	}
	close(dirfd);
	dirfd = -1;
	free(cur.p);
	memset(&cur, 0, sizeof cur);
	pathset_clear(&dirty);
	for (i = 0; i < 2; i++)
		pathset_clear(&logs[i].paths);
	active = 0;
}
