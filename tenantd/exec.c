/*
 * exec.c: running Hrana requests against a tenant's connection.
 *
 * Worker threads only: every function here touches h->db and h->stmts,
 * which belong to the worker running the handle's current job (the cache
 * guarantees one job per handle at a time).  Results are written as JSON
 * into a struct buf that the loop later sends.
 *
 * Prepared statements are cached per handle (HANDLE_STMTS slots, least
 * recently used replaced), keyed by SQL text, so a hot query is parsed
 * once per open handle.  Statements are reset and unbound after every use.
 *
 * BEGIN TRANSACTION READONLY (libSQL syntax the JS client sends for read
 * transactions) runs as BEGIN DEFERRED with PRAGMA query_only on until the
 * transaction ends.
 *
 * exec_open() also makes a tenant's file the first time it is opened: a
 * create only writes the catalog record (materialized = false); see
 * exec_materialize() for the steps and why a crash anywhere is harmless.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tenantd.h"

struct xerr {
	char		 msg[600];
	const char	*code;
};

static void
xerr_sqlite(struct xerr *e, sqlite3 *db, int rc)
{
	snprintf(e->msg, sizeof e->msg, "SQLite error: %s",
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	e->code = exec_code_name(rc);
}

/*
 * An error from stepping a statement, with clearer codes for the limits
 * the sandbox sets: a timeout and a full tenant.
 */
static void
exec_error(struct xerr *e, struct handle *h, int rc)
{
	if ((rc & 0xff) == SQLITE_INTERRUPT) {
		snprintf(e->msg, sizeof e->msg, "the statement ran longer than "
		    "%d ms and was stopped (--statement-timeout)",
		    cfg.stmt_timeout_ms);
		e->code = "QUERY_TIMEOUT";
		return;
	}
	xerr_sqlite(e, h->db, rc);
	if ((rc & 0xff) == SQLITE_FULL) {
		snprintf(e->msg, sizeof e->msg, "the tenant is full: its "
		    "database reached the size quota of %llu bytes, or the "
		    "disk is full (SQLite: %s)",
		    (unsigned long long)cfg.max_tenant_bytes,
		    sqlite3_errmsg(h->db));
		e->code = "SQLITE_FULL";
	}
}

/* "SQLITE_CONSTRAINT" etc. for a (possibly extended) result code. */
const char *
exec_code_name(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_ERROR:	return ("SQLITE_ERROR");
	case SQLITE_INTERNAL:	return ("SQLITE_INTERNAL");
	case SQLITE_PERM:	return ("SQLITE_PERM");
	case SQLITE_ABORT:	return ("SQLITE_ABORT");
	case SQLITE_BUSY:	return ("SQLITE_BUSY");
	case SQLITE_LOCKED:	return ("SQLITE_LOCKED");
	case SQLITE_NOMEM:	return ("SQLITE_NOMEM");
	case SQLITE_READONLY:	return ("SQLITE_READONLY");
	case SQLITE_INTERRUPT:	return ("SQLITE_INTERRUPT");
	case SQLITE_IOERR:	return ("SQLITE_IOERR");
	case SQLITE_CORRUPT:	return ("SQLITE_CORRUPT");
	case SQLITE_NOTFOUND:	return ("SQLITE_NOTFOUND");
	case SQLITE_FULL:	return ("SQLITE_FULL");
	case SQLITE_CANTOPEN:	return ("SQLITE_CANTOPEN");
	case SQLITE_PROTOCOL:	return ("SQLITE_PROTOCOL");
	case SQLITE_SCHEMA:	return ("SQLITE_SCHEMA");
	case SQLITE_TOOBIG:	return ("SQLITE_TOOBIG");
	case SQLITE_CONSTRAINT:	return ("SQLITE_CONSTRAINT");
	case SQLITE_MISMATCH:	return ("SQLITE_MISMATCH");
	case SQLITE_MISUSE:	return ("SQLITE_MISUSE");
	case SQLITE_AUTH:	return ("SQLITE_AUTH");
	case SQLITE_RANGE:	return ("SQLITE_RANGE");
	case SQLITE_NOTADB:	return ("SQLITE_NOTADB");
	}
	return ("SQLITE_UNKNOWN");
}

/*
 * PRAGMAs tenant SQL may run.  Reading is allowed for everything but the
 * few that name files or reveal the host; setting is allowed only for the
 * settings a client legitimately changes (the JS client's migrate() turns
 * foreign_keys off and on).  Journaling, locking, writable_schema,
 * user_version, query_only, max_page_count (the size quota), mmap and
 * cache sizes, and anything naming a file or directory stay ours.
 */
static int
exec_pragma_allowed(const char *name, const char *arg)
{
	static const char *settable[] = { "foreign_keys", "defer_foreign_keys",
	    "recursive_triggers", "reverse_unordered_selects",
	    "automatic_index", "case_sensitive_like", "legacy_alter_table",
	    "optimize", "analysis_limit", "foreign_key_check",
	    "integrity_check", "quick_check", "table_info", "table_xinfo",
	    "index_info", "index_xinfo", "index_list", "foreign_key_list",
	    "function_list" , NULL };
	static const char *hidden[] = { "database_list",
	    "temp_store_directory", "data_store_directory", "module_list",
	    "pragma_list", "compile_options", NULL };
	size_t	i;

	if (name == NULL)
		return (0);
	/* Checkpoints are tenantd's: it must know when the WAL starts over
	 * (struct handle's wal_restart). */
	if (strcasecmp(name, "wal_checkpoint") == 0)
		return (0);
	for (i = 0; hidden[i] != NULL; i++)
		if (strcasecmp(name, hidden[i]) == 0)
			return (0);
	if (arg == NULL)
		return (1);
	for (i = 0; settable[i] != NULL; i++)
		if (strcasecmp(name, settable[i]) == 0)
			return (1);
	return (0);
}

/*
 * The tenant sandbox's first layer: tenant SQL may not attach other files
 * or touch the migration record.  (Trusted paths, migrations and import,
 * use connections without this authorizer.)
 */
static int
exec_authorizer(void *arg, int action, const char *a, const char *b,
    const char *dbname, const char *trigger)
{
	struct handle	*h = arg;

	if (h->internal)
		return (SQLITE_OK);
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return (SQLITE_DENY);
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
	case SQLITE_DROP_TABLE:
	case SQLITE_ALTER_TABLE:
		if (a != NULL && strcasecmp(a, MIGRATE_TABLE) == 0)
			return (SQLITE_DENY);
		break;
	case SQLITE_PRAGMA:
		return (exec_pragma_allowed(a, b) ? SQLITE_OK : SQLITE_DENY);
	case SQLITE_FUNCTION:
		/* fts3_tokenizer() hands out and takes raw pointers. */
		if (b != NULL && (strcasecmp(b, "fts3_tokenizer") == 0 ||
		    strcasecmp(b, "load_extension") == 0))
			return (SQLITE_DENY);
		break;
	}
	return (SQLITE_OK);
}

/*
 * Tight limits for tenant connections: no attached files, shallow
 * expressions and triggers, bounded strings, blobs and SQL text.
 */
static void
exec_limits(sqlite3 *db)
{
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1024 * 1024);
	sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 2000);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 100);
	sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 250000);
	sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 64);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 10000);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 32766);
	sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 32);
	sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
}

/* The size quota (--max-tenant-size) as a page count; *pagesz is set. */
static int
exec_quota(sqlite3 *db, long long *pagesz)
{
	sqlite3_stmt	*st;
	char		 sql[64];
	long long	 psz = 4096;

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		psz = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	*pagesz = psz;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count=%llu",
	    (unsigned long long)(cfg.max_tenant_bytes / (uint64_t)psz));
	return (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1);
}

/*
 * On a loop (fast path), a pipeline may run this many progress calls
 * (1000 VM instructions each, roughly 100-200 us) before it is stopped
 * and handed to a worker, so that one heavy query does not hold up the
 * loop's other connections.
 */
#define EXEC_INLINE_TICKS	20
#define EXEC_OPEN_OPS		25	/* steps per progress call, opening */

/*
 * Ends a statement that runs past its deadline (--statement-timeout), or
 * an inline one past its budget.
 */
static int
exec_progress(void *arg)
{
	struct handle	*h = arg;

	if (h->inline_run && ++h->inline_ticks > EXEC_INLINE_TICKS) {
		h->inline_abort = 1;
		return (1);
	}
	return (h->deadline_us != 0 && time_mono_us() > h->deadline_us);
}

/*
 * SQLite checkpoints (copies the WAL back into the database file, with an
 * fsync of each at synchronous=NORMAL) from the commit that grows the WAL
 * past EXEC_CKPT_PAGES.  On a worker it still does; a commit made on a
 * loop (the fast path) only marks the handle, and the loop hands the
 * checkpoint to a worker when it gives the handle back (cache_unclaim),
 * so that no loop waits on an fsync.
 *
 * The first commit after a checkpoint, and the first into an empty WAL,
 * starts the WAL over and fsyncs its new header (at synchronous=NORMAL
 * too: SQLite's guard against writes reaching the disk out of order).
 * Every checkpoint of a handle's connection goes through
 * exec_wal_checkpoint (tenant SQL may not run one), so h->wal_restart says
 * when the next commit is such a one, and the fast path leaves that
 * commit to a worker.
 */
#define EXEC_CKPT_PAGES		1000

/* Checkpoint h's WAL (mode: SQLITE_CHECKPOINT_*).  A worker. */
void
exec_wal_checkpoint(struct handle *h, int mode)
{
	if (h->db == NULL)
		return;
	sqlite3_wal_checkpoint_v2(h->db, NULL, mode, NULL, NULL);
	h->wal_restart = 1;
	if (mode == SQLITE_CHECKPOINT_TRUNCATE)
		h->wal_frames = 0;
}

static int
exec_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct handle	*h = arg;

	/* A frame header the VFS held back (vfs.c): written by now. */
	vfs_wal_flush(db);
	/* Group commit: answers that depend on this commit wait for the
	 * sync round that covers it (durable.c). */
	if (durable_holds())
		h->sync_ticket = durable_ticket();
	atomic_fetch_add_explicit(&flush_commits, 1, memory_order_relaxed);
	h->wal_restart = 0;
	h->wal_frames = frames;
	if (frames < EXEC_CKPT_PAGES)
		return (SQLITE_OK);
	if (h->inline_run)
		h->ckpt_due = 1;
	else
		exec_wal_checkpoint(h, SQLITE_CHECKPOINT_PASSIVE);
	return (SQLITE_OK);
}

/*
 * Copy h's WAL into its database file without syncing either, and leave
 * the WAL as it is (shutdown: cache_shutdown syncs every file at once
 * after this, then empties the WALs).  Returns the WAL's frame count (0:
 * nothing to copy), or -1 if the checkpoint failed.
 */
int
exec_wal_backfill(struct handle *h)
{
	int	nlog = 0, rc;

	if (h->db == NULL)
		return (0);
	h->internal = 1;	/* tenant SQL may not set it: the authorizer */
	sqlite3_exec(h->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	rc = sqlite3_wal_checkpoint_v2(h->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &nlog, NULL);
	if (rc != SQLITE_OK)
		log_warnx("tenant %s: checkpoint: %s", h->le.key,
		    sqlite3_errmsg(h->db));
	/* Whatever it did not copy, the next checkpoint copies and syncs. */
	sqlite3_exec(h->db, cfg.synchronous_full && !durable_active() ?
	    "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL, NULL,
	    NULL);
	h->internal = 0;
	if (rc != SQLITE_OK)
		return (-1);
	return (nlog > 0 ? nlog : 0);
}

/*
 * Make what h committed so far durable before it is reported (a
 * migration's new version goes into the catalog after this).  With group
 * commit: wait for the round of its last commit.  At synchronous=NORMAL:
 * sync its WAL now (the flush thread would within --flush-ms, but the
 * catalog must not say a version a power cut can take back from the
 * file).  At FULL without group commit SQLite synced every commit.  A
 * worker.
 */
void
exec_durable(struct handle *h)
{
	sqlite3_file	*wal = NULL;

	if (durable_active()) {
		/* --flush-log: a round now for everything logged so far. */
		if (!durable_holds())
			h->sync_ticket = durable_ticket();
		durable_wait(h->sync_ticket);
		return;
	}
	if (cfg.synchronous_full || h->db == NULL)
		return;
	if (sqlite3_file_control(h->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wal) == SQLITE_OK && wal != NULL && wal->pMethods != NULL &&
	    wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK)
		log_warnx("tenant %s: syncing its WAL failed", h->le.key);
}

/* The checkpoint a fast-path commit left due (a worker). */
void
exec_checkpoint(struct handle *h)
{
	if (h->ckpt_due)
		exec_wal_checkpoint(h, SQLITE_CHECKPOINT_PASSIVE);
	h->ckpt_due = 0;
}

/*
 * Keep the -wal and -shm files when the last connection closes (truncated
 * to nothing, since journal_size_limit is set).  Deleting and creating them on every
 * close and open made the filesystem's inode allocator the most expensive
 * part of an LRU miss and of a fleet rollout (perf: ext4
 * find_inode_bit/recently_deleted).
 */
static void
exec_persist_wal(sqlite3 *db)
{
	int	one = 1;

	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
}

/* Remove a database and the journal, WAL and shm files SQLite may leave. */
static void
unlink_db(const char *path)
{
	static const char	*sfx[] = { "", "-journal", "-wal", "-shm" };
	char			 p[1100];
	size_t			 i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (unlink(p) == -1 && errno != ENOENT)
			log_warn("unlink %s", p);
	}
}

/*
 * Where a tenant's file is built before it is linked into place: DATA/tmp,
 * which is emptied at every start (export_init), so a half-made file left
 * by a crash is never mistaken for the tenant and never outlives a
 * restart.  Ids are safe path components (common/tid.c).
 */
static void
exec_make_path(const char *tid, char *out, size_t size)
{
	snprintf(out, size, "%s/tmp/make-%s.db", cfg.data_dir, tid);
}

/* Whether a system error means the process ran out of descriptors. */
static int
fd_exhausted(int e)
{
	return (e == EMFILE || e == ENFILE);
}

/*
 * Make the file of a tenant whose catalog record says it has none yet:
 *   1. build it in DATA/tmp at exactly rec->version (schema steps
 *      1..version, as a create used to), in WAL mode;
 *   2. fsync it (crash point materialize-before-link);
 *   3. link(2) it to its real name (never replaces a file that is there),
 *      remove the temporary name, fsync the tenant's folder.
 * The caller then marks the record materialized (crash point
 * materialize-before-record sits between the two).  A crash before 3
 * leaves only a temporary file (removed at the next start or the next
 * attempt) and the record still unmaterialized: the next open starts
 * over.  A crash after 3 leaves a complete file and an unmaterialized
 * record: the next open finds the file and marks the record then.  So no
 * step can leave a half-made file under the tenant's name, and a file is
 * only ever made for a record that says it has none.  Worker, on the
 * tenant's handle (one job per tenant at a time).  0, or -1 with err.
 */
static int
exec_materialize(struct handle *h, const struct tenant_rec *rec, char *err,
    size_t errlen)
{
	const struct migrate_set	*set = NULL;
	int				 sys = 0;
	char				 tmp[1100];

	if (rec->schema[0] != '\0') {
		if (h->set == NULL || strcmp(h->schema, rec->schema) != 0) {
			snprintf(err, errlen, "cannot make the tenant's "
			    "database: schema %s is not loaded", rec->schema);
			return (-1);
		}
		if (h->set->edited[0] != '\0') {
			snprintf(err, errlen, "cannot make the tenant's "
			    "database: schema %s: %s", rec->schema,
			    h->set->edited);
			return (-1);
		}
		set = h->set->set;
	}
	if (rec->version < 0 || rec->version > (set != NULL ?
	    migrate_set_latest(set) : 0)) {
		snprintf(err, errlen, "cannot make the tenant's database: "
		    "version %d is not a version of schema %s", rec->version,
		    rec->schema[0] ? rec->schema : "(none)");
		return (-1);
	}
	/* A new shard folder: its own entry must be durable too. */
	if (mkdir_parent(h->path, 0750) == -1) {
		snprintf(err, errlen, "cannot create the tenant's folder: %s",
		    strerror(errno));
		return (fd_exhausted(errno) ? -2 : -1);
	}
	exec_make_path(h->le.key, tmp, sizeof tmp);
	unlink_db(tmp);		/* left by an interrupted attempt */
	if (exec_create_db(tmp, set, rec->version, 0, err, errlen) != 0) {
		sys = errno;
		goto fail;
	}
	if (fsync_path(tmp, 0) == -1) {
		sys = errno;
		snprintf(err, errlen, "fsync of the new database failed: %s",
		    strerror(errno));
		goto fail;
	}
	crash_point("materialize-before-link");
	if (link(tmp, h->path) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot put the new database in place: "
		    "%s", strerror(errno));
		goto fail;
	}
	/* EEXIST: a file is there after all; it is opened as it is. */
	unlink_db(tmp);
	if (fsync_parent(h->path) == -1) {
		snprintf(err, errlen, "fsync of the tenant's folder failed: %s",
		    strerror(errno));
		return (fd_exhausted(errno) ? -2 : -1);
	}
	if (h->set != NULL)
		schema_applied(h->set, rec->version);
	return (0);

fail:
	unlink_db(tmp);
	return (fd_exhausted(sys) ? -2 : -1);
}

/*
 * Open h's file with the per-handle settings, making it first if the
 * catalog says it was never made.  0, or -1 with err (-2: out of file
 * descriptors).  Worker, on the tenant's handle.
 */
int
exec_open(struct handle *h, char *err, size_t errlen)
{
	struct tenant_rec	 rec;
	struct migrate_error	 merr;
	struct stat		 sb;
	sqlite3_file		*wal;
	sqlite3_int64		 walsz;
	long long		 pagesz;
	char			 pragmas[256];
	char			*msg = NULL;
	int			 rc, counted = 0, ret = -1, version;

	rc = catalog_get(server_catalog, h->le.key, h->le.keylen, &rec);
	if (rc != CATALOG_OK) {
		snprintf(err, errlen, "%s", rc == CATALOG_NOTFOUND ?
		    "no such tenant" : catalog_strerror(server_catalog));
		return (-1);
	}
	if (!rec.materialized && stat(h->path, &sb) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "cannot open the tenant's "
			    "database: %s", strerror(errno));
			return (-1);
		}
		if ((rc = exec_materialize(h, &rec, err, errlen)) != 0)
			return (rc);
	}
	/*
	 * TENANT_VFS (vfs.c over exclvfs.c): unix-excl's locking.  The first
	 * lock takes an exclusive lock on the file for the whole process,
	 * held until the last connection to it closes, and the WAL index
	 * lives in process memory instead of a -shm file.  Connections inside
	 * tenantd (backups, exports, checks: all through TENANT_VFS) still
	 * coordinate as usual; other processes cannot open a tenant while it
	 * is cached (they get "database is locked"; --shared-files uses the
	 * plain unix VFS).  It saves a descriptor and an mmap per handle and
	 * two fcntl calls per transaction, and finds an open file's record in
	 * a hash table where unix-excl walks a list of all of them.
	 */
	rc = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, TENANT_VFS);
	if (rc != SQLITE_OK) {
		if (rec.materialized && stat(h->path, &sb) == -1 &&
		    errno == ENOENT)
			snprintf(err, errlen, "cannot open the tenant's "
			    "database: its file is missing (it was made "
			    "before, so it is not made again empty; restore it "
			    "from a backup or delete the tenant)");
		else
			snprintf(err, errlen, "cannot open the tenant's "
			    "database: %s", h->db ? sqlite3_errmsg(h->db) :
			    sqlite3_errstr(rc));
		goto fail;
	}
	cache_open_handles++;
	counted = 1;
	/*
	 * On a loop (pipeline_fast), the open itself has a budget: SQLite
	 * reads the schema during the PRAGMAs below, one row and one parse
	 * per table, index and trigger, and a tenant with thousands of them
	 * would hold the loop for milliseconds.  Progress is counted every
	 * EXEC_OPEN_OPS steps against the inline budget: past some 60-80
	 * schema rows (measured: 60 tables open on the loop, 80 go to a
	 * worker; a kv tenant has two) the open fails here and a worker
	 * does it.
	 */
	if (h->inline_run)
		sqlite3_progress_handler(h->db, EXEC_OPEN_OPS, exec_progress,
		    h);
	exec_persist_wal(h->db);
	sqlite3_extended_result_codes(h->db, 1);
	sqlite3_busy_timeout(h->db, cfg.busy_timeout_ms);
	sqlite3_db_config(h->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/*
	 * Closing does not checkpoint: at synchronous=NORMAL a checkpoint
	 * fsyncs the WAL and the database, and an LRU eviction closed a
	 * handle on every miss (bench: point updates, uniform, 10,000
	 * tenants: 35-40k -> 47-52k req/s).  The WAL keeps the committed
	 * frames (as durable as they were while open) and the next open
	 * reads them back.  The idle release, shutdown and an import
	 * checkpoint first (handle_close_clean), and so does an eviction of
	 * a large WAL (handle_close_evicted).
	 */
	sqlite3_db_config(h->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_db_config(h->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
	    NULL);
	/*
	 * The WAL is reused from its start after each checkpoint, never cut
	 * back while the tenant is open (up to 8 MiB): appending to a file
	 * cut to nothing makes ext4 allocate and zero blocks on every commit
	 * (bench: point updates, Zipf, 10,000 tenants, +10%).  Closing
	 * truncates it to nothing (PERSIST_WAL with a size limit), and so
	 * does the idle release (trim_run).
	 */
	snprintf(pragmas, sizeof pragmas, "PRAGMA synchronous=%s;"
	    "PRAGMA foreign_keys=ON;PRAGMA cache_size=-%d;"
	    "PRAGMA journal_mode=WAL;PRAGMA journal_size_limit=8388608",
	    cfg.synchronous_full && !durable_active() ? "FULL" : "NORMAL",
	    cfg.cache_kib);
	if ((rc = sqlite3_exec(h->db, pragmas, NULL, NULL, &msg)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the tenant's database: %s",
		    msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		goto fail;
	}
	if (exec_quota(h->db, &pagesz) != 0) {
		snprintf(err, errlen, "cannot set the size quota: %s",
		    sqlite3_errmsg(h->db));
		goto fail;
	}
	/*
	 * Frames a WAL holds from before this open (an eviction that left
	 * them, a crash) count toward the eviction's checkpoint
	 * (handle_close_evicted) before any commit here: from the file's
	 * size, which a reused WAL may have past its last valid frame.
	 */
	if (sqlite3_file_control(h->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wal) == SQLITE_OK && wal != NULL && wal->pMethods != NULL &&
	    wal->pMethods->xFileSize(wal, &walsz) == SQLITE_OK && walsz > 32)
		h->wal_frames = (int)((walsz - 32) / (pagesz + 24));
	if (!rec.materialized) {
		/* Made just now at rec.version, or found (made before a
		 * crash): its own migration record says where it is. */
		memset(&merr, 0, sizeof merr);
		if (migrate_db_version(h->db, &version, &merr) != MIGRATE_OK) {
			snprintf(err, errlen, "cannot open the tenant's "
			    "database: %s", merr.message);
			goto fail;
		}
		crash_point("materialize-before-record");
		rc = catalog_set_materialized(server_catalog, h->le.key,
		    version);
		if (rc != CATALOG_OK) {
			snprintf(err, errlen, "%s", rc == CATALOG_NOTFOUND ?
			    "no such tenant" :
			    catalog_strerror(server_catalog));
			goto fail;
		}
		h->version = version;
		log_info("tenant %s: database made at version %d", h->le.key,
		    version);
	}
	/* Whatever this tenant committed through a handle closed before
	 * may still be waiting for its sync round. */
	h->sync_ticket = durable_pending();
	sqlite3_set_authorizer(h->db, exec_authorizer, h);
	exec_limits(h->db);
	sqlite3_progress_handler(h->db, 1000, exec_progress, h);
	h->inline_ticks = 0;	/* the query's budget is its own */
	sqlite3_wal_hook(h->db, exec_wal_hook, h);
	h->wal_restart = 1;	/* the WAL may be empty */
	return (0);

fail:
	if (h->db != NULL && fd_exhausted(sqlite3_system_errno(h->db))) {
		snprintf(err, errlen, "out of file descriptors");
		ret = -2;
	}
	if (h->db != NULL) {
		if (counted)
			handle_close_db(h);
		else {
			sqlite3_close(h->db);
			h->db = NULL;
		}
	}
	return (ret);
}

static uint32_t
sql_hash(const char *s, size_t n)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return (h);
}

/* Skip white space, comments and semicolons; return where SQL resumes. */
static const char *
skip_blank(const char *p, const char *end)
{
	while (p < end) {
		if (isspace((unsigned char)*p) || *p == ';')
			p++;
		else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
			p += 2;
			while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
				p++;
			p = p + 2 < end ? p + 2 : end;
		} else
			break;
	}
	return (p);
}

/*
 * Prepare one statement, from the handle's cache when possible.  *cached
 * says whether the caller must leave it in the cache (reset) or finalize
 * it.  NULL with e filled on error.
 */
static sqlite3_stmt *
stmt_get(struct handle *h, const char *sql, size_t len, int *cached,
    struct xerr *e)
{
	struct stmt_slot	*slot, *lru = NULL;
	sqlite3_stmt		*st = NULL;
	const char		*tail = NULL;
	uint32_t		 hash = sql_hash(sql, len);
	int			 i, rc;

	for (i = 0; i < HANDLE_STMTS; i++) {
		slot = &h->stmts[i];
		if (slot->st != NULL && slot->hash == hash && slot->len == len &&
		    memcmp(slot->sql, sql, len) == 0) {
			slot->used = ++h->stmt_clock;
			*cached = 1;
			return (slot->st);
		}
		if (lru == NULL || slot->used < lru->used)
			lru = slot;
	}
	if (len > (size_t)INT32_MAX) {
		snprintf(e->msg, sizeof e->msg, "SQL text is too long");
		e->code = "SQLITE_TOOBIG";
		return (NULL);
	}
	rc = sqlite3_prepare_v3(h->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT,
	    &st, &tail);
	if (rc != SQLITE_OK) {
		xerr_sqlite(e, h->db, rc);
		if ((rc & 0xff) == SQLITE_ERROR && strstr(e->msg, "syntax") != NULL)
			e->code = "SQL_PARSE_ERROR";
		return (NULL);
	}
	if (st == NULL) {
		snprintf(e->msg, sizeof e->msg, "SQL string does not contain "
		    "any statement");
		e->code = "SQL_NO_STATEMENT";
		return (NULL);
	}
	if (tail != NULL && skip_blank(tail, sql + len) < sql + len) {
		sqlite3_finalize(st);
		snprintf(e->msg, sizeof e->msg, "SQL string contains more than "
		    "one statement");
		e->code = "SQL_MANY_STATEMENTS";
		return (NULL);
	}
	if (lru->st != NULL)
		sqlite3_finalize(lru->st);
	free(lru->sql);
	lru->sql = xmalloc(len + 1);
	memcpy(lru->sql, sql, len);
	lru->sql[len] = '\0';
	lru->len = len;
	lru->hash = hash;
	lru->st = st;
	lru->used = ++h->stmt_clock;
	*cached = 1;
	return (st);
}

static void
stmt_put(sqlite3_stmt *st, int cached)
{
	if (cached) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else
		sqlite3_finalize(st);
}

static int
bind_value(sqlite3_stmt *st, int idx, const struct hrana_value *v)
{
	switch (v->type) {
	case HV_NULL:
		return (sqlite3_bind_null(st, idx));
	case HV_INTEGER:
		return (sqlite3_bind_int64(st, idx, v->i));
	case HV_FLOAT:
		return (sqlite3_bind_double(st, idx, v->f));
	case HV_TEXT:
		return (sqlite3_bind_text64(st, idx, v->s, v->len, SQLITE_STATIC,
		    SQLITE_UTF8));
	case HV_BLOB:
		return (sqlite3_bind_blob64(st, idx, v->len ? (const void *)v->blob : (const void *)"",
		    v->len, SQLITE_STATIC));
	}
	return (SQLITE_MISUSE);
}

static int
bind_args(sqlite3_stmt *st, const struct hrana_stmt *hs, struct xerr *e)
{
	static const char	 prefixes[] = ":@$";
	int			 nparams = sqlite3_bind_parameter_count(st);
	size_t			 i;
	int			 idx, rc, k;
	char			 name[256];

	if (hs->nargs > 0 && hs->nnamed > 0) {
		snprintf(e->msg, sizeof e->msg, "a statement cannot have both "
		    "positional and named arguments");
		e->code = "ARGS_BOTH_POSITIONAL_AND_NAMED";
		return (-1);
	}
	if (hs->nargs > (size_t)nparams) {
		snprintf(e->msg, sizeof e->msg, "%zu arguments given, but the "
		    "statement has %d parameters", hs->nargs, nparams);
		e->code = "ARGS_INVALID";
		return (-1);
	}
	for (i = 0; i < hs->nargs; i++) {
		if ((rc = bind_value(st, (int)i + 1, &hs->args[i])) != SQLITE_OK)
			goto fail;
	}
	for (i = 0; i < hs->nnamed; i++) {
		const char *n = hs->named[i].name;
		idx = sqlite3_bind_parameter_index(st, n);
		for (k = 0; idx == 0 && k < 3 && strchr(prefixes, n[0]) == NULL;
		    k++) {
			snprintf(name, sizeof name, "%c%s", prefixes[k], n);
			idx = sqlite3_bind_parameter_index(st, name);
		}
		if (idx == 0) {
			char esc[128];
			snprintf(e->msg, sizeof e->msg, "the statement has no "
			    "parameter named \"%s\"", log_escape(n, strlen(n),
			    esc, sizeof esc));
			e->code = "ARGS_INVALID";
			return (-1);
		}
		if ((rc = bind_value(st, idx, &hs->named[i].value)) != SQLITE_OK)
			goto fail;
	}
	return (0);

fail:
	snprintf(e->msg, sizeof e->msg, "cannot bind an argument: %s",
	    sqlite3_errstr(rc));
	e->code = rc == SQLITE_TOOBIG ? "SQLITE_TOOBIG" : "ARGS_INVALID";
	return (-1);
}

static void
put_col_value(struct buf *b, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		buf_adds(b, "{\"type\":\"integer\",\"value\":");
		hrana_put_int_str(b, sqlite3_column_int64(st, i));
		buf_add(b, "}", 1);
		break;
	case SQLITE_FLOAT:
		buf_adds(b, "{\"type\":\"float\",\"value\":");
		hrana_put_double(b, sqlite3_column_double(st, i));
		buf_add(b, "}", 1);
		break;
	case SQLITE_TEXT: {
		const char *t = (const char *)sqlite3_column_text(st, i);
		buf_adds(b, "{\"type\":\"text\",\"value\":");
		hrana_put_str(b, t ? t : "", (size_t)sqlite3_column_bytes(st, i));
		buf_add(b, "}", 1);
		break;
	}
	case SQLITE_BLOB: {
		const void *p = sqlite3_column_blob(st, i);
		buf_adds(b, "{\"type\":\"blob\",\"base64\":");
		hrana_put_blob(b, p, (size_t)sqlite3_column_bytes(st, i));
		buf_add(b, "}", 1);
		break;
	}
	default:
		buf_adds(b, "{\"type\":\"null\"}");
	}
}

static void
put_cols(struct buf *b, sqlite3_stmt *st)
{
	int	 i, n = sqlite3_column_count(st);

	buf_adds(b, "\"cols\":[");
	for (i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		const char *decl = sqlite3_column_decltype(st, i);
		if (i > 0)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"name\":");
		if (name != NULL)
			hrana_put_str(b, name, strlen(name));
		else
			buf_adds(b, "null");
		buf_adds(b, ",\"decltype\":");
		if (decl != NULL)
			hrana_put_str(b, decl, strlen(decl));
		else
			buf_adds(b, "null");
		buf_add(b, "}", 1);
	}
	buf_add(b, "]", 1);
}

/* After each statement: end a READONLY transaction's query_only mode. */
static void
internal_exec(struct handle *h, const char *sql)
{
	h->internal = 1;
	sqlite3_exec(h->db, sql, NULL, NULL, NULL);
	h->internal = 0;
}

static void
ro_txn_check(struct handle *h)
{
	if (h->ro_txn && sqlite3_get_autocommit(h->db)) {
		if (!h->job_ro)
			internal_exec(h, "PRAGMA query_only=0");
		h->ro_txn = 0;
	}
}

/*
 * A read-only token's request: no statement may write while it runs
 * (PRAGMA query_only, which tenant SQL cannot change).
 */
void
exec_query_only(struct handle *h, int on)
{
	h->job_ro = on;
	if (on || !h->ro_txn)
		internal_exec(h, on ? "PRAGMA query_only=1" :
		    "PRAGMA query_only=0");
}

/* BEGIN [TRANSACTION] READONLY [;] in any case and spacing. */
static int
is_begin_readonly(const char *sql, size_t len)
{
	static const char	*words[] = { "BEGIN", "TRANSACTION", "READONLY" };
	const char		*p = sql, *end = sql + len;
	size_t			 w = 0, n;

	p = skip_blank(p, end);
	while (p < end && w < 3) {
		for (n = 0; p + n < end && isalpha((unsigned char)p[n]); n++)
			;
		if (n == 0)
			return (0);
		if (w == 1 && !(n == 11 && strncasecmp(p, words[1], n) == 0))
			w = 2;	/* TRANSACTION is optional */
		if (strlen(words[w]) != n || strncasecmp(p, words[w], n) != 0)
			return (0);
		w++;
		p = skip_blank(p + n, end);
	}
	return (w == 3 && p == end);
}

/*
 * Run one statement; write a StmtResult object into b.  Returns 0, or -1
 * with e filled (b is left as it was).
 */
static int
exec_stmt(struct handle *h, const struct hrana_stmt *hs, struct sqlstore *ss,
    struct buf *b, struct xerr *e)
{
	sqlite3_stmt	*st;
	const char	*sql = hs->sql;
	size_t		 len = hs->sql_len, start = b->len;
	uint64_t	 t0 = time_mono_us(), nrows = 0, us;
	char		 ms3[5];
	int		 cached = 0, rc, ncols, i, ro;
	int64_t		 changes;

	if (hs->has_sql_id && (sql = sqlstore_get(ss, hs->sql_id, &len)) ==
	    NULL) {
		snprintf(e->msg, sizeof e->msg, "no SQL stored under id %d",
		    hs->sql_id);
		e->code = "SQL_NOT_FOUND";
		return (-1);
	}
	if (is_begin_readonly(sql, len)) {
		if (h->inline_run) {
			h->inline_abort = 1;	/* a transaction: a worker's */
			e->msg[0] = '\0';
			e->code = "INLINE";
			return (-1);
		}
		rc = sqlite3_exec(h->db, "BEGIN DEFERRED", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			xerr_sqlite(e, h->db, rc);
			return (-1);
		}
		internal_exec(h, "PRAGMA query_only=1");
		h->ro_txn = 1;
		buf_adds(b, "{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
		    "\"last_insert_rowid\":null,\"rows_read\":0,"
		    "\"rows_written\":0,\"query_duration_ms\":0}");
		return (0);
	}
	if ((st = stmt_get(h, sql, len, &cached, e)) == NULL)
		return (-1);
	if (bind_args(st, hs, e) != 0) {
		stmt_put(st, cached);
		return (-1);
	}
	ro = sqlite3_stmt_readonly(st);
	if (h->inline_run && !ro && !h->inline_write_ok) {
		/* Nothing ran yet that this could not be redone after. */
		h->inline_abort = 1;
		stmt_put(st, cached);
		e->msg[0] = '\0';
		e->code = "INLINE";
		return (-1);
	}
	ncols = sqlite3_column_count(st);
	h->deadline_us = t0 + (uint64_t)cfg.stmt_timeout_ms * 1000;
	buf_add(b, "{", 1);
	put_cols(b, st);
	buf_adds(b, ",\"rows\":[");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		nrows++;
		if (!hs->want_rows)
			continue;
		if (nrows > 1)
			buf_add(b, ",", 1);
		buf_add(b, "[", 1);
		for (i = 0; i < ncols; i++) {
			if (i > 0)
				buf_add(b, ",", 1);
			put_col_value(b, st, i);
		}
		buf_add(b, "]", 1);
		if (b->len - start > cfg.max_response) {
			stmt_put(st, cached);
			b->len = start;
			snprintf(e->msg, sizeof e->msg, "the result is larger "
			    "than the response limit of %zu bytes",
			    cfg.max_response);
			e->code = "RESPONSE_TOO_LARGE";
			ro_txn_check(h);
			return (-1);
		}
	}
	h->deadline_us = 0;
	if (rc != SQLITE_DONE) {
		exec_error(e, h, rc);
		stmt_put(st, cached);
		b->len = start;
		ro_txn_check(h);
		return (-1);
	}
	changes = ro ? 0 : sqlite3_changes64(h->db);
	buf_adds(b, "],\"affected_row_count\":");
	buf_add_int(b, changes);
	buf_adds(b, ",\"last_insert_rowid\":");
	if (!ro && changes > 0)
		hrana_put_int_str(b, sqlite3_last_insert_rowid(h->db));
	else
		buf_adds(b, "null");
	/* Milliseconds with three decimals, from microseconds. */
	us = time_mono_us() - t0;
	buf_adds(b, ",\"rows_read\":");
	buf_add_int(b, (int64_t)nrows);
	buf_adds(b, ",\"rows_written\":");
	buf_add_int(b, changes);
	buf_adds(b, ",\"query_duration_ms\":");
	buf_add_int(b, (int64_t)(us / 1000));
	ms3[0] = '.';
	ms3[1] = (char)('0' + us / 100 % 10);
	ms3[2] = (char)('0' + us / 10 % 10);
	ms3[3] = (char)('0' + us % 10);
	ms3[4] = '}';
	buf_add(b, ms3, 5);
	stmt_put(st, cached);
	ro_txn_check(h);
	return (0);
}

/* sequence: run every statement of sql in order; stop at the first error. */
static int
exec_sequence(struct handle *h, const char *sql, size_t len, struct xerr *e)
{
	const char	*p = sql, *end = sql + len, *tail;
	sqlite3_stmt	*st;
	int		 rc;

	while ((p = skip_blank(p, end)) < end) {
		rc = sqlite3_prepare_v2(h->db, p, (int)(end - p), &st, &tail);
		if (rc != SQLITE_OK) {
			xerr_sqlite(e, h->db, rc);
			return (-1);
		}
		if (st == NULL)
			break;
		h->deadline_us = time_mono_us() +
		    (uint64_t)cfg.stmt_timeout_ms * 1000;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		h->deadline_us = 0;
		if (rc != SQLITE_DONE)
			exec_error(e, h, rc);
		sqlite3_finalize(st);
		ro_txn_check(h);
		if (rc != SQLITE_DONE)
			return (-1);
		p = tail;
	}
	return (0);
}

static int
exec_describe(struct handle *h, const char *sql, size_t len, struct buf *b,
    struct xerr *e)
{
	sqlite3_stmt	*st;
	const char	*tail;
	int		 rc, i, n;

	rc = sqlite3_prepare_v2(h->db, sql, (int)len, &st, &tail);
	if (rc != SQLITE_OK) {
		xerr_sqlite(e, h->db, rc);
		return (-1);
	}
	if (st == NULL) {
		snprintf(e->msg, sizeof e->msg, "SQL string does not contain "
		    "any statement");
		e->code = "SQL_NO_STATEMENT";
		return (-1);
	}
	buf_adds(b, "{\"params\":[");
	n = sqlite3_bind_parameter_count(st);
	for (i = 1; i <= n; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		if (i > 1)
			buf_add(b, ",", 1);
		buf_adds(b, "{\"name\":");
		if (name != NULL)
			hrana_put_str(b, name, strlen(name));
		else
			buf_adds(b, "null");
		buf_add(b, "}", 1);
	}
	buf_adds(b, "],");
	put_cols(b, st);
	buf_addf(b, ",\"is_explain\":%s,\"is_readonly\":%s}",
	    sqlite3_stmt_isexplain(st) ? "true" : "false",
	    sqlite3_stmt_readonly(st) ? "true" : "false");
	sqlite3_finalize(st);
	return (0);
}

enum { OUT_SKIPPED, OUT_OK, OUT_ERROR };

static int
cond_eval(struct handle *h, const struct hrana_cond *c,
    const unsigned char *out)
{
	size_t	i;

	switch (c->type) {
	case HC_OK:
		return (out[c->step] == OUT_OK);
	case HC_ERROR:
		return (out[c->step] == OUT_ERROR);
	case HC_NOT:
		return (!cond_eval(h, &c->kids[0], out));
	case HC_AND:
		for (i = 0; i < c->nkids; i++)
			if (!cond_eval(h, &c->kids[i], out))
				return (0);
		return (1);
	case HC_OR:
		for (i = 0; i < c->nkids; i++)
			if (cond_eval(h, &c->kids[i], out))
				return (1);
		return (0);
	case HC_AUTOCOMMIT:
		return (sqlite3_get_autocommit(h->db) != 0);
	}
	return (0);
}

static void
exec_batch(struct handle *h, const struct hrana_req *r, struct sqlstore *ss,
    struct buf *b)
{
	struct buf	 errs;
	struct xerr	 e;
	unsigned char	*out;
	size_t		 i;

	out = xcalloc(r->nsteps ? r->nsteps : 1, 1);
	buf_init(&errs, 64);
	buf_adds(b, "{\"step_results\":[");
	buf_add(&errs, "[", 1);
	for (i = 0; i < r->nsteps; i++) {
		if (i > 0) {
			buf_add(b, ",", 1);
			buf_add(&errs, ",", 1);
		}
		if (r->steps[i].cond != NULL &&
		    !cond_eval(h, r->steps[i].cond, out)) {
			out[i] = OUT_SKIPPED;
			buf_adds(b, "null");
			buf_adds(&errs, "null");
			continue;
		}
		if (exec_stmt(h, &r->steps[i].stmt, ss, b, &e) == 0) {
			out[i] = OUT_OK;
			buf_adds(&errs, "null");
		} else {
			out[i] = OUT_ERROR;
			buf_adds(b, "null");
			hrana_put_error(&errs, e.msg, e.code);
		}
	}
	buf_adds(b, "],\"step_errors\":");
	buf_add(b, errs.p, errs.len);
	buf_adds(b, "]}");
	buf_free(&errs);
	free(out);
}

static void
put_ok_head(struct buf *b, const char *type)
{
	buf_adds(b, "{\"type\":\"ok\",\"response\":{\"type\":\"");
	buf_adds(b, type);
	buf_add(b, "\"", 1);
}

static void
put_err(struct buf *b, const char *msg, const char *code)
{
	buf_adds(b, "{\"type\":\"error\",\"error\":");
	hrana_put_error(b, msg, code);
	buf_add(b, "}", 1);
}

/*
 * Run every request of p in order on h, writing the comma-separated result
 * objects into out.  *closed: the pipeline closed its stream (any open
 * transaction was rolled back).  *in_txn: the connection is left inside a
 * transaction.
 */
void
exec_pipeline(struct handle *h, struct hrana_pipeline *p, struct sqlstore *ss,
    struct buf *out, int *closed, int *in_txn)
{
	struct hrana_req	*r;
	struct xerr		 e;
	const char		*sql;
	size_t			 i, len, mark;
	int			 rc;

	*closed = 0;
	for (i = 0; i < p->nreqs && !h->inline_abort; i++) {
		r = &p->reqs[i];
		if (i > 0)
			buf_add(out, ",", 1);
		if (*closed) {
			put_err(out, "the stream was closed by an earlier "
			    "request", "STREAM_CLOSED");
			continue;
		}
		switch (r->type) {
		case HR_EXECUTE:
			mark = out->len;
			put_ok_head(out, "execute");
			buf_adds(out, ",\"result\":");
			if (exec_stmt(h, &r->stmt, ss, out, &e) == 0)
				buf_adds(out, "}}");
			else {
				out->len = mark;
				put_err(out, e.msg, e.code);
			}
			break;
		case HR_BATCH:
			put_ok_head(out, "batch");
			buf_adds(out, ",\"result\":");
			exec_batch(h, r, ss, out);
			buf_adds(out, "}}");
			break;
		case HR_SEQUENCE:
		case HR_DESCRIBE:
			sql = r->sql;
			len = r->sql_len;
			if (r->has_sql_id &&
			    (sql = sqlstore_get(ss, r->sql_id, &len)) == NULL) {
				snprintf(e.msg, sizeof e.msg, "no SQL stored "
				    "under id %d", r->sql_id);
				put_err(out, e.msg, "SQL_NOT_FOUND");
				break;
			}
			mark = out->len;
			if (r->type == HR_SEQUENCE) {
				if (exec_sequence(h, sql, len, &e) == 0) {
					put_ok_head(out, "sequence");
					buf_adds(out, "}}");
				} else
					put_err(out, e.msg, e.code);
			} else {
				put_ok_head(out, "describe");
				buf_adds(out, ",\"result\":");
				if (exec_describe(h, sql, len, out, &e) == 0)
					buf_adds(out, "}}");
				else {
					out->len = mark;
					put_err(out, e.msg, e.code);
				}
			}
			break;
		case HR_STORE_SQL:
			rc = sqlstore_put(ss, r->sql_id, r->sql, r->sql_len);
			if (rc == 0) {
				put_ok_head(out, "store_sql");
				buf_adds(out, "}}");
			} else if (rc == -1)
				put_err(out, "an SQL text is already stored "
				    "under this id", "SQL_STORE_DUPLICATE");
			else if (rc == -2)
				put_err(out, "too many stored SQL texts on this "
				    "stream", "SQL_STORE_TOO_MANY");
			else
				put_err(out, "the stored SQL text is too long",
				    "SQL_STORE_TOO_LARGE");
			break;
		case HR_CLOSE_SQL:
			sqlstore_del(ss, r->sql_id);
			put_ok_head(out, "close_sql");
			buf_adds(out, "}}");
			break;
		case HR_CLOSE:
			if (!sqlite3_get_autocommit(h->db))
				sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
			ro_txn_check(h);
			*closed = 1;
			put_ok_head(out, "close");
			buf_adds(out, "}}");
			break;
		case HR_GET_AUTOCOMMIT:
			put_ok_head(out, "get_autocommit");
			buf_addf(out, ",\"is_autocommit\":%s}}",
			    sqlite3_get_autocommit(h->db) ? "true" : "false");
			break;
		}
	}
	*in_txn = !sqlite3_get_autocommit(h->db);
}

/*
 * Bring an open handle to its schema's latest version (trusted path: the
 * authorizer is bypassed).  Returns the migrate code; *reached is the
 * version the file is at afterwards.
 */
int
exec_migrate(struct handle *h, int *reached, struct migrate_error *err)
{
	int	rc;

	h->internal = 1;
	rc = migrate_apply(h->db, h->set->set, migrate_set_latest(h->set->set),
	    0, reached, err);
	h->internal = 0;
	return (rc);
}

/* Roll back whatever transaction is open (stream expiry). */
void
exec_rollback(struct handle *h)
{
	if (h->db != NULL && !sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	if (h->db != NULL)
		ro_txn_check(h);
}

/*
 * Create a new tenant database at path and apply set (may be NULL) up to
 * version upto; leave it in WAL mode, or with standalone in rollback-
 * journal mode (an export).  Trusted path: no authorizer.  The file is
 * private until the caller publishes it, so it is built without journal
 * file or fsyncs (journal in memory: a failing step still rolls back);
 * the caller fsyncs it once.  Returns 0, or -1 with err (and errno
 * EMFILE or ENFILE if it ran out of descriptors, else 0); the caller
 * removes the file on failure.  Any thread.
 */
int
exec_create_db(const char *path, const struct migrate_set *set, int upto,
    int standalone, char *err, size_t errlen)
{
	struct migrate_error	 merr;
	sqlite3			*db = NULL;
	char			*msg = NULL;
	int			 rc, reached = 0, sys = 0;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXCLUSIVE,
	    NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot create the tenant's database: %s",
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	/* The schema's page size (its first migration's PRAGMA page_size),
	 * while the file is still empty: run inside the migration, after
	 * the migration record's table is made, SQLite ignores it. */
	if (migrate_set_page_size(set) > 0) {
		char	ps[48];

		snprintf(ps, sizeof ps, "PRAGMA page_size=%d",
		    migrate_set_page_size(set));
		if ((rc = sqlite3_exec(db, ps, NULL, NULL, &msg)) != SQLITE_OK)
			goto sqlfail;
	}
	rc = sqlite3_exec(db, "PRAGMA journal_mode=MEMORY;"
	    "PRAGMA synchronous=OFF", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		goto sqlfail;
	if (set != NULL && upto > 0) {
		memset(&merr, 0, sizeof merr);
		rc = migrate_apply(db, set, upto, 0, &reached, &merr);
		if (rc != MIGRATE_OK) {
			snprintf(err, errlen, "schema %s: %s",
			    migrate_set_name(set), merr.message);
			goto fail;
		}
		if (reached != upto) {
			snprintf(err, errlen, "schema %s: stopped at version "
			    "%d of %d", migrate_set_name(set), reached, upto);
			goto fail;
		}
	}
	rc = sqlite3_exec(db, standalone ? "PRAGMA journal_mode=DELETE" :
	    "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		goto sqlfail;
	if ((rc = sqlite3_close(db)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot close the new database: %s",
		    sqlite3_errstr(rc));
		return (-1);
	}
	return (0);

sqlfail:
	snprintf(err, errlen, "cannot set up the new database: %s",
	    msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
fail:
	if (db != NULL) {
		sys = sqlite3_system_errno(db);
		sqlite3_close(db);
	}
	/* The caller tells running out of descriptors from other faults. */
	errno = fd_exhausted(sys) ? sys : 0;
	return (-1);
}
