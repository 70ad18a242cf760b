/*
 * vfs.c: the SQLite VFS tenant handles are opened with.
 *
 * It is SQLite's own unix-excl VFS (exec_open explains why), or its plain
 * unix VFS with --shared-files, with one method replaced.  SQLite turns every database name into a full path by
 * lstat()ing each of its components, twice per open (once for the b-tree,
 * once for the pager): 24 stat calls per cold open at tenantd's usual
 * depth.  Tenant paths are built by tenantd from the data dir, which is
 * made absolute and symlink-free at start (realpath), so an absolute path
 * handed to this VFS is already its own full path and is used as it is.
 * Any other name (relative, as no tenant path is) goes to unix-excl's own
 * xFullPathname.
 *
 * unix-excl recognises itself by its name when a file is opened (that is
 * what makes its locks exclusive), so xOpen is passed the base's own
 * sqlite3_vfs; the files it opens carry their own methods.  The other
 * methods do not look at the VFS they are called through.
 *
 * With group commit (durable.c) a tenant's WAL file is wrapped: every
 * write and truncation goes to the file as usual and is also copied into
 * the commit log, which is what makes a commit durable.  Every other
 * method is the base file's.  Other files are not wrapped at all.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

static sqlite3_vfs	 tenant_vfs;
static sqlite3_vfs	*base_vfs;

/* A wrapped WAL: the base file follows it in the same allocation. */
struct wal_file {
	sqlite3_file	 base;		/* pMethods = &wal_methods */
	sqlite3_file	*real;
	char		*path;
	size_t		 pathlen;
};
static sqlite3_io_methods	 wal_methods;
static const sqlite3_io_methods	*real_methods;	/* [wal_methods_mtx] */
static pthread_mutex_t		 wal_methods_mtx = PTHREAD_MUTEX_INITIALIZER;

#define REAL(f)		(((struct wal_file *)(f))->real)

static int
wal_close(sqlite3_file *f)
{
	struct wal_file	*wf = (struct wal_file *)f;
	int		 rc = wf->real->pMethods->xClose(wf->real);

	free(wf->path);
	wf->path = NULL;
	return (rc);
}

static int
wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return (REAL(f)->pMethods->xRead(REAL(f), p, n, off));
}

static int
wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct wal_file	*wf = (struct wal_file *)f;
	int		 rc;

	rc = durable_lose_wal_writes ? SQLITE_OK :
	    wf->real->pMethods->xWrite(wf->real, p, n, off);
	if (rc == SQLITE_OK)
		durable_log(DREC_WRITE, wf->path, wf->pathlen, (uint64_t)off, p,
		    (size_t)n);
	return (rc);
}

static int
wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct wal_file	*wf = (struct wal_file *)f;
	int		 rc;

	rc = durable_lose_wal_writes ? SQLITE_OK :
	    wf->real->pMethods->xTruncate(wf->real, size);
	if (rc == SQLITE_OK)
		durable_log(DREC_TRUNCATE, wf->path, wf->pathlen,
		    (uint64_t)size, NULL, 0);
	return (rc);
}

static int
wal_sync(sqlite3_file *f, int flags)
{
	return (REAL(f)->pMethods->xSync(REAL(f), flags));
}

static int
wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
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
	return (REAL(f)->pMethods->xFetch(REAL(f), off, n, pp));
}

static int
wal_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return (REAL(f)->pMethods->xUnfetch(REAL(f), off, p));
}

/* The wrapper's methods: the base's version, with the base's gaps. */
static void
wal_methods_init(const sqlite3_io_methods *m)
{
	real_methods = m;
	memset(&wal_methods, 0, sizeof wal_methods);
	wal_methods.iVersion = m->iVersion;
	wal_methods.xClose = wal_close;
	wal_methods.xRead = wal_read;
	wal_methods.xWrite = wal_write;
	wal_methods.xTruncate = wal_truncate;
	wal_methods.xSync = wal_sync;
	wal_methods.xFileSize = wal_file_size;
	wal_methods.xLock = wal_lock;
	wal_methods.xUnlock = wal_unlock;
	wal_methods.xCheckReservedLock = wal_check_reserved;
	wal_methods.xFileControl = wal_file_control;
	wal_methods.xSectorSize = wal_sector_size;
	wal_methods.xDeviceCharacteristics = wal_device_chars;
	if (m->iVersion >= 2) {
		wal_methods.xShmMap = m->xShmMap ? wal_shm_map : NULL;
		wal_methods.xShmLock = m->xShmLock ? wal_shm_lock : NULL;
		wal_methods.xShmBarrier = m->xShmBarrier ? wal_shm_barrier :
		    NULL;
		wal_methods.xShmUnmap = m->xShmUnmap ? wal_shm_unmap : NULL;
	}
	if (m->iVersion >= 3) {
		wal_methods.xFetch = m->xFetch ? wal_fetch : NULL;
		wal_methods.xUnfetch = m->xUnfetch ? wal_unfetch : NULL;
	}
}

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	struct wal_file	*wf = (struct wal_file *)file;
	int		 rc;

	if (!(flags & SQLITE_OPEN_WAL) || name == NULL || !durable_active())
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
	/* One base VFS, one set of methods for its files. */
	pthread_mutex_lock(&wal_methods_mtx);
	if (real_methods == NULL)
		wal_methods_init(wf->real->pMethods);
	pthread_mutex_unlock(&wal_methods_mtx);
	if (real_methods != wf->real->pMethods) {
		wf->real->pMethods->xClose(wf->real);
		file->pMethods = NULL;
		return (SQLITE_CANTOPEN);
	}
	wf->pathlen = strlen(name);
	wf->path = xstrdup(name);
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
	if ((base_vfs = sqlite3_vfs_find(cfg.shared_files ? "unix" :
	    "unix-excl")) == NULL)
		return (-1);
	tenant_vfs = *base_vfs;
	tenant_vfs.pNext = NULL;
	tenant_vfs.szOsFile = base_vfs->szOsFile + (int)sizeof(struct wal_file);
	tenant_vfs.zName = TENANT_VFS;
	tenant_vfs.xOpen = vfs_open;
	tenant_vfs.xFullPathname = vfs_full_pathname;
	return (sqlite3_vfs_register(&tenant_vfs, 0) == SQLITE_OK ? 0 : -1);
}
