/*
 * tenantd.h: the daemon's private header.
 *
 * Threads: one libevent loop per core (loop.c).  Each owns the sockets
 * of its connections and does their HTTP parsing.  The handle cache,
 * streams, schemas and the rest of the shared state are guarded by the
 * state lock; "[loop]" below means "on a loop, state lock held".  A fixed
 * pool of worker threads runs SQLite calls and every LMDB write.  Work
 * crosses over as struct job: a loop pushes it onto the run queue, a
 * worker runs job->run, and the loop that pushed it gets it back through
 * its queue and runs job->done.  The one exception is the fast path
 * (server.c): a loop that claims an idle open handle runs a read there
 * itself, without the lock.  Fields are marked [loop], [worker] (only by
 * the thread running the job), or [const] (set before the job is pushed,
 * read-only after).
 */
#ifndef TENANTD_H
#define TENANTD_H

#include <sys/queue.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <sqlite3.h>

/* A spin-wait's pause: lets the other hyperthread (and a VM's host) on. */
#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX()	__builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX()	__asm__ __volatile__("yield" ::: "memory")
#else
#define CPU_RELAX()	do { } while (0)
#endif

#include "common.h"
#include "migrate.h"
#include "exclvfs.h"

struct handle;
struct job;
struct stream;
struct http_req;

/* config.c */
struct config {
	char		*data_dir;
	char		*socket_path;
	char		*socket_group;
	char		*listen;		/* host:port or NULL */
	char		*schemas_dir;
	char		*default_schema;
	char		*ready_file;
	char		*restore_from;
	int		 foreground;
	int		 verbose;
	int		 max_open;
	int		 workers;
	int		 loops;
	size_t		 max_body;
	size_t		 max_import;
	uint64_t	 max_tenant_bytes;
	int		 stmt_timeout_ms;
	size_t		 max_response;
	int		 stream_timeout_s;
	int		 handle_wait_ms;
	int		 queue_wait_ms;
	int		 busy_timeout_ms;
	int		 synchronous_full;
	int		 group_commit;	/* at full: syncfs rounds (durable.c) */
	int		 commit_log_mib; /* each commit log's switch size */
	int		 flush_ms;	/* at normal: syncfs period (flush.c) */
	int		 flush_ms_set;	/* given on the command line */
	int		 flush_log;	/* at normal: through the commit log */
	int		 cache_kib;
	int		 idle_release_s;	/* 0: keep page caches */
	int		 spin_us;	/* loop.c: poll before sleeping */
	int		 shared_files;	/* unix VFS, not exclvfs.c */
	int		 no_auth;
	int		 http_timeout_s;
	int		 max_conns;
};
extern struct config cfg;
void		 config_defaults(void);
int		 config_parse(int, char **);
int		 config_default_max_open(void);
void		 config_usage(void);

/* lru.c: string-keyed hash table plus an LRU list of unpinned entries.
 * Embed struct lru_entry as the first member of the object.  [loop] */
struct lru_entry {
	char			 key[TID_MAX + 1];
	size_t			 keylen;
	uint32_t		 hash;
	struct lru_entry	*hnext;
	TAILQ_ENTRY(lru_entry)	 idle;
	int			 pins;
	int			 in_idle;	/* 0, LRU_IDLE or LRU_COLD */
};
#define LRU_IDLE	1
#define LRU_COLD	2
TAILQ_HEAD(lru_list, lru_entry);
struct lru {
	struct lru_entry	**buckets;
	size_t			  nbuckets;
	size_t			  count;
	struct lru_list		  idle;		/* most recently used first */
	struct lru_list		  cold;		/* lru_unpin_old, newest first */
	size_t			  nidle;	/* on either list */
};
void		 lru_init(struct lru *, size_t);
void		 lru_free(struct lru *);
struct lru_entry *lru_find(struct lru *, const char *, size_t);
int		 lru_insert(struct lru *, struct lru_entry *, const char *,
		     size_t);
void		 lru_remove(struct lru *, struct lru_entry *);
void		 lru_pin(struct lru *, struct lru_entry *);
void		 lru_unpin(struct lru *, struct lru_entry *);
void		 lru_unpin_old(struct lru *, struct lru_entry *);
struct lru_entry *lru_victim(struct lru *);
struct lru_entry *lru_first(struct lru *, size_t *);
struct lru_entry *lru_next(struct lru *, struct lru_entry *, size_t *);

/* catalog.c: the LMDB tenant catalog.  Reads from any thread; writes
 * (they fsync) only from workers. */
enum tenant_state {
	TENANT_ACTIVE = 1,
	TENANT_CREATING = 2,
	TENANT_DELETING = 3,
	TENANT_FAILED = 4,
};
struct tenant_rec {
	char		id[TID_MAX + 1];
	char		schema[MIGRATE_NAME_MAX + 1];	/* "" = none */
	int		version;
	int		state;
	int64_t		created;	/* ms since epoch */
	int64_t		updated;
	char		last_error[512];
	int		materialized;	/* 0: the file is made on first open */
};
#define CATALOG_OK		0
#define CATALOG_NOTFOUND	1
#define CATALOG_EXISTS		2
#define CATALOG_ERROR		-1
struct catalog;
int		 catalog_open(const char *, struct catalog **, char *, size_t);
void		 catalog_close(struct catalog *);
int		 catalog_get(struct catalog *, const char *, size_t,
		     struct tenant_rec *);
int		 catalog_put(struct catalog *, const struct tenant_rec *, int);
#define CATALOG_NOOVERWRITE	0x1
int		 catalog_create_batch(struct catalog *, const struct tenant_rec *,
		     size_t, int *);
int		 catalog_set_materialized(struct catalog *, const char *, int);
int		 catalog_del(struct catalog *, const char *);
int		 catalog_list(struct catalog *, const char *, const char *,
		     int, struct tenant_rec **, size_t *, int *);
int		 catalog_pending(struct catalog *, struct tenant_rec **,
		     size_t *);
int		 catalog_count_schema(struct catalog *, const char *, int,
		     size_t *);
size_t		 catalog_count(struct catalog *);
int		 catalog_scan_schema(struct catalog *, const char *, int, int,
		     char (**)[TID_MAX + 1], size_t *);
int		 catalog_job_put(struct catalog *, uint64_t, uint64_t,
		     const char *);
int		 catalog_job_each(struct catalog *, void (*)(void *, uint64_t,
		     const char *, size_t), void *);
struct catalog_version {
	char		id[TID_MAX + 1];
	int		version;	/* < 0: leave as it is */
	int64_t		when;
	char		error[512];	/* "" clears last_error */
	int		unmade_only;	/* skip if the file exists by now */
};
int		 catalog_applied_record(struct catalog *,
		     const struct migrate_set *, int);
int		 catalog_applied_check(struct catalog *,
		     const struct migrate_set *, int *, char *, size_t);
int		 catalog_copy(struct catalog *, const char *);
int		 catalog_each(struct catalog *,
		     int (*)(void *, const struct tenant_rec *), void *);
int		 catalog_set_versions(struct catalog *,
		     const struct catalog_version *, size_t);
int		 catalog_sync(struct catalog *);
const char	*catalog_state_name(int);
const char	*catalog_strerror(struct catalog *);

/* jsonr.c: a JSON reader for request bodies (a flat node array). */
enum jv_type { JV_NULL, JV_FALSE, JV_TRUE, JV_INT, JV_REAL, JV_STR, JV_ARR,
    JV_OBJ };
struct jv {
	uint8_t		 type;
	uint32_t	 skip;	/* nodes in this value's subtree, itself too */
	uint32_t	 n;	/* string bytes; array elements; members */
	union {
		int64_t		 i;
		double		 d;
		const char	*s;	/* NUL-terminated, n bytes */
	} u;
};
struct jdoc {
	struct jv	*v;	/* v[0]: the top-level object or array */
	size_t		 nv;
	size_t		 cap;
	char		*s;
	size_t		 slen;
};
int		 jdoc_parse(struct jdoc *, const char *, size_t, char *,
		     size_t);
void		 jdoc_free(struct jdoc *);
const struct jv	*jv_get(const struct jv *, const char *);
/* Arrays: the first element (if n > 0), then jv_next; objects: the
 * first key (a JV_STR, its value right after it). */
#define jv_first(a)	((a) + 1)
#define jv_next(v)	((v) + (v)->skip)

/* hrana.c: Hrana JSON decoding (untrusted input) and encoding. */
enum hrana_vtype { HV_NULL, HV_INTEGER, HV_FLOAT, HV_TEXT, HV_BLOB };
struct hrana_value {
	int		 type;
	int64_t		 i;
	double		 f;
	const char	*s;		/* text (borrowed from json) or blob */
	size_t		 len;
	unsigned char	*blob;		/* owned, for HV_BLOB */
};
struct hrana_named {
	const char		*name;
	struct hrana_value	 value;
};
struct hrana_stmt {
	const char		*sql;	/* NULL when sql_id is used */
	size_t			 sql_len;
	int			 has_sql_id;
	int32_t			 sql_id;
	struct hrana_value	*args;
	size_t			 nargs;
	struct hrana_named	*named;
	size_t			 nnamed;
	int			 want_rows;
};
enum hrana_ctype { HC_OK, HC_ERROR, HC_NOT, HC_AND, HC_OR, HC_AUTOCOMMIT };
struct hrana_cond {
	int			 type;
	uint32_t		 step;
	struct hrana_cond	*kids;
	size_t			 nkids;
};
struct hrana_step {
	struct hrana_cond	*cond;	/* NULL: always */
	struct hrana_stmt	 stmt;
};
enum hrana_rtype {
	HR_EXECUTE, HR_BATCH, HR_SEQUENCE, HR_DESCRIBE, HR_STORE_SQL,
	HR_CLOSE_SQL, HR_CLOSE, HR_GET_AUTOCOMMIT
};
struct hrana_req {
	int			 type;
	struct hrana_stmt	 stmt;		/* execute */
	struct hrana_step	*steps;		/* batch */
	size_t			 nsteps;
	const char		*sql;		/* sequence/describe/store_sql */
	size_t			 sql_len;
	int			 has_sql_id;
	int32_t			 sql_id;
};
struct hrana_pipeline {
	struct jdoc		 doc;		/* keeps borrowed strings */
	int			 version;	/* 2 or 3 */
	const char		*baton;		/* NULL: new stream */
	size_t			 baton_len;
	struct hrana_req	*reqs;
	size_t			 nreqs;
};
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};
int		 hrana_decode_pipeline(const char *, size_t, int,
		     struct hrana_pipeline *, char *, size_t);
void		 hrana_pipeline_free(struct hrana_pipeline *);
const char	*hrana_rtype_name(int);
size_t		 utf8_seq(const unsigned char *, size_t);
void		 buf_init(struct buf *, size_t);
void		 buf_free(struct buf *);
void		 buf_addf(struct buf *, const char *, ...) printflike(2, 3);
void		 buf_reserve(struct buf *, size_t);
void		 buf_grow(struct buf *, size_t);

/*
 * Append n bytes; the answer of every request is built by many small
 * appends, so the common case (it fits) is inline, and buf_adds of a
 * literal takes its length at compile time.
 */
static inline void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}
void		 buf_add_int(struct buf *, int64_t);
void		 hrana_put_str(struct buf *, const char *, size_t);
void		 hrana_put_int_str(struct buf *, int64_t);
void		 hrana_put_double(struct buf *, double);
void		 hrana_put_blob(struct buf *, const void *, size_t);
void		 hrana_put_error(struct buf *, const char *, const char *);
void		 hrana_put_value(struct buf *, const struct hrana_value *);

/* stream.c: Hrana streams and batons.  [loop] */
#define STREAM_SQL_MAX		50
#define STREAM_SQL_MAXLEN	(64 * 1024)
struct sqlstore {
	struct {
		int32_t	 id;
		char	*sql;
		size_t	 len;
	}		 items[STREAM_SQL_MAX];
	size_t		 n;
};
struct stream {
	struct lru_entry	 le;		/* key: hex stream id */
	uint64_t		 id;
	uint64_t		 seq;
	char			 tid[TID_MAX + 1];
	struct sqlstore		 sql;		/* [worker] while busy */
	int			 busy;
	int			 expired;
	int			 in_txn;
	struct handle		*owned;		/* handle whose txn we hold */
	uint64_t		 last_used_us;
};
void		 stream_init(void);
void		 stream_shutdown(void);
int		 stream_lookup(const char *, size_t, const char *,
		     struct stream **, const char **, const char **);
struct stream	*stream_new(const char *);
void		 stream_baton(struct stream *, char *, size_t);
void		 stream_release(struct stream *, int, int, struct handle *);
void		 stream_destroy(struct stream *);
void		 stream_expire_tick(void);
size_t		 stream_count(void);
void		 sqlstore_clear(struct sqlstore *);
const char	*sqlstore_get(struct sqlstore *, int32_t, size_t *);
int		 sqlstore_put(struct sqlstore *, int32_t, const char *, size_t);
void		 sqlstore_del(struct sqlstore *, int32_t);

/* durable.c: group commit at --synchronous full (syncfs rounds). */
struct durable_stats {
	_Atomic uint64_t	rounds;
	_Atomic uint64_t	commits;	/* tickets handed out */
	_Atomic uint64_t	sync_us;	/* writing + syncing the log */
	_Atomic uint64_t	bytes;		/* written to the log */
	_Atomic uint64_t	resets;		/* logs emptied after a syncfs */
	_Atomic uint64_t	held;		/* answers that waited */
};
extern struct durable_stats durable_stats;

/* flush.c: at --synchronous normal, a syncfs every --flush-ms. */
struct flush_stats {
	_Atomic uint64_t	passes;
	_Atomic uint64_t	us;		/* in syncfs */
	_Atomic uint64_t	failed;
};
extern struct flush_stats flush_stats;
extern _Atomic uint64_t	 flush_commits;	/* bumped by every commit */
void		 flush_init(void);
int		 flush_active(void);
void		 flush_stop(void);
extern int	 durable_lose_wal_writes;
enum { DREC_WRITE = 1, DREC_TRUNCATE, DREC_FORGET };
int		 durable_recover(char *, size_t);
void		 durable_init(void (*)(void));
void		 durable_log(int, const char *, size_t, uint64_t, const void *,
		     size_t);
void		 durable_forget(const char *);
void		 durable_close(void);
int		 durable_active(void);
int		 durable_holds(void);
uint64_t	 durable_ticket(void);
uint64_t	 durable_pending(void);
int		 durable_reached(uint64_t);
void		 durable_wait(uint64_t);
void		 durable_stop(void);
void		 http_durable_notify(void);

/* worker.c: the thread pool and the completion queue. */
typedef void (*job_cb)(struct job *);
TAILQ_HEAD(job_list, job);
struct job {
	TAILQ_ENTRY(job)	 entry;
	uint64_t		 reqid;		/* [const] */
	char			 tid[TID_MAX + 1];	/* [const] */
	size_t			 tidlen;
	struct handle		*h;		/* [const] once pushed */
	struct handle		*victim;	/* [const] evicted: close it */
	int			 victim_late;	/* [const] after the answer */
	uint64_t		 stream_id;	/* 0: none */
	int			 force;		/* runs despite an owner */
	int			 readonly;	/* [const] query_only */
	int			 bounded;	/* a client waits: time-limited */
	TAILQ_ENTRY(job)	 qentry;	/* [loop] on the waiting list */
	int			 front;		/* queue ahead of others */
	job_cb			 run;		/* [worker] */
	job_cb			 done;		/* [loop] */
	void			*arg;
	int			 status;	/* HTTP status result */
	int			 open_failed;	/* [worker] */
	char			 errmsg[512];	/* [worker] */
	const char		*errcode;	/* [worker] static */
	uint64_t		 t_queued;
	int			 batchable;	/* [const] may ride in a batch */
	struct job_list		 batch;		/* [loop] run after this one */
	int			 unrun;		/* [worker] batch cut short */
	int			 bg_queued;	/* on the upkeep queue, not
						   started (worker.c) */
	struct loop		*loop;		/* where done runs */
	job_cb			 onloop;	/* posted: run this, unlocked */
	int			 batch_done;	/* posted: ran in a batch */
	int			 victim_free;	/* posted: frees an evicted
						   handle (worker.c) */
	int			 quiet;		/* [const] no client waits on
						   it: no spin after (worker.c) */
};
void		 worker_start(int);
void		 worker_push_background(struct job *);
void		 worker_push_backgrounds(struct job_list *);
int		 worker_cancel_background(struct job *);
void		 worker_push(struct job *);
void		 worker_complete(struct job *);
void		 worker_stop(void);
int		 worker_count(void);
int		 worker_busy(void);
size_t		 worker_inflight(void);

/* sqlmem.c: SQLite's allocator; the VFS inode records in one pool. */
int		 sqlmem_init(void);
size_t		 sqlmem_probe(const char *);

/* loop.c: the event loops (one per core) and the state lock. */
struct loop;
extern _Thread_local struct loop *loop_self;
void		 loops_init(struct event_base *, int);
void		 loops_stop(void);
void		 loops_drain_all(void);
void		 loops_free(void);
void		 loop_post(struct loop *, struct job *);
int		 loop_mine(struct loop *);
struct loop	*loop_next(void);
struct event_base *loop_base(struct loop *);
int		 loop_others_ready(void);
int		 loop_id(struct loop *);
int		 loop_count(void);
void		 loop_run(struct event_base *);
void		 loop_spin_stats(uint64_t *, uint64_t *, uint64_t *);
void		 loop_note_activity(void);
void		 thread_name(pthread_t, const char *, int);
void		 thread_slice(uint64_t);
#define LOOP_SLICE_NS	(200 * 1000)	/* loop.c: thread_slice() */
void		 state_lock(void);
void		 state_unlock(void);

/* vfs.c: exclvfs.c's VFS (exclvfs.h; or unix: --shared-files) with full
 * paths taken as given (tenant files). */
#define TENANT_VFS	"tenantd"
int		 vfs_init(void);
void		 vfs_wal_flush(sqlite3 *);
extern _Atomic uint64_t	 vfs_wal_writes;

/* cache.c: the LRU handle cache and per-tenant job queues.  [loop] */
struct stmt_slot {
	char		*sql;
	size_t		 len;
	uint32_t	 hash;
	sqlite3_stmt	*st;
	uint64_t	 used;
};
#define HANDLE_STMTS	32
struct handle {
	struct lru_entry	 le;		/* key: tenant id */
	char			 path[1024];	/* [const] */
	char			 schema[MIGRATE_NAME_MAX + 1];
	struct schema		*set;		/* [loop] ref; set immutable */
	int			 version;	/* catalog version at open */
	sqlite3			*db;		/* [worker] */
	struct stmt_slot	 stmts[HANDLE_STMTS];	/* [worker] */
	uint64_t		 stmt_clock;	/* [worker] */
	int			 ro_txn;	/* [worker] READONLY txn */
	int			 deleted;	/* [worker] files removed */
	int			 internal;	/* [worker] our own SQL runs */
	int			 job_ro;	/* [worker] read-only token */
	int			 inline_run;	/* [worker] on a loop: bounded */
	int			 inline_write_ok; /* [worker] one write may run */
	int			 inline_abort;	/* [worker] stopped: to a worker */
	int			 inline_ticks;	/* [worker] progress calls */
	int			 ckpt_due;	/* [worker] WAL checkpoint owed */
	int			 wal_restart;	/* [worker] next commit starts
						 * the WAL over (an fsync) */
	int			 wal_frames;	/* [worker] in the WAL at the
						 * last commit */
	uint64_t		 deadline_us;	/* [worker] statement deadline */
	struct job_list		 jobs;		/* [loop] queued */
	struct job		*running;	/* [loop] */
	uint64_t		 owner;		/* [loop] stream in txn */
	int			 in_table;	/* [loop] */
	uint64_t		 idle_since;	/* [loop] last job done */
	int			 trimmed;	/* [loop] memory given back */
	uint64_t		 sync_ticket;	/* [worker] last commit's round */
};
struct cache_stats {
	uint64_t	hits;
	uint64_t	misses;
	uint64_t	evictions;
	uint64_t	wait_timeouts;
	uint64_t	batched;	/* requests run behind another */
	uint64_t	inline_runs;	/* run on a loop (fast path) */
	uint64_t	inline_handoffs;	/* fast path gave up: worker */
	uint64_t	inline_opens;	/* misses opened on a loop */
	uint64_t	inline_open_waits;	/* of those: would wait, worker */
	uint64_t	checkpoints;	/* owed by the fast path, on workers */
	uint64_t	trims;		/* idle handles' memory released */
};
extern struct cache_stats cache_stats;
extern _Atomic long cache_open_handles;	/* files open now (workers) */
void		 cache_init(struct catalog *);
int		 cache_dispatch(struct job *, const char **, const char **);
int		 cache_dispatch_cold(struct job *, struct handle **,
		    const char **, const char **);
void		 cache_submit(struct handle *, struct job *);
void		 cache_job_done(struct job *);
void		 cache_victim_free(struct job *);
void		 cache_close_victim(struct handle *);
int		 cache_idle_pending(void);
void		 cache_idle(void);
void		 cache_victim_gone(void);
void		 cache_batch_done(struct job *);
void		 handle_close_clean(struct handle *);
void		 handle_close_evicted(struct handle *);
struct handle	*cache_claim(struct job *);
void		 cache_unclaim(struct job *, int);
struct handle	*cache_find(const char *, size_t);
struct handle	*cache_detach(const char *, size_t);
void		 cache_set_owner(struct handle *, uint64_t);
void		 cache_clear_owner(struct handle *, uint64_t);
void		 cache_tick(void);
void		 cache_shrink(void);
size_t		 cache_cap(void);
size_t		 cache_count(void);
void		 cache_stop_upkeep(void);
void		 cache_shutdown(void);
int		 cache_busy_id(const char *, size_t);
void		 cache_busy_add(const char *, size_t);
void		 cache_busy_del(const char *, size_t);
void		 handle_close_db(struct handle *);
void		 handle_free(struct handle *);
void		 handle_path(const char *, size_t, char *, size_t);

/* exec.c: runs Hrana requests and handle opens on a worker. [worker] */
int		 exec_open(struct handle *, char *, size_t);
void		 exec_pipeline(struct handle *, struct hrana_pipeline *,
		     struct sqlstore *, struct buf *, int *, int *);
void		 exec_rollback(struct handle *);
int		 exec_migrate(struct handle *, int *, struct migrate_error *);
void		 exec_query_only(struct handle *, int);
void		 exec_checkpoint(struct handle *);
void		 exec_wal_checkpoint(struct handle *, int);
void		 exec_durable(struct handle *);
int		 exec_wal_backfill(struct handle *);
int		 exec_create_db(const char *, const struct migrate_set *, int,
		     int, char *, size_t);
const char	*exec_code_name(int);

/* schema.c: the registry of migration sets.  [loop] */
struct schema {
	int			 refs;
	char			 name[MIGRATE_NAME_MAX + 1];
	struct migrate_set	*set;
	char			 edited[512];	/* "" if the files agree */
	_Atomic int		 recorded;	/* checksums kept up to */
};
void		 schema_applied(struct schema *, int);
int		 schema_load_all(const char *, char *, size_t);
void		 schema_reload(void (*)(void *), void *);
struct schema	*schema_get(const char *);
void		 schema_unref(struct schema *);
struct schema	*schema_at(size_t);
void		 schema_shutdown(void);

/* tenant.c: create and delete, crash-safe.  Jobs run on workers. */
int		 tenant_recover(struct catalog *);
void		 tenant_create(struct http_req *, const char *, size_t,
		     const char *);
void		 tenant_delete(struct http_req *, const char *, size_t);
int		 tenant_rm_files(const char *);
void		 tenant_migrate_on_open(struct handle *);
void		 tenant_check(struct http_req *, const char *, size_t);
void		 tenant_rec_json(const struct tenant_rec *, json_t *);

/* http.c: a small HTTP/1.1 server on libevent.  [loop] */
#define HTTP_MAX_HEADERS	64
struct http_header {
	char	*name;
	char	*value;
};
struct http_conn;
struct http_req {
	struct http_conn	*conn;
	uint64_t		 id;
	char			*method;
	char			*path;		/* raw, percent-encoded */
	char			*query;		/* raw, NULL if none */
	struct http_header	 headers[HTTP_MAX_HEADERS];
	int			 nheaders;
	char			*body;
	size_t			 body_len;
	int			 body_fd;	/* upload in a file, or -1 */
	char			*body_path;	/* removed when req is freed */
	uint64_t		 t_start;
	int			 route;		/* metrics label */
	int			 tcp;		/* came in over TCP */
	int			 replied;
	struct evbuffer		*stage;		/* answer built off its loop */
	int			 stage_close;	/* ...that ends the connection */
	int			 admin;		/* may use the admin plane */
	int			 readonly;	/* data plane: reads only */
	struct token_claims	*claims;	/* TCP token, NULL if none */
	uint64_t		 sync_ticket;	/* answer waits for this round */
	int			 held;		/* answer staged until durable */
	int			 held_status;
	TAILQ_ENTRY(http_req)	 hentry;	/* on its loop's held list */
};
typedef void (*http_handler)(struct http_req *);
typedef int (*http_body_policy)(struct http_req *);
void		 http_set_body_policy(http_body_policy);
int		 http_listen_unix(struct event_base *, const char *,
		     const char *, http_handler);
int		 http_listen_tcp(struct event_base *, const char *,
		     http_handler, char *, size_t);
void		 http_stop_listening(void);
void		 http_close_all(void);
const char	*http_header(struct http_req *, const char *);
void		 http_reply(struct http_req *, int, const char *,
		     const void *, size_t);
void		 http_reply_buf(struct http_req *, int, const char *,
		     struct buf *);
void		 http_reply_buf_from(struct http_req *, int, const char *,
		     struct buf *, size_t);
void		 http_reply_json(struct http_req *, int, json_t *);
void		 http_reply_file(struct http_req *, int, const char *, int,
		     size_t, const char *);
void		 http_reply_file_segment(struct http_req *, int, const char *,
		     const void *, size_t, int, size_t, size_t, const char *,
		     void (*)(void *), void *);
void		 http_reply_error(struct http_req *, int, const char *,
		     const char *, ...) printflike(4, 5);
size_t		 http_conn_count(void);
size_t		 http_inflight(void);
size_t		 http_loop_inflight(const struct http_req *);
int		 http_pct_decode(const char *, size_t, char *, size_t,
		     size_t *);
int		 http_parse_request(char *, size_t, struct http_req *, size_t,
		     size_t *, int *, const char **);

/* auth.c: bearer tokens on TCP.  [loop] */
struct token_claims;
int		 auth_init(void);
void		 auth_shutdown(void);
int		 auth_check(struct http_req *, struct token_claims *,
		     const char **);
char		*auth_sign(const struct token_claims *);

/* server.c: routing and the data plane.  [loop] */
enum route {
	ROUTE_OTHER, ROUTE_HEALTH, ROUTE_METRICS, ROUTE_STATUS, ROUTE_SCHEMAS,
	ROUTE_TENANTS_CREATE, ROUTE_TENANTS_LIST, ROUTE_TENANTS_GET,
	ROUTE_TENANTS_DELETE, ROUTE_PIPELINE, ROUTE_VERSION, ROUTE_EXPORT,
	ROUTE_MIGRATIONS, ROUTE_TOKENS, ROUTE_IMPORT, ROUTE_BACKUPS,
	ROUTE__MAX
};
void		 server_handle(struct http_req *);
int		 server_body_policy(struct http_req *);
int		 server_shutting_down(void);
void		 server_set_shutdown(void);
void		 crash_point(const char *);	/* tenant.c */
extern struct catalog *server_catalog;
extern struct event_base *server_base;
extern uint64_t server_start_ms;

/* export.c: per-tenant export as a file.  [loop] + worker */
void		 export_start(struct http_req *, const char *, size_t, int);
int		 export_init(void);
int		 export_copy_db(sqlite3 *, const char *, char *, size_t);

/* import.c: per-tenant import of a file or dump.  [loop] + worker */
void		 import_start(struct http_req *, const char *, size_t, int,
		     const char *);

/* backup.c: online backup, offline restore */
void		 backup_route(struct http_req *, const char *);
void		 backup_shutdown(void);
int		 backup_restore(const char *, const char *);

/* rollout.c: fleet migrations.  [loop] + worker */
void		 rollout_route(struct http_req *, const char *);
void		 rollout_init(void);
void		 rollout_tick(void);
void		 rollout_shutdown(void);
size_t		 rollout_running(void);

/* admin.c: the JSON admin plane.  [loop] */
void		 admin_route(struct http_req *, const char *, size_t);
int		 admin_query_get(const char *, const char *, char *, size_t,
		     int *);
int		 admin_parse_create(const char *, size_t, char *, size_t *,
		     const char **, char *, size_t, const char **);

/* metrics.c  [loop] */
void		 metrics_request(int, int, uint64_t);
void		 metrics_render(struct buf *);
const char	*metrics_route_name(int);

#endif /* TENANTD_H */
