/*
 * vfs.c: the SQLite VFS tenant files are opened with, inside tenantd.
 *
 * It wraps exclvfs.c's VFS (unix-excl's locking without its list of open
 * files; exec_open says why), or SQLite's plain unix VFS with
 * --shared-files, with one method replaced.  SQLite turns every database name into a full path by
 * lstat()ing each of its components, twice per open (once for the b-tree,
 * once for the pager): 24 stat calls per cold open at tenantd's usual
 * depth.  Tenant paths are built by tenantd from the data dir, which is
 * made absolute and symlink-free at start (realpath), so an absolute path
 * handed to this VFS is already its own full path and is used as it is.
 * Any other name (relative, as no tenant path is) goes to the base's own
 * xFullPathname.
 *
 * xOpen is passed the base's own sqlite3_vfs (SQLite's unix VFSes
 * recognise themselves by name); the files it opens carry their own
 * methods.  The other methods do not look at the VFS they are called
 * through.
 *
 * Two kinds of file are wrapped; every method not named here is the base
 * file's.
 *
 * A tenant's WAL file writes each frame with one system call.  SQLite
 * writes a frame as two writes, its 24-byte header and then the page right
 * behind it (walWriteOneFrame): two pwrite calls per page of every commit,
 * each a trip through ext4's write path.  The wrapper holds a frame header
 * back and writes it together with the page that follows it, copied side
 * by side on the stack, in one base write.  Anything else that reaches the
 * file while a header is held (a read, a sync, a truncation, another
 * write, a size asked, a file control, the close) writes the header first,
 * so the file never looks different to anyone from what SQLite wrote; and
 * a header is only held between the two writes of one frame, so a commit
 * is complete in the file before SQLite records it in the WAL index.
 * Pages over 8 KiB are written as SQLite writes them.
 *
 * With group commit (durable.c) every write and truncation of a WAL also
 * goes into the commit log, which is what makes a commit durable.
 *
 * A tenant's database file remembers its size.  Each read transaction
 * begins by asking for it whenever the WAL holds no frames (the usual
 * state of a tenant that is read, not written: SQLite's pagerPagecount),
 * and the base answers with an fstat: a system call per point select,
 * about 5% of the daemon's CPU in a Zipf select over 10,000 tenants
 * (bench/README.md).  Under exclvfs.c no other process can open the file
 * while tenantd has it open, and inside tenantd every connection that may
 * write a tenant's file opens it through this VFS (the handle; backups
 * and checks only read), so every change of its size goes through an
 * xWrite or xTruncate here: the size is known, in one record per file
 * shared by its connections (struct db_size), set by the first xFileSize,
 * grown by writes past the end, and forgotten (asked again) after a
 * truncation, a failed write, or any file control not known to leave the
 * size alone.  With --shared-files other processes may write the file,
 * and nothing is remembered.  Other files (journals, temporary files) are
 * not wrapped at all.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

static sqlite3_vfs	 tenant_vfs;
static sqlite3_vfs	*base_vfs;

struct db_size;

#define WAL_HDR		32	/* the WAL file's header */
#define WAL_FRAME_HDR	24	/* a frame's header, before its page */
#define WAL_JOIN_MAX	8192	/* larger pages are written as they come */

/* A wrapped file: the base file follows it in the same allocation. */
struct wrap_file {
	sqlite3_file	 base;		/* &wal_methods or &db_methods */
	sqlite3_file	*real;
	char		*path;		/* a WAL's, for the commit log */
	size_t		 pathlen;
	struct db_size	*dbsize;	/* a database file's size */
	int		 held;		/* a WAL frame header held back */
	sqlite3_int64	 held_off;
	sqlite3_int64	 read_off;	/* a WAL's last read, until a write */
	unsigned char	 held_hdr[WAL_FRAME_HDR];
};

/* Writes that reached a WAL file (tests count them). */
_Atomic uint64_t	 vfs_wal_writes;
/* The wrappers' methods, each made from the first base file of its kind
 * (the base gives a database file locking methods, a WAL none). */
static sqlite3_io_methods	 wal_methods, db_methods;
static const sqlite3_io_methods	*wal_real, *db_real;	/* [methods_mtx] */
static pthread_mutex_t		 methods_mtx = PTHREAD_MUTEX_INITIALIZER;

#define REAL(f)		(((struct wrap_file *)(f))->real)

/* The base's write, and its copy in the commit log (group commit). */
static int
wal_write_real(struct wrap_file *wf, const void *p, int n, sqlite3_int64 off)
{
	int	 rc;

	atomic_fetch_add_explicit(&vfs_wal_writes, 1, memory_order_relaxed);
	rc = durable_lose_wal_writes ? SQLITE_OK :
	    wf->real->pMethods->xWrite(wf->real, p, n, off);
	if (rc == SQLITE_OK && wf->path != NULL)
		durable_log(DREC_WRITE, wf->path, wf->pathlen, (uint64_t)off, p,
		    (size_t)n);
	return (rc);
}

/* Write the frame header held back, if any, before anything else. */
static int
wal_flush(struct wrap_file *wf)
{
	if (!wf->held)
		return (SQLITE_OK);
	wf->held = 0;
	return (wal_write_real(wf, wf->held_hdr, WAL_FRAME_HDR, wf->held_off));
}

static int
wal_close(sqlite3_file *f)
{
	struct wrap_file	*wf = (struct wrap_file *)f;
	int			 rc, frc;

	frc = wal_flush(wf);
	rc = wf->real->pMethods->xClose(wf->real);
	free(wf->path);
	wf->path = NULL;
	return (frc != SQLITE_OK ? frc : rc);
}

static int
wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	int	 rc;

	if ((rc = wal_flush((struct wrap_file *)f)) != SQLITE_OK)
		return (rc);
	((struct wrap_file *)f)->read_off = off;
	return (REAL(f)->pMethods->xRead(REAL(f), p, n, off));
}

static int
wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct wrap_file	*wf = (struct wrap_file *)f;
	unsigned char		 frame[WAL_FRAME_HDR + WAL_JOIN_MAX];
	int			 rc;

	if (wf->held) {
		if (off == wf->held_off + WAL_FRAME_HDR && n > 0 &&
		    n <= WAL_JOIN_MAX) {
			/* The page behind the header: one write. */
			wf->held = 0;
			memcpy(frame, wf->held_hdr, WAL_FRAME_HDR);
			memcpy(frame + WAL_FRAME_HDR, p, (size_t)n);
			return (wal_write_real(wf, frame, WAL_FRAME_HDR + n,
			    wf->held_off));
		}
		if ((rc = wal_flush(wf)) != SQLITE_OK)
			return (rc);
	}
	/* Not a header rewritten over a frame just read (SQLite's
	 * walRewriteChecksums), whose page does not follow. */
	if (n == WAL_FRAME_HDR && off >= WAL_HDR && off != wf->read_off) {
		wf->read_off = -1;
		memcpy(wf->held_hdr, p, WAL_FRAME_HDR);
		wf->held_off = off;
		wf->held = 1;
		return (SQLITE_OK);
	}
	wf->read_off = -1;
	return (wal_write_real(wf, p, n, off));
}

/*
 * After a commit (exec.c's WAL hook): nothing of it may stay held back,
 * whatever order a SQLite version writes its frames in.
 */
void
vfs_wal_flush(sqlite3 *db)
{
	sqlite3_file	*f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f) == SQLITE_OK && f != NULL && f->pMethods == &wal_methods)
		(void)wal_flush((struct wrap_file *)f);
}

static int
wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct wrap_file	*wf = (struct wrap_file *)f;
	int			 rc;

	if ((rc = wal_flush(wf)) != SQLITE_OK)
		return (rc);
	rc = durable_lose_wal_writes ? SQLITE_OK :
	    wf->real->pMethods->xTruncate(wf->real, size);
	if (rc == SQLITE_OK && wf->path != NULL)
		durable_log(DREC_TRUNCATE, wf->path, wf->pathlen,
		    (uint64_t)size, NULL, 0);
	return (rc);
}

static int
wal_sync(sqlite3_file *f, int flags)
{
	int	 rc;

	if ((rc = wal_flush((struct wrap_file *)f)) != SQLITE_OK)
		return (rc);
	return (REAL(f)->pMethods->xSync(REAL(f), flags));
}

static int
wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int	 rc;

	if ((rc = wal_flush((struct wrap_file *)f)) != SQLITE_OK)
		return (rc);
	return (REAL(f)->pMethods->xFileSize(REAL(f), size));
}

static int
wal_lock(sqlite3_file *f, int lock)
{
	return (REAL(f)->pMethods->xLock(REAL(f), lock));
}

static int
wal_unlock(sqlite3_file *f, int lock)
{
	return (REAL(f)->pMethods->xUnlock(REAL(f), lock));
}

static int
wal_check_reserved(sqlite3_file *f, int *out)
{
	return (REAL(f)->pMethods->xCheckReservedLock(REAL(f), out));
}

static int
wal_file_control(sqlite3_file *f, int op, void *arg)
{
	int	 rc;

	if ((rc = wal_flush((struct wrap_file *)f)) != SQLITE_OK)
		return (rc);
	return (REAL(f)->pMethods->xFileControl(REAL(f), op, arg));
}

static int
wal_sector_size(sqlite3_file *f)
{
	return (REAL(f)->pMethods->xSectorSize(REAL(f)));
}

static int
wal_device_chars(sqlite3_file *f)
{
	return (REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)));
}

static int
wal_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return (REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp));
}

static int
wal_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return (REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags));
}

static void
wal_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
wal_shm_unmap(sqlite3_file *f, int del)
{
	return (REAL(f)->pMethods->xShmUnmap(REAL(f), del));
}

static int
wal_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	int	 rc;

	if ((rc = wal_flush((struct wrap_file *)f)) != SQLITE_OK)
		return (rc);
	return (REAL(f)->pMethods->xFetch(REAL(f), off, n, pp));
}

static int
wal_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return (REAL(f)->pMethods->xUnfetch(REAL(f), off, p));
}

/*
 * A database file's size, one record per file open through this VFS,
 * shared by all of its connections in tenantd (a backup or a check may
 * open a tenant beside its handle): whichever writes, all see the size it
 * left.  The size is read without a lock; it is learnt, grown and
 * forgotten under the record's lock, with the write that changes it, so a
 * size asked of the file cannot overtake a write made meanwhile.
 */
struct db_size {
	struct db_size		*next;		/* [sizes_mtx] */
	int			 refs;		/* [sizes_mtx] */
	uint32_t		 hash;
	pthread_mutex_t		 mtx;
	_Atomic sqlite3_int64	 size;		/* -1: ask the file */
	size_t			 pathlen;
	char			 path[];
};
#define DB_SIZES	4096		/* buckets; chains grow past that */
static struct db_size	*db_sizes[DB_SIZES];
static pthread_mutex_t	 sizes_mtx = PTHREAD_MUTEX_INITIALIZER;

static struct db_size *
db_size_get(const char *path)
{
	struct db_size	*d;
	size_t		 len = strlen(path);
	uint32_t	 h = tid_hash(path, len);

	pthread_mutex_lock(&sizes_mtx);
	for (d = db_sizes[h % DB_SIZES]; d != NULL; d = d->next)
		if (d->hash == h && d->pathlen == len &&
		    memcmp(d->path, path, len) == 0)
			break;
	if (d == NULL) {
		d = xcalloc(1, sizeof *d + len + 1);
		d->hash = h;
		d->pathlen = len;
		memcpy(d->path, path, len + 1);
		pthread_mutex_init(&d->mtx, NULL);
		atomic_init(&d->size, -1);
		d->next = db_sizes[h % DB_SIZES];
		db_sizes[h % DB_SIZES] = d;
	}
	d->refs++;
	pthread_mutex_unlock(&sizes_mtx);
	return (d);
}

static void
db_size_put(struct db_size *d)
{
	struct db_size	**pp;

	pthread_mutex_lock(&sizes_mtx);
	if (--d->refs > 0) {
		pthread_mutex_unlock(&sizes_mtx);
		return;
	}
	for (pp = &db_sizes[d->hash % DB_SIZES]; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	pthread_mutex_unlock(&sizes_mtx);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}

#define DB_SIZE(f)	(((struct wrap_file *)(f))->dbsize)

static int
db_close(sqlite3_file *f)
{
	struct wrap_file	*wf = (struct wrap_file *)f;
	int			 rc = wf->real->pMethods->xClose(wf->real);

	db_size_put(wf->dbsize);
	wf->dbsize = NULL;
	return (rc);
}

/* The base's write, and the size it leaves. */
static int
db_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct db_size	*d = DB_SIZE(f);
	sqlite3_int64	 size;
	int		 rc;

	pthread_mutex_lock(&d->mtx);
	rc = REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
	size = atomic_load(&d->size);
	if (rc != SQLITE_OK)
		atomic_store(&d->size, -1);	/* a short write: ask */
	else if (size >= 0 && off + n > size)
		atomic_store(&d->size, off + n);
	pthread_mutex_unlock(&d->mtx);
	return (rc);
}

static int
db_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct db_size	*d = DB_SIZE(f);
	int		 rc;

	/* The base may round the size up to its chunk size: ask. */
	pthread_mutex_lock(&d->mtx);
	rc = REAL(f)->pMethods->xTruncate(REAL(f), size);
	atomic_store(&d->size, -1);
	pthread_mutex_unlock(&d->mtx);
	return (rc);
}

static int
db_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct db_size	*d = DB_SIZE(f);
	int		 rc = SQLITE_OK;

	if ((*size = atomic_load(&d->size)) >= 0)
		return (SQLITE_OK);
	pthread_mutex_lock(&d->mtx);
	if ((*size = atomic_load(&d->size)) < 0) {
		rc = REAL(f)->pMethods->xFileSize(REAL(f), size);
		if (rc == SQLITE_OK)
			atomic_store(&d->size, *size);
	}
	pthread_mutex_unlock(&d->mtx);
	return (rc);
}

static int
db_file_control(sqlite3_file *f, int op, void *arg)
{
	struct db_size	*d = DB_SIZE(f);
	int		 rc;

	switch (op) {
	case SQLITE_FCNTL_COMMIT_PHASETWO:
	case SQLITE_FCNTL_SYNC:
	case SQLITE_FCNTL_HAS_MOVED:
	case SQLITE_FCNTL_PERSIST_WAL:
	case SQLITE_FCNTL_POWERSAFE_OVERWRITE:
	case SQLITE_FCNTL_BUSYHANDLER:
	case SQLITE_FCNTL_LOCKSTATE:
	case SQLITE_FCNTL_VFSNAME:
	case SQLITE_FCNTL_CKPT_START:
	case SQLITE_FCNTL_CKPT_DONE:
	case SQLITE_FCNTL_PDB:
		return (REAL(f)->pMethods->xFileControl(REAL(f), op, arg));
	}
	/* Any other (a size hint, a chunk size) may change the size. */
	pthread_mutex_lock(&d->mtx);
	rc = REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
	atomic_store(&d->size, -1);
	pthread_mutex_unlock(&d->mtx);
	return (rc);
}

/* A forwarding table for files with methods m: m's version, m's gaps. */
static void
methods_init(sqlite3_io_methods *w, const sqlite3_io_methods *m)
{
	memset(w, 0, sizeof *w);
	w->iVersion = m->iVersion;
	w->xClose = wal_close;
	w->xRead = wal_read;
	w->xWrite = wal_write;
	w->xTruncate = wal_truncate;
	w->xSync = wal_sync;
	w->xFileSize = wal_file_size;
	w->xLock = wal_lock;
	w->xUnlock = wal_unlock;
	w->xCheckReservedLock = wal_check_reserved;
	w->xFileControl = wal_file_control;
	w->xSectorSize = wal_sector_size;
	w->xDeviceCharacteristics = wal_device_chars;
	if (m->iVersion >= 2) {
		w->xShmMap = m->xShmMap ? wal_shm_map : NULL;
		w->xShmLock = m->xShmLock ? wal_shm_lock : NULL;
		w->xShmBarrier = m->xShmBarrier ? wal_shm_barrier : NULL;
		w->xShmUnmap = m->xShmUnmap ? wal_shm_unmap : NULL;
	}
	if (m->iVersion >= 3) {
		w->xFetch = m->xFetch ? wal_fetch : NULL;
		w->xUnfetch = m->xUnfetch ? wal_unfetch : NULL;
	}
}

/*
 * The wrapper's methods for a base file with methods m (kind: db or WAL),
 * made the first time; 0 if m is those methods, -1 if a base file of the
 * same kind came with others (one base VFS, one set per kind).
 */
static int
methods_for(int db, const sqlite3_io_methods *m)
{
	const sqlite3_io_methods	**real = db ? &db_real : &wal_real;
	int				  rc = 0;

	pthread_mutex_lock(&methods_mtx);
	if (*real == NULL) {
		if (db) {
			methods_init(&db_methods, m);
			db_methods.xClose = db_close;
			db_methods.xWrite = db_write;
			db_methods.xTruncate = db_truncate;
			db_methods.xFileSize = db_file_size;
			db_methods.xFileControl = db_file_control;
		} else
			methods_init(&wal_methods, m);
		*real = m;
	} else if (*real != m)
		rc = -1;
	pthread_mutex_unlock(&methods_mtx);
	return (rc);
}

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	struct wrap_file	*wf = (struct wrap_file *)file;
	int			 rc, db;

	db = (flags & SQLITE_OPEN_MAIN_DB) && !cfg.shared_files;
	if (name == NULL || (!db && !(flags & SQLITE_OPEN_WAL)))
		return (base_vfs->xOpen(base_vfs, name, file, flags,
		    out_flags));
	memset(wf, 0, sizeof *wf);
	wf->real = (sqlite3_file *)(wf + 1);
	rc = base_vfs->xOpen(base_vfs, name, wf->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		/* A failed open leaves no methods (sqlite3OsOpen). */
		if (wf->real->pMethods != NULL)
			wf->real->pMethods->xClose(wf->real);
		file->pMethods = NULL;
		return (rc);
	}
	if (methods_for(db, wf->real->pMethods) != 0) {
		wf->real->pMethods->xClose(wf->real);
		file->pMethods = NULL;
		return (SQLITE_CANTOPEN);
	}
	if (db) {
		wf->dbsize = db_size_get(name);
		file->pMethods = &db_methods;
		return (SQLITE_OK);
	}
	wf->read_off = -1;
	if (durable_active()) {
		wf->pathlen = strlen(name);
		wf->path = xstrdup(name);
	}
	file->pMethods = &wal_methods;
	return (SQLITE_OK);
}

static int
vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int nout, char *out)
{
	size_t	n = strlen(name);

	if (name[0] != '/')
		return (base_vfs->xFullPathname(base_vfs, name, nout, out));
	if (nout < 0 || n >= (size_t)nout)
		return (SQLITE_CANTOPEN);
	memcpy(out, name, n + 1);
	return (SQLITE_OK);
}

/*
 * Register TENANT_VFS.  Once, before any tenant is opened.  With
 * --shared-files the base is SQLite's plain unix VFS: shared locks and a
 * -shm file, so other processes can open tenants beside tenantd.
 */
int
vfs_init(void)
{
	if (!cfg.shared_files && exclvfs_init() != 0)
		return (-1);
	if ((base_vfs = sqlite3_vfs_find(cfg.shared_files ? "unix" :
	    EXCL_VFS)) == NULL)
		return (-1);
	tenant_vfs = *base_vfs;
	tenant_vfs.pNext = NULL;
	tenant_vfs.szOsFile = base_vfs->szOsFile + (int)sizeof(struct wrap_file);
	tenant_vfs.zName = TENANT_VFS;
	tenant_vfs.xOpen = vfs_open;
	tenant_vfs.xFullPathname = vfs_full_pathname;
	return (sqlite3_vfs_register(&tenant_vfs, 0) == SQLITE_OK ? 0 : -1);
}
