/*
 * exclvfs.c: the VFS tenant database and WAL files are opened with, under
 * vfs.c's wrapper (not with --shared-files, which keeps SQLite's unix VFS).
 *
 * It does what SQLite's unix-excl VFS does for them, without its list of
 * open files.  unix-excl keeps one record per open database file in a
 * linked list and walks all of it twice on every open (once for a
 * descriptor a closed connection left behind, once for the file's own
 * record), under the one mutex every open and close of the process takes:
 * with 10,000 tenants open that is some 140 us per open on the bench
 * machine, and opens on other threads wait for it.  Here a file's record
 * is found by its device and inode number in a hash table.
 *
 * What a database file gets, as under unix-excl:
 *
 * - Locks between the connections of this process, kept in the file's
 *   record (SQLite's shared, reserved, pending and exclusive levels, the
 *   state machine of os_unix.c's unixLock and posixUnlock), and one lock
 *   towards other processes: the first lock any connection takes puts a
 *   write lock on the file's shared-lock bytes (SHARED_FIRST, 510 bytes),
 *   held until the last connection to the file closes.  A sqlite3 shell or
 *   any other process then gets "database is locked", as with unix-excl.
 *   It is an open file description lock (F_OFD_SETLK): it belongs to the
 *   record's descriptor, so no other descriptor's close drops it (the
 *   POSIX rule that made unix-excl keep descriptors of closed
 *   connections), and a POSIX lock taken by any other code of this
 *   process, e.g. a connection through SQLite's own unix VFS, conflicts
 *   with it instead of silently sharing it.
 * - One descriptor per file, shared by the file's connections (reads and
 *   writes are positional).
 * - The WAL index in heap memory, shared by the file's connections, with
 *   SQLite's eight WAL locks kept between them (unixShmLock's rules); the
 *   barrier is a full fence.
 * - The WAL index kept when the last connection closes while the WAL still
 *   holds frames, for the next open of the file to take over instead of
 *   rebuilding it (below, "kept WAL indexes").
 *
 * A WAL file gets a descriptor of its own and no locks, is made with its
 * database's permissions (and owner, when run as root), and its directory
 * is synced on the first sync after it was made, as under unix.  Every
 * other file (journals, temporary files, names SQLite makes up) goes to
 * SQLite's unix VFS, as does every VFS method but xOpen.
 *
 * Every connection that opens a tenant file inside tenantd must come
 * through TENANT_VFS (exec_vfs_name()): one through the plain unix VFS
 * would find the file locked, not shared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* F_OFD_SETLK */
#endif
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "exclvfs.h"

#if defined(__linux__)
#include <linux/openat2.h>	/* struct open_how, RESOLVE_CACHED */
#endif

/* SQLite's lock bytes (os.h), for the default pending byte. */
#define PENDING_BYTE	0x40000000
#define RESERVED_BYTE	(PENDING_BYTE + 1)
#define SHARED_FIRST	(PENDING_BYTE + 2)
#define SHARED_SIZE	510

#define SHM_NLOCK	SQLITE_SHM_NLOCK

#define F_PSOW		0x01	/* powersafe overwrite */
#define F_PERSIST_WAL	0x02
#define F_DIRSYNC	0x04	/* sync the directory at the next sync */

struct xshm;

/* One open database file: its descriptor, its locks, its WAL index. */
struct xinode {
	struct xinode	*next;		/* [reg_mtx] */
	dev_t		 dev;
	ino_t		 ino;
	int		 refs;		/* [reg_mtx] connections */
	int		 fd;
	int		 rdonly;
	pthread_mutex_t	 mtx;
	/* [mtx] */
	int		 level;		/* strongest lock held here */
	int		 nshared;	/* connections at SHARED or above */
	int		 plock;		/* the lock towards other processes */
	struct xshm	*shm_first;	/* connections with the index mapped */
	void		**regions;
	int		 nregions;
	int		 region_size;
};

/* A connection's view of the WAL index: the WAL locks it holds. */
struct xshm {
	struct xshm	*next;		/* [inode mtx] */
	uint16_t	 shared;
	uint16_t	 excl;
};

struct xfile {
	const sqlite3_io_methods *methods;
	struct xinode	*inode;		/* a database file's */
	int		 fd;
	int		 level;		/* this connection's lock */
	int		 flags;		/* F_* */
	int		 last_errno;
	int		 chunk;		/* SQLITE_FCNTL_CHUNK_SIZE */
	struct xshm	*shm;
	const char	*path;		/* SQLite keeps it until xClose */
};

/*
 * A WAL index kept after its file's last connection closed: the regions,
 * and the database file and WAL as they were then.
 */
struct fstamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
};

struct xkept {
	struct xkept		*next;		/* [kept_mtx] hash chain */
	TAILQ_ENTRY(xkept)	 lru;		/* [kept_mtx] */
	struct fstamp		 db;
	struct fstamp		 wal;
	void			**regions;
	int			 nregions;
	int			 region_size;
};

static sqlite3_vfs	 excl_vfs;
static sqlite3_vfs	*unix_vfs;
static const sqlite3_io_methods	db_io, wal_io;

static pthread_mutex_t	 reg_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct xinode	**reg;		/* [reg_mtx] buckets */
static size_t		 reg_cap;	/* [reg_mtx] */
static size_t		 reg_count;	/* [reg_mtx] */

static size_t
reg_slot(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t	h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^
		    ((uint64_t)dev * 0xc2b2ae3d27d4eb4full);

	return ((size_t)(h ^ (h >> 29)) & (cap - 1));
}

static struct xinode *
reg_find(dev_t dev, ino_t ino)
{
	struct xinode	*x;

	if (reg == NULL)
		return (NULL);
	for (x = reg[reg_slot(dev, ino, reg_cap)]; x != NULL; x = x->next)
		if (x->dev == dev && x->ino == ino)
			return (x);
	return (NULL);
}

/* 0, or -1 if there is no table and no memory for one. */
static int
reg_add(struct xinode *x)
{
	struct xinode	**n, *y, *next;
	size_t		  i, cap, s;

	if (reg_count + 1 > reg_cap) {
		/* Grow at one record per bucket: chains stay short.  With
		 * no memory to grow, the chains get longer. */
		cap = reg_cap ? reg_cap * 2 : 1024;
		if ((n = calloc(cap, sizeof *n)) == NULL)
			cap = 0;
		for (i = 0; cap != 0 && i < reg_cap; i++)
			for (y = reg[i]; y != NULL; y = next) {
				next = y->next;
				s = reg_slot(y->dev, y->ino, cap);
				y->next = n[s];
				n[s] = y;
			}
		if (cap != 0) {
			free(reg);
			reg = n;
			reg_cap = cap;
		} else if (reg == NULL)
			return (-1);
	}
	s = reg_slot(x->dev, x->ino, reg_cap);
	x->next = reg[s];
	reg[s] = x;
	reg_count++;
	return (0);
}

static void
reg_remove(struct xinode *x)
{
	struct xinode	**pp;

	for (pp = &reg[reg_slot(x->dev, x->ino, reg_cap)]; *pp != x;
	    pp = &(*pp)->next)
		;
	*pp = x->next;
	reg_count--;
}

/* Drop a connection's reference; the last one closes the descriptor (and
 * with it the lock towards other processes). */
static void
inode_put(struct xinode *x)
{
	int	i;

	pthread_mutex_lock(&reg_mtx);
	if (--x->refs > 0) {
		pthread_mutex_unlock(&reg_mtx);
		return;
	}
	reg_remove(x);
	pthread_mutex_unlock(&reg_mtx);
	close(x->fd);
	for (i = 0; i < x->nregions; i++)
		free(x->regions[i]);
	free(x->regions);
	pthread_mutex_destroy(&x->mtx);
	free(x);
}

/*
 * Non-blocking mode (exclvfs_nowait): a thread that must not wait for the
 * disk (tenantd's event loop, opening a tenant itself) has its opens,
 * name lookups and reads of database and WAL files served only from what
 * the kernel has cached: names resolved with openat2's RESOLVE_CACHED,
 * reads with preadv2's RWF_NOWAIT.  Whatever would wait instead fails, and
 * exclvfs_blocked() says so: a name or a page not cached, a file to make,
 * any write, truncation or sync, any other kind of file, a sleep (SQLite's
 * busy handler).  The caller then closes the connection and leaves the
 * open to a thread that may wait.  A read refused this way still starts
 * the kernel's read-ahead, so that open usually finds the pages there.
 * Without openat2 or RWF_NOWAIT (a kernel before 5.12, another system)
 * every open in this mode fails the same way.
 */
static __thread int	nowait, blocked;
/* The kernel (or a seccomp filter, or valgrind) refused openat2's
 * RESOLVE_CACHED or RWF_NOWAIT once: nowait mode would never work. */
static _Atomic int	nowait_broken;

/* Something in nowait mode would have waited: -1 with errno EAGAIN. */
static int
would_block(void)
{
	blocked = 1;
	errno = EAGAIN;
	return (-1);
}

/* open(2) of a name whose every component the kernel has cached. */
static int
open_cached(const char *path, int oflags)
{
#if defined(SYS_openat2) && defined(RESOLVE_CACHED)
	struct open_how	how;
	int		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(oflags | O_CLOEXEC);
	how.resolve = RESOLVE_CACHED;
	do
		fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how,
		    sizeof how);
	while (fd == -1 && errno == EINTR);
	if (fd == -1 && errno == EAGAIN)
		return (would_block());
	/* EINVAL, ENOSYS: a kernel without it; EPERM: a seccomp filter
	 * that does not know it. */
	if (fd == -1 && (errno == EINVAL || errno == ENOSYS ||
	    errno == EPERM)) {
		atomic_store(&nowait_broken, 1);
		return (would_block());
	}
	return (fd);
#else
	(void)path;
	(void)oflags;
	return (would_block());
#endif
}

static int
open_fd(const char *path, int oflags, mode_t mode)
{
	int	fd;

	if (nowait) {
		/* Making a file is a write: only an existing one. */
		fd = open_cached(path, oflags & ~(O_CREAT | O_EXCL));
		if (fd == -1 && errno == ENOENT && (oflags & O_CREAT))
			return (would_block());
		return (fd);
	}
	do
		fd = open(path, oflags | O_CLOEXEC, mode);
	while (fd == -1 && errno == EINTR);
	return (fd);
}

/* stat(2), in nowait mode of a cached name only. */
static int
x_stat(const char *path, struct stat *sb)
{
	int	fd, rc, saved;

	if (!nowait)
		return (stat(path, sb));
	if ((fd = open_cached(path, O_PATH)) == -1)
		return (-1);
	rc = fstat(fd, sb);
	saved = errno;
	close(fd);
	errno = saved;
	return (rc);
}

/* pread(2), in nowait mode of cached pages only. */
static ssize_t
x_pread(int fd, void *buf, size_t n, off_t off)
{
#ifdef RWF_NOWAIT
	struct iovec	iov;
	ssize_t		r;

	if (!nowait)
		return (pread(fd, buf, n, off));
	iov.iov_base = buf;
	iov.iov_len = n;
	r = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
	if (r == -1 && errno == EOPNOTSUPP)	/* not on this file system */
		atomic_store(&nowait_broken, 1);
	if (r == -1 && (errno == EAGAIN || errno == EOPNOTSUPP))
		return (would_block());
	return (r);
#else
	if (nowait)
		return (would_block());
	return (pread(fd, buf, n, off));
#endif
}

/*
 * The record of the database file at path, opened (or created) with
 * SQLite's flags; *ro set if only reading was possible.  NULL with errno
 * set.
 */
static struct xinode *
inode_get(const char *path, int flags, int *ro)
{
	struct xinode	*x;
	struct stat	 sb;
	int		 fd, oflags, rdonly = 0, saved;

	*ro = 0;
	/* In nowait mode straight to the open, which resolves the name
	 * from the cache or fails (a stat first would cost a lookup of its
	 * own); a file already open is found after it. */
	if (!(flags & SQLITE_OPEN_EXCLUSIVE) && !nowait &&
	    stat(path, &sb) == 0) {
		pthread_mutex_lock(&reg_mtx);
		if ((x = reg_find(sb.st_dev, sb.st_ino)) != NULL) {
			x->refs++;
			pthread_mutex_unlock(&reg_mtx);
			*ro = x->rdonly;
			return (x);
		}
		pthread_mutex_unlock(&reg_mtx);
	}
	oflags = O_RDWR;
	if (flags & SQLITE_OPEN_CREATE)
		oflags |= O_CREAT;
	if (flags & SQLITE_OPEN_EXCLUSIVE)
		oflags |= O_EXCL;
	if (flags & SQLITE_OPEN_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	fd = -1;
	if (!(flags & SQLITE_OPEN_READONLY))
		fd = open_fd(path, oflags, 0644);
	if (fd == -1 && blocked)
		return (NULL);
	if (fd == -1 && ((flags & SQLITE_OPEN_READONLY) || errno == EACCES ||
	    errno == EROFS || errno == EPERM)) {
		/* As unix does: read-only when writing is refused. */
		if ((fd = open_fd(path, O_RDONLY | (oflags & O_NOFOLLOW), 0))
		    == -1)
			return (NULL);
		rdonly = 1;
	}
	if (fd == -1)
		return (NULL);
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (NULL);
	}
	pthread_mutex_lock(&reg_mtx);
	if ((x = reg_find(sb.st_dev, sb.st_ino)) != NULL) {
		/* Opened meanwhile by another thread: share its record. */
		x->refs++;
		pthread_mutex_unlock(&reg_mtx);
		close(fd);
		*ro = x->rdonly;
		return (x);
	}
	if ((x = calloc(1, sizeof *x)) == NULL) {
		pthread_mutex_unlock(&reg_mtx);
		close(fd);
		errno = ENOMEM;
		return (NULL);
	}
	x->dev = sb.st_dev;
	x->ino = sb.st_ino;
	x->fd = fd;
	x->rdonly = rdonly;
	x->refs = 1;
	pthread_mutex_init(&x->mtx, NULL);
	if (reg_add(x) == -1) {
		pthread_mutex_unlock(&reg_mtx);
		pthread_mutex_destroy(&x->mtx);
		free(x);
		close(fd);
		errno = ENOMEM;
		return (NULL);
	}
	pthread_mutex_unlock(&reg_mtx);
	*ro = rdonly;
	return (x);
}

/* ---- reads, writes, syncs: both kinds of file ---------------------------- */

static int
x_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	struct xfile	*xf = (struct xfile *)f;
	ssize_t		 r;
	int		 got = 0;

	while (got < n) {
		r = x_pread(xf->fd, (char *)buf + got, (size_t)(n - got),
		    (off_t)(off + got));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			xf->last_errno = errno;
			return (SQLITE_IOERR_READ);
		}
		if (r == 0)
			break;
		got += (int)r;
	}
	if (got < n) {
		/* SQLite counts on the rest being zeros. */
		memset((char *)buf + got, 0, (size_t)(n - got));
		return (SQLITE_IOERR_SHORT_READ);
	}
	return (SQLITE_OK);
}

static int
x_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct xfile	*xf = (struct xfile *)f;
	ssize_t		 w;
	int		 done = 0;

	if (nowait) {
		xf->last_errno = would_block();
		return (SQLITE_IOERR_WRITE);
	}
	while (done < n) {
		w = pwrite(xf->fd, (const char *)buf + done,
		    (size_t)(n - done), (off_t)(off + done));
		if (w == -1) {
			if (errno == EINTR)
				continue;
			xf->last_errno = errno;
			return (errno == ENOSPC || errno == EDQUOT ?
			    SQLITE_FULL : SQLITE_IOERR_WRITE);
		}
		if (w == 0) {
			xf->last_errno = 0;
			return (SQLITE_FULL);	/* as unix: a short write */
		}
		done += (int)w;
	}
	return (SQLITE_OK);
}

static int
x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct xfile	*xf = (struct xfile *)f;
	int		 rc;

	if (nowait) {
		xf->last_errno = would_block();
		return (SQLITE_IOERR_TRUNCATE);
	}
	if (xf->chunk > 0)
		size = ((size + xf->chunk - 1) / xf->chunk) * xf->chunk;
	do
		rc = ftruncate(xf->fd, (off_t)size);
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		xf->last_errno = errno;
		return (SQLITE_IOERR_TRUNCATE);
	}
	return (SQLITE_OK);
}

/* The directory of path, synced (errors ignored, as unix does). */
static void
sync_dir(const char *path)
{
	char		 dir[1100];
	const char	*slash = strrchr(path, '/');
	size_t		 len;
	int		 fd;

	if (slash == NULL) {
		snprintf(dir, sizeof dir, ".");
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof dir)
			return;
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	if ((fd = open_fd(dir, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

static int
x_sync(sqlite3_file *f, int flags)
{
	struct xfile	*xf = (struct xfile *)f;
	int		 rc;

	(void)flags;
	if (nowait) {
		xf->last_errno = would_block();
		return (SQLITE_IOERR_FSYNC);
	}
	do
		rc = fdatasync(xf->fd);
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		xf->last_errno = errno;
		return (SQLITE_IOERR_FSYNC);
	}
	if (xf->flags & F_DIRSYNC) {
		sync_dir(xf->path);
		xf->flags &= ~F_DIRSYNC;
	}
	return (SQLITE_OK);
}

static int
x_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct xfile	*xf = (struct xfile *)f;
	struct stat	 sb;

	if (fstat(xf->fd, &sb) == -1) {
		xf->last_errno = errno;
		return (SQLITE_IOERR_FSTAT);
	}
	*size = sb.st_size;
	return (SQLITE_OK);
}

static int
x_sector_size(sqlite3_file *f)
{
	(void)f;
	return (4096);	/* SQLITE_DEFAULT_SECTOR_SIZE, as unix */
}

static int
x_device_chars(sqlite3_file *f)
{
	return (((struct xfile *)f)->flags & F_PSOW ?
	    SQLITE_IOCAP_POWERSAFE_OVERWRITE : 0);
}

/* As unix: with a chunk size set, the file is made to hold at least n
 * bytes, rounded up to whole chunks; without one, nothing is done. */
static int
size_hint(struct xfile *xf, sqlite3_int64 n)
{
	struct stat	 sb;
	sqlite3_int64	 want;
	int		 err;

	if (xf->chunk <= 0)
		return (SQLITE_OK);
	if (nowait) {
		xf->last_errno = would_block();
		return (SQLITE_IOERR_WRITE);
	}
	if (fstat(xf->fd, &sb) == -1) {
		xf->last_errno = errno;
		return (SQLITE_IOERR_FSTAT);
	}
	want = ((n + xf->chunk - 1) / xf->chunk) * xf->chunk;
	if (want <= sb.st_size)
		return (SQLITE_OK);
	do
		err = posix_fallocate(xf->fd, sb.st_size, want - sb.st_size);
	while (err == EINTR);
	if (err == EINVAL || err == EOPNOTSUPP) {
		/* A file system without fallocate: its last byte. */
		if (x_write((sqlite3_file *)xf, "", 1, want - 1) != SQLITE_OK)
			return (SQLITE_IOERR_WRITE);
		err = 0;
	}
	if (err != 0) {
		xf->last_errno = err;
		return (err == ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE);
	}
	return (SQLITE_OK);
}

/* A tri-state flag file control: -1 asks, 0 or 1 sets. */
static void
flag_control(struct xfile *xf, int flag, int *arg)
{
	if (*arg < 0)
		*arg = (xf->flags & flag) != 0;
	else if (*arg == 0)
		xf->flags &= ~flag;
	else
		xf->flags |= flag;
}

static int
x_file_control(sqlite3_file *f, int op, void *arg)
{
	struct xfile	*xf = (struct xfile *)f;
	struct stat	 sb;

	switch (op) {
	case SQLITE_FCNTL_LOCKSTATE:
		*(int *)arg = xf->level;
		return (SQLITE_OK);
	case SQLITE_FCNTL_LAST_ERRNO:
		*(int *)arg = xf->last_errno;
		return (SQLITE_OK);
	case SQLITE_FCNTL_CHUNK_SIZE:
		xf->chunk = *(int *)arg;
		return (SQLITE_OK);
	case SQLITE_FCNTL_SIZE_HINT:
		return (size_hint(xf, *(sqlite3_int64 *)arg));
	case SQLITE_FCNTL_PERSIST_WAL:
		flag_control(xf, F_PERSIST_WAL, arg);
		return (SQLITE_OK);
	case SQLITE_FCNTL_POWERSAFE_OVERWRITE:
		flag_control(xf, F_PSOW, arg);
		return (SQLITE_OK);
	case SQLITE_FCNTL_VFSNAME:
		*(char **)arg = sqlite3_mprintf("%s", excl_vfs.zName);
		return (SQLITE_OK);
	case SQLITE_FCNTL_HAS_MOVED:
		/* Unlinked, or another file put in its place. */
		*(int *)arg = xf->inode != NULL &&
		    (x_stat(xf->path, &sb) == -1 || sb.st_dev != xf->inode->dev ||
		    sb.st_ino != xf->inode->ino);
		return (SQLITE_OK);
	}
	return (SQLITE_NOTFOUND);
}

/* ---- WAL files ------------------------------------------------------------ */

static int
wal_close(sqlite3_file *f)
{
	struct xfile	*xf = (struct xfile *)f;

	if (xf->fd != -1)
		close(xf->fd);
	xf->fd = -1;
	return (SQLITE_OK);
}

static int
no_lock(sqlite3_file *f, int level)
{
	(void)f;
	(void)level;
	return (SQLITE_OK);
}

static int
no_check_reserved(sqlite3_file *f, int *out)
{
	(void)f;
	*out = 0;
	return (SQLITE_OK);
}

/* A WAL's database file name: the WAL's without "-wal" (SQLite's own
 * naming; its URI parameters do not follow a WAL's name). */
static int
wal_db_mode(const char *path, struct stat *sb)
{
	char	 db[1100];
	size_t	 len = strlen(path);

	if (len < 5 || len >= sizeof db || strcmp(path + len - 4, "-wal") != 0)
		return (-1);
	memcpy(db, path, len - 4);
	db[len - 4] = '\0';
	/* Its database file is open (SQLite opens a WAL for a connection
	 * to it), so its name is cached, in nowait mode too. */
	return (stat(db, sb));
}

static int
wal_open(const char *path, struct xfile *xf, int flags, int *out_flags)
{
	struct stat	 sb, wsb;
	mode_t		 mode = 0644;
	int		 oflags = O_RDWR, owner = 0;

	if (flags & SQLITE_OPEN_CREATE)
		oflags |= O_CREAT;
	if (flags & SQLITE_OPEN_READONLY)
		oflags = O_RDONLY;
	if (wal_db_mode(path, &sb) == 0) {
		/* As unix: the WAL gets its database's permissions. */
		mode = sb.st_mode & 0777;
		owner = 1;
	}
	if ((xf->fd = open_fd(path, oflags, mode)) == -1 &&
	    !(flags & SQLITE_OPEN_READONLY) && (errno == EACCES ||
	    errno == EROFS)) {
		oflags = O_RDONLY;
		flags = (flags & ~(SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
		xf->fd = open_fd(path, oflags, 0);
	}
	if (xf->fd == -1)
		return (SQLITE_CANTOPEN);
	/* Only if it differs: a chown moves the file's change time even to
	 * the same owner, and a kept WAL index checks that time. */
	if (owner && geteuid() == 0 && fstat(xf->fd, &wsb) == 0 &&
	    (wsb.st_uid != sb.st_uid || wsb.st_gid != sb.st_gid))
		(void)fchown(xf->fd, sb.st_uid, sb.st_gid);
	xf->flags = F_PSOW;
	if (flags & SQLITE_OPEN_CREATE)
		xf->flags |= F_DIRSYNC;
	xf->path = path;
	xf->methods = &wal_io;
	if (out_flags != NULL)
		*out_flags = flags;
	return (SQLITE_OK);
}

/* ---- database files: locks -------------------------------------------------- */

/* The lock towards other processes, once per file; 0, or -1 with errno. */
static int
process_lock(struct xinode *x)
{
	struct flock	fl;
	int		rc;

	if (x->plock)
		return (0);
	memset(&fl, 0, sizeof fl);
	fl.l_type = x->rdonly ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = SHARED_FIRST;
	fl.l_len = SHARED_SIZE;
	do
		rc = fcntl(x->fd, F_OFD_SETLK, &fl);
	while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return (-1);
	x->plock = 1;
	return (0);
}

static int
lock_error(struct xfile *xf, int e)
{
	if (e == EAGAIN || e == EACCES || e == EBUSY || e == EINTR)
		return (SQLITE_BUSY);
	xf->last_errno = e;
	return (SQLITE_IOERR_LOCK);
}

/*
 * os_unix.c's unixLock with unix-excl's process lock: between this
 * process's connections the levels are kept in the record; the first
 * lock also takes the file from other processes.
 */
static int
db_lock(sqlite3_file *f, int level)
{
	struct xfile	*xf = (struct xfile *)f;
	struct xinode	*x = xf->inode;
	int		 rc = SQLITE_OK;

	if (xf->level >= level)
		return (SQLITE_OK);
	pthread_mutex_lock(&x->mtx);
	/* Another connection holds a lock that excludes this one. */
	if (xf->level != x->level && (x->level >= SQLITE_LOCK_PENDING ||
	    level > SQLITE_LOCK_SHARED)) {
		rc = SQLITE_BUSY;
		goto out;
	}
	/* A shared lock beside other connections' shared or reserved. */
	if (level == SQLITE_LOCK_SHARED && (x->level == SQLITE_LOCK_SHARED ||
	    x->level == SQLITE_LOCK_RESERVED)) {
		xf->level = SQLITE_LOCK_SHARED;
		x->nshared++;
		goto out;
	}
	if (process_lock(x) == -1) {
		rc = lock_error(xf, errno);
		goto out;
	}
	if (level == SQLITE_LOCK_SHARED) {
		xf->level = SQLITE_LOCK_SHARED;
		x->level = SQLITE_LOCK_SHARED;
		x->nshared = 1;
		goto out;
	}
	if (level == SQLITE_LOCK_EXCLUSIVE && x->nshared > 1) {
		/* Readers on other connections: pending until they go. */
		xf->level = SQLITE_LOCK_PENDING;
		x->level = SQLITE_LOCK_PENDING;
		rc = SQLITE_BUSY;
		goto out;
	}
	xf->level = level;
	x->level = level;
out:
	pthread_mutex_unlock(&x->mtx);
	return (rc);
}

/* os_unix.c's posixUnlock, the same way. */
static int
db_unlock(sqlite3_file *f, int level)
{
	struct xfile	*xf = (struct xfile *)f;
	struct xinode	*x = xf->inode;

	if (xf->level <= level)
		return (SQLITE_OK);
	pthread_mutex_lock(&x->mtx);
	if (xf->level > SQLITE_LOCK_SHARED)
		x->level = SQLITE_LOCK_SHARED;
	if (level == SQLITE_LOCK_NONE) {
		if (--x->nshared == 0)
			x->level = SQLITE_LOCK_NONE;
	}
	xf->level = level;
	pthread_mutex_unlock(&x->mtx);
	return (SQLITE_OK);
}

static int
db_check_reserved(sqlite3_file *f, int *out)
{
	struct xinode	*x = ((struct xfile *)f)->inode;

	pthread_mutex_lock(&x->mtx);
	*out = x->level > SQLITE_LOCK_SHARED;
	pthread_mutex_unlock(&x->mtx);
	return (SQLITE_OK);
}

/* ---- database files: kept WAL indexes ------------------------------------------ */

/*
 * When a file's last connection lets go of its WAL index (the handle
 * cache evicted or trimmed the tenant, a backup finished), the index is
 * freed, and the next open of the file rebuilds it by reading the whole
 * WAL back, one pread and one checksum per frame (SQLite's
 * walIndexRecover): about 1.3 us a frame, 50 us for a 40-frame WAL, on
 * every reopen for as long as the tenant is only read.  Instead, an index
 * whose WAL still holds frames is kept here, with the size and times of
 * the database file and the WAL, and the next open of the same file (same
 * device and inode) takes it over at its first map, so SQLite finds a
 * valid index and reads nothing back.
 *
 * A kept index is only handed over if nothing wrote either file
 * meanwhile: no other process (tenantd's lock is gone once the file is
 * closed: a sqlite3 shell, tenantctl offline), no other inode under the
 * same number.  Both files must have the same inode number, size,
 * modification and change times as when the index was kept (a write or a
 * truncation moves the times; utimensat cannot set a change time), and the
 * WAL must still begin with the index's salts and end, at the index's last
 * frame, with a commit frame of those salts and the index's checksum.  A
 * WAL written over by anyone since fails one of these; its index is
 * dropped and SQLite rebuilds it from the file, as without keeping.
 *
 * At most KEPT_MAX indexes and KEPT_BYTES of them are kept, the least
 * recently kept dropped first (one 32 KiB region per 4,062 frames).
 */
#define KEPT_MAX	1024
#define KEPT_BYTES	((size_t)32 << 20)
#define KEPT_BUCKETS	2048		/* a power of 2 */

/* SQLite's WAL index header (walformat.html): the first of its two copies
 * at the start of region 0, in native byte order. */
#define IDX_HDR_SIZE	48
#define IDX_ISINIT	12
#define IDX_PGSZ	14
#define IDX_MXFRAME	16
#define IDX_FRAMECK	24
#define IDX_SALT	32
/* The WAL file's header and a frame's (big-endian). */
#define WALF_HDR	32
#define WALF_FRAME_HDR	24
#define WALF_SALT	16
#define FRAME_NTRUNC	4
#define FRAME_SALT	8
#define FRAME_CKSUM	16

static pthread_mutex_t	 kept_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct xkept	*kept_tab[KEPT_BUCKETS];	/* [kept_mtx] */
static TAILQ_HEAD(xkept_lru, xkept) kept_lru =
    TAILQ_HEAD_INITIALIZER(kept_lru);
static size_t		 kept_n, kept_bytes;		/* [kept_mtx] */
static _Atomic uint64_t	 kept_reused, kept_stale;

static void	kept_insert(struct xkept *);

static size_t
kept_slot(dev_t dev, ino_t ino)
{
	return (reg_slot(dev, ino, KEPT_BUCKETS));
}

static void
stamp_of(const struct stat *sb, struct fstamp *st)
{
	memset(st, 0, sizeof *st);
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	st->size = sb->st_size;
	st->mtime = sb->st_mtim;
	st->ctime = sb->st_ctim;
}

static int
stamp_same(const struct fstamp *a, const struct fstamp *b)
{
	return (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec);
}

static uint32_t
idx_u32(const unsigned char *hdr, int off)
{
	uint32_t	v;

	memcpy(&v, hdr + off, sizeof v);
	return (v);
}

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* The page size an index header records (1 is 65536). */
static uint32_t
idx_page_size(const unsigned char *hdr)
{
	uint16_t	v;

	memcpy(&v, hdr + IDX_PGSZ, sizeof v);
	return ((uint32_t)(v & 0xfe00) + ((uint32_t)(v & 1) << 16));
}

/* A WAL's name: the database file's with "-wal"; 0, or -1 if too long. */
static int
wal_name(const char *db, char *out, size_t outsz)
{
	int	n = snprintf(out, outsz, "%s-wal", db);

	return (n < 0 || (size_t)n >= outsz ? -1 : 0);
}

static void
kept_free(struct xkept *k)
{
	int	i;

	for (i = 0; i < k->nregions; i++)
		free(k->regions[i]);
	free(k->regions);
	free(k);
}

/* Take k out of the table and the list.  [kept_mtx] */
static void
kept_unlink(struct xkept *k)
{
	struct xkept	**pp;

	for (pp = &kept_tab[kept_slot(k->db.dev, k->db.ino)]; *pp != k;
	    pp = &(*pp)->next)
		;
	*pp = k->next;
	TAILQ_REMOVE(&kept_lru, k, lru);
	kept_n--;
	kept_bytes -= (size_t)k->nregions * (size_t)k->region_size;
}

/* The kept index of the file (dev, ino), taken out; NULL if none. */
static struct xkept *
kept_take(dev_t dev, ino_t ino)
{
	struct xkept	*k;

	pthread_mutex_lock(&kept_mtx);
	for (k = kept_tab[kept_slot(dev, ino)]; k != NULL; k = k->next)
		if (k->db.dev == dev && k->db.ino == ino)
			break;
	if (k != NULL)
		kept_unlink(k);
	pthread_mutex_unlock(&kept_mtx);
	return (k);
}

/*
 * Keep x's WAL index, at its last unmap (x->mtx held; path is the database
 * file's).  Returns 0 if kept (x's regions are the kept record's now), -1
 * if there is nothing worth keeping (an empty WAL, no WAL) or no memory.
 */
static int
kept_put(struct xinode *x, const char *path)
{
	const unsigned char	*hdr;
	struct xkept		*k;
	struct stat		 sb;
	char			 wal[1100];
	uint32_t		 mx, pgsz;

	if (x->nregions < 1 || x->region_size < 2 * IDX_HDR_SIZE ||
	    path == NULL)
		return (-1);
	hdr = x->regions[0];
	mx = idx_u32(hdr, IDX_MXFRAME);
	pgsz = idx_page_size(hdr);
	/* Initialised, both copies alike (no writer stopped half-way), and
	 * frames in the WAL. */
	if (hdr[IDX_ISINIT] != 1 || mx == 0 || pgsz < 512 ||
	    memcmp(hdr, hdr + IDX_HDR_SIZE, IDX_HDR_SIZE) != 0)
		return (-1);
	if ((k = calloc(1, sizeof *k)) == NULL)
		return (-1);
	if (fstat(x->fd, &sb) == -1)
		goto fail;
	stamp_of(&sb, &k->db);
	if (wal_name(path, wal, sizeof wal) == -1 || x_stat(wal, &sb) == -1 ||
	    !S_ISREG(sb.st_mode) || sb.st_size < (off_t)WALF_HDR +
	    (off_t)mx * (off_t)(pgsz + WALF_FRAME_HDR))
		goto fail;
	stamp_of(&sb, &k->wal);
	k->regions = x->regions;
	k->nregions = x->nregions;
	k->region_size = x->region_size;
	if ((size_t)k->nregions * (size_t)k->region_size > KEPT_BYTES)
		goto fail;
	kept_insert(k);
	return (0);
fail:
	free(k);
	return (-1);
}

/* Put k in the table (replacing the file's older one), dropping the least
 * recently kept past the limits. */
static void
kept_insert(struct xkept *k)
{
	struct xkept	*old, *drop = NULL;
	size_t		 s = (size_t)k->nregions * (size_t)k->region_size;

	pthread_mutex_lock(&kept_mtx);
	for (old = kept_tab[kept_slot(k->db.dev, k->db.ino)]; old != NULL;
	    old = old->next)
		if (old->db.dev == k->db.dev && old->db.ino == k->db.ino)
			break;
	if (old != NULL) {
		kept_unlink(old);
		old->next = drop;
		drop = old;
	}
	k->next = kept_tab[kept_slot(k->db.dev, k->db.ino)];
	kept_tab[kept_slot(k->db.dev, k->db.ino)] = k;
	TAILQ_INSERT_HEAD(&kept_lru, k, lru);
	kept_n++;
	kept_bytes += s;
	while (kept_n > KEPT_MAX || kept_bytes > KEPT_BYTES) {
		old = TAILQ_LAST(&kept_lru, xkept_lru);
		kept_unlink(old);
		old->next = drop;
		drop = old;
	}
	pthread_mutex_unlock(&kept_mtx);
	while ((old = drop) != NULL) {
		drop = old->next;
		kept_free(old);
	}
}

/* 0 if the WAL at path still is what k's index describes. */
static int
kept_check_wal(const struct xkept *k, const char *path)
{
	const unsigned char	*hdr = k->regions[0];
	unsigned char		 b[WALF_HDR];
	struct stat		 sb;
	struct fstamp		 st;
	char			 wal[1100];
	uint32_t		 mx = idx_u32(hdr, IDX_MXFRAME);
	uint32_t		 pgsz = idx_page_size(hdr);
	off_t			 off;
	int			 fd, rc = -1;

	if (wal_name(path, wal, sizeof wal) == -1 ||
	    (fd = open_fd(wal, O_RDONLY | O_NOFOLLOW, 0)) == -1)
		return (-1);
	if (fstat(fd, &sb) == -1)
		goto out;
	stamp_of(&sb, &st);
	if (!stamp_same(&st, &k->wal))
		goto out;
	/* The WAL's own header: the index's salts. */
	if (x_pread(fd, b, WALF_HDR, 0) != WALF_HDR ||
	    (be32(b) & 0xfffffffe) != 0x377f0682 ||
	    memcmp(b + WALF_SALT, hdr + IDX_SALT, 8) != 0)
		goto out;
	/* The index's last frame: a commit, those salts, its checksum. */
	off = (off_t)WALF_HDR + (off_t)(mx - 1) * (off_t)(pgsz +
	    WALF_FRAME_HDR);
	if (x_pread(fd, b, WALF_FRAME_HDR, off) != WALF_FRAME_HDR ||
	    be32(b + FRAME_NTRUNC) == 0 ||
	    memcmp(b + FRAME_SALT, hdr + IDX_SALT, 8) != 0 ||
	    be32(b + FRAME_CKSUM) != idx_u32(hdr, IDX_FRAMECK) ||
	    be32(b + FRAME_CKSUM + 4) != idx_u32(hdr, IDX_FRAMECK + 4))
		goto out;
	rc = 0;
out:
	close(fd);
	return (rc);
}

/*
 * At the first map of x's index (x->mtx held, no region yet): take over
 * the index kept for this file if both files are as they were.  0 if
 * taken (x->regions set), -1 if there was none or it was stale (dropped).
 */
static int
kept_adopt(struct xinode *x, const char *path, int size)
{
	struct xkept	*k;
	struct stat	 sb;
	struct fstamp	 st;

	if (path == NULL || (k = kept_take(x->dev, x->ino)) == NULL)
		return (-1);
	if (k->region_size != size || fstat(x->fd, &sb) == -1)
		goto stale;
	stamp_of(&sb, &st);
	if (!stamp_same(&st, &k->db))
		goto stale;
	if (kept_check_wal(k, path) == -1) {
		if (blocked) {
			/* Not known to be stale: for the open that may
			 * wait. */
			kept_insert(k);
			return (-1);
		}
		goto stale;
	}
	x->regions = k->regions;
	x->nregions = k->nregions;
	x->region_size = k->region_size;
	free(k);
	atomic_fetch_add_explicit(&kept_reused, 1, memory_order_relaxed);
	return (0);
stale:
	kept_free(k);
	atomic_fetch_add_explicit(&kept_stale, 1, memory_order_relaxed);
	return (-1);
}

/* Kept WAL indexes: how many now and their bytes, how many were taken over
 * and how many dropped as stale since start (metrics, tests). */
void
exclvfs_kept_stats(struct exclvfs_kept *ks)
{
	pthread_mutex_lock(&kept_mtx);
	ks->count = kept_n;
	ks->bytes = kept_bytes;
	pthread_mutex_unlock(&kept_mtx);
	ks->reused = atomic_load_explicit(&kept_reused, memory_order_relaxed);
	ks->stale = atomic_load_explicit(&kept_stale, memory_order_relaxed);
}

/* Drop every kept index (at exit; tests). */
void
exclvfs_kept_clear(void)
{
	struct xkept	*k;

	pthread_mutex_lock(&kept_mtx);
	while ((k = TAILQ_FIRST(&kept_lru)) != NULL) {
		kept_unlink(k);
		kept_free(k);
	}
	pthread_mutex_unlock(&kept_mtx);
}

/* ---- database files: the WAL index in heap memory --------------------------- */

static int
db_shm_map(sqlite3_file *f, int region, int size, int extend,
    void volatile **pp)
{
	struct xfile	*xf = (struct xfile *)f;
	struct xinode	*x = xf->inode;
	void		**n;
	int		 rc = SQLITE_OK;

	(void)extend;	/* heap memory: made whatever it says, as unix */
	pthread_mutex_lock(&x->mtx);
	if (xf->shm == NULL) {
		if ((xf->shm = calloc(1, sizeof *xf->shm)) == NULL) {
			rc = SQLITE_IOERR_NOMEM;
			goto out;
		}
		xf->shm->next = x->shm_first;
		x->shm_first = xf->shm;
	}
	if (x->nregions == 0 && region == 0 &&
	    kept_adopt(x, xf->path, size) == -1 && blocked) {
		rc = SQLITE_IOERR_SHMMAP;
		goto out;
	}
	if (x->region_size == 0)
		x->region_size = size;
	if (size != x->region_size) {
		rc = SQLITE_IOERR_SHMSIZE;
		goto out;
	}
	if (region >= x->nregions) {
		if ((n = realloc(x->regions, (size_t)(region + 1) *
		    sizeof *n)) == NULL) {
			rc = SQLITE_IOERR_NOMEM;
			goto out;
		}
		x->regions = n;
		while (x->nregions <= region) {
			if ((n[x->nregions] = calloc(1, (size_t)size)) ==
			    NULL) {
				rc = SQLITE_IOERR_NOMEM;
				goto out;
			}
			x->nregions++;
		}
	}
out:
	*pp = rc == SQLITE_OK ? x->regions[region] : NULL;
	pthread_mutex_unlock(&x->mtx);
	return (rc);
}

/* unixShmLock's rules between this process's connections. */
static int
db_shm_lock(sqlite3_file *f, int ofst, int n, int flags)
{
	struct xfile	*xf = (struct xfile *)f;
	struct xinode	*x = xf->inode;
	struct xshm	*me = xf->shm, *o;
	uint16_t	 mask;
	int		 rc = SQLITE_OK;

	if (me == NULL || ofst < 0 || n < 1 || ofst + n > SHM_NLOCK)
		return (SQLITE_IOERR_SHMLOCK);
	mask = (uint16_t)(((1u << (ofst + n)) - 1) & ~((1u << ofst) - 1));
	pthread_mutex_lock(&x->mtx);
	if (flags & SQLITE_SHM_UNLOCK) {
		me->shared &= (uint16_t)~mask;
		me->excl &= (uint16_t)~mask;
	} else if (flags & SQLITE_SHM_SHARED) {
		for (o = x->shm_first; o != NULL; o = o->next)
			if (o != me && (o->excl & mask)) {
				rc = SQLITE_BUSY;
				break;
			}
		if (rc == SQLITE_OK)
			me->shared |= mask;
	} else {
		for (o = x->shm_first; o != NULL; o = o->next)
			if (o != me && ((o->excl | o->shared) & mask)) {
				rc = SQLITE_BUSY;
				break;
			}
		if (rc == SQLITE_OK)
			me->excl |= mask;
	}
	pthread_mutex_unlock(&x->mtx);
	return (rc);
}

static void
db_shm_barrier(sqlite3_file *f)
{
	(void)f;
	atomic_thread_fence(memory_order_seq_cst);
}

/* This connection lets go of the index; the last one keeps it (above) or
 * frees it (the next to map it finds it zeroed and SQLite rebuilds it from
 * the WAL). */
static int
db_shm_unmap(sqlite3_file *f, int delete)
{
	struct xfile	*xf = (struct xfile *)f;
	struct xinode	*x = xf->inode;
	struct xshm	**pp;
	int		 i;

	if (xf->shm == NULL)
		return (SQLITE_OK);
	pthread_mutex_lock(&x->mtx);
	for (pp = &x->shm_first; *pp != xf->shm; pp = &(*pp)->next)
		;
	*pp = xf->shm->next;
	free(xf->shm);
	xf->shm = NULL;
	if (x->shm_first == NULL) {
		if (delete || kept_put(x, xf->path) == -1) {
			for (i = 0; i < x->nregions; i++)
				free(x->regions[i]);
			free(x->regions);
		}
		x->regions = NULL;
		x->nregions = 0;
		x->region_size = 0;
	}
	pthread_mutex_unlock(&x->mtx);
	return (SQLITE_OK);
}

static int
db_close(sqlite3_file *f)
{
	struct xfile	*xf = (struct xfile *)f;

	if (xf->inode == NULL)
		return (SQLITE_OK);
	(void)db_unlock(f, SQLITE_LOCK_NONE);
	(void)db_shm_unmap(f, 0);
	inode_put(xf->inode);
	xf->inode = NULL;
	xf->fd = -1;
	return (SQLITE_OK);
}

static const sqlite3_io_methods db_io = {
	2,
	db_close,
	x_read,
	x_write,
	x_truncate,
	x_sync,
	x_file_size,
	db_lock,
	db_unlock,
	db_check_reserved,
	x_file_control,
	x_sector_size,
	x_device_chars,
	db_shm_map,
	db_shm_lock,
	db_shm_barrier,
	db_shm_unmap,
	NULL,
	NULL
};

static const sqlite3_io_methods wal_io = {
	1,
	wal_close,
	x_read,
	x_write,
	x_truncate,
	x_sync,
	x_file_size,
	no_lock,
	no_lock,
	no_check_reserved,
	x_file_control,
	x_sector_size,
	x_device_chars,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL
};

static int
excl_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	struct xfile	*xf = (struct xfile *)file;
	int		 ro;

	(void)vfs;
	if (name == NULL || (flags & SQLITE_OPEN_DELETEONCLOSE) ||
	    !(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL))) {
		if (nowait) {
			((struct xfile *)file)->methods = NULL;
			(void)would_block();
			return (SQLITE_CANTOPEN);
		}
		return (unix_vfs->xOpen(unix_vfs, name, file, flags,
		    out_flags));
	}
	memset(xf, 0, sizeof *xf);
	xf->fd = -1;
	if (flags & SQLITE_OPEN_WAL) {
		if (wal_open(name, xf, flags, out_flags) != SQLITE_OK) {
			xf->methods = NULL;
			return (SQLITE_CANTOPEN);
		}
		return (SQLITE_OK);
	}
	if ((xf->inode = inode_get(name, flags, &ro)) == NULL) {
		/* errno stays for sqlite3_system_errno (EMFILE: the cache
		 * gives descriptors back, exec.c). */
		xf->methods = NULL;
		return (SQLITE_CANTOPEN);
	}
	xf->fd = xf->inode->fd;
	xf->flags = F_PSOW;
	xf->path = name;
	xf->methods = &db_io;
	if (out_flags != NULL)
		*out_flags = ro ? (flags & ~(SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY : flags;
	return (SQLITE_OK);
}

/*
 * xAccess: the unix VFS's, but in nowait mode only for a cached name (an
 * existing file counts when it is not empty, as under unix).
 */
static int
excl_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	struct stat	sb;

	(void)vfs;
	if (!nowait)
		return (unix_vfs->xAccess(unix_vfs, name, flags, out));
	if (x_stat(name, &sb) == -1) {
		if (blocked)
			return (SQLITE_IOERR_ACCESS);
		*out = 0;
		return (SQLITE_OK);
	}
	if (flags == SQLITE_ACCESS_EXISTS) {
		*out = !S_ISREG(sb.st_mode) || sb.st_size > 0;
		return (SQLITE_OK);
	}
	/* The name is cached now. */
	return (unix_vfs->xAccess(unix_vfs, name, flags, out));
}

/* xSleep (the busy handler's wait): in nowait mode a failure instead. */
static int
excl_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	if (nowait) {
		(void)would_block();
		return (0);
	}
	return (unix_vfs->xSleep(unix_vfs, us));
}

void
exclvfs_nowait(int on)
{
	nowait = on;
	blocked = 0;
}

int
exclvfs_blocked(void)
{
	return (blocked);
}

/* Whether nowait mode can work here: not once refused by the system. */
int
exclvfs_nowait_works(void)
{
#if defined(SYS_openat2) && defined(RESOLVE_CACHED) && defined(RWF_NOWAIT)
	return (!atomic_load(&nowait_broken));
#else
	return (0);
#endif
}

/* Open records (tests). */
size_t
exclvfs_open_files(void)
{
	size_t	n;

	pthread_mutex_lock(&reg_mtx);
	n = reg_count;
	pthread_mutex_unlock(&reg_mtx);
	return (n);
}

/*
 * Register EXCL_VFS (not the default).  Once, before any file is opened
 * through it.
 */
int
exclvfs_init(void)
{
	if (excl_vfs.zName != NULL)
		return (0);
	if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL)
		return (-1);
	excl_vfs = *unix_vfs;
	excl_vfs.pNext = NULL;
	excl_vfs.zName = EXCL_VFS;
	if (excl_vfs.szOsFile < (int)sizeof(struct xfile))
		excl_vfs.szOsFile = (int)sizeof(struct xfile);
	excl_vfs.xOpen = excl_open;
	excl_vfs.xAccess = excl_access;
	excl_vfs.xSleep = excl_sleep;
	return (sqlite3_vfs_register(&excl_vfs, 0) == SQLITE_OK ? 0 : -1);
}
