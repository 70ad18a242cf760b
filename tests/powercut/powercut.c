/*
 * powercut.c: an LD_PRELOAD library that records what a power cut would
 * leave of a directory tree.
 *
 * A kill -9 loses nothing the kernel has: every write(2) survives it, so
 * a crash test that only kills the process cannot tell a program that
 * syncs from one that does not.  This library can.  Loaded into a
 * process with PCUT_ROOT (a directory) and PCUT_LOG (a file outside it),
 * it follows every write, truncation and allocation of the regular files
 * on PCUT_ROOT's file system, and appends to PCUT_LOG, at each sync, what
 * that sync made durable:
 *
 *   fsync, fdatasync of a file	 the file's bytes written since its last
 *				 sync, and its size
 *   write through O_DSYNC/O_SYNC, the bytes written and the size
 *   pwritev2 with RWF_DSYNC
 *   fsync, fdatasync of a folder its entries (names and which file each
 *				 names), if it is under PCUT_ROOT
 *   syncfs, sync		 all of the above for every folder and file
 *				 under PCUT_ROOT
 *
 * Nothing else is durable: a file's data never synced is not there, a
 * name made (creat, link, rename, mkdir, unlink) is not there until its
 * folder is synced.  That is the least a POSIX file system promises after
 * a power cut, and stricter than ext4 in practice, whose journal commits
 * names in order.  pcimage turns the log into that tree.
 *
 * At start the tree under PCUT_ROOT is taken as durable (recorded whole).
 * The record of a sync is in the log before the sync returns to the
 * program, so nothing the program acknowledged after a sync is missing
 * from it.  Writes by other processes, through stdio or mmap are not
 * seen one by one: a file with none seen whose size or mtime changed
 * since it was last recorded is recorded whole when it is synced (all of
 * a file's data is durable after its sync); one written both ways only
 * in the ranges seen.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcrec.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC	0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC	0x00000004
#endif

#define CHUNK		(64 * 1024)
#define NBUCKET		4096

struct range {
	uint64_t	off, end;
};

struct inode {
	struct pcrec_key k;
	struct range	*r;
	size_t		 nr, cap;
	int		 dirty;
	int		 recorded;	/* rec_size, rec_mtime are set */
	uint64_t	 rec_size;	/* as last recorded */
	int64_t		 rec_mtime;	/* ns */
	struct inode	*next;
};

static pthread_mutex_t	 lk = PTHREAD_MUTEX_INITIALIZER;
static char		 root[PATH_MAX / 2];
static size_t		 rootlen;
static dev_t		 rootdev;
static int		 logfd = -1;
static struct inode	*tab[NBUCKET];

/* --- raw I/O (never through the wrappers below) --------------------------- */

static ssize_t
raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return (syscall(SYS_pread64, fd, buf, n, off));
}

static int
raw_open(const char *path, int flags)
{
	return (syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0600));
}

static void
raw_close(int fd)
{
	syscall(SYS_close, fd);
}

static void
die(const char *what)
{
	char	msg[256];
	int	n;

	n = snprintf(msg, sizeof msg, "powercut: %s: %s\n", what,
	    strerror(errno));
	syscall(SYS_write, 2, msg, (size_t)n);
	_exit(99);
}

/* Append one record: header, then a and b as its payload. */
static void
emit(uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	struct pcrec_hdr	 h;
	unsigned char		*buf, *p;
	size_t			 len = sizeof h + alen + blen, done = 0;
	ssize_t			 n;

	if ((buf = malloc(len)) == NULL)
		die("malloc");
	memcpy(buf + sizeof h, a, alen);
	if (blen > 0)
		memcpy(buf + sizeof h + alen, b, blen);
	h.magic = PCREC_MAGIC;
	h.type = type;
	h.len = alen + blen;
	h.sum = pcrec_sum(type, buf + sizeof h, h.len);
	memcpy(buf, &h, sizeof h);
	for (p = buf; done < len; done += (size_t)n) {
		n = syscall(SYS_write, logfd, p + done, len - done);
		if (n <= 0) {
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			die("writing the log");
		}
	}
	free(buf);
}

/* --- which file a descriptor is ------------------------------------------- */

static int
keyof(int dirfd, const char *name, int flags, struct pcrec_key *k,
    mode_t *mode, dev_t *dev, uint64_t *size, int64_t *mtime)
{
	struct statx	sx;

	if (syscall(SYS_statx, dirfd, name, flags, STATX_BASIC_STATS |
	    STATX_BTIME, &sx) == -1)
		return (-1);
	memset(k, 0, sizeof *k);
	k->ino = sx.stx_ino;
	if (sx.stx_mask & STATX_BTIME) {
		k->bsec = sx.stx_btime.tv_sec;
		k->bnsec = sx.stx_btime.tv_nsec;
	}
	*mode = sx.stx_mode;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*size = sx.stx_size;
	*mtime = (int64_t)sx.stx_mtime.tv_sec * 1000000000 +
	    sx.stx_mtime.tv_nsec;
	return (0);
}

static int
rootdev_known(void)
{
	struct stat	sb;

	if (rootdev == 0 && stat(root, &sb) == 0)
		rootdev = sb.st_dev;
	return (rootdev != 0);
}

static struct inode *
lookup(const struct pcrec_key *k, int make)
{
	size_t		 b = (k->ino ^ (uint64_t)k->bnsec) % NBUCKET;
	struct inode	*i;

	for (i = tab[b]; i != NULL; i = i->next)
		if (i->k.ino == k->ino && i->k.bsec == k->bsec &&
		    i->k.bnsec == k->bnsec)
			return (i);
	if (!make)
		return (NULL);
	if ((i = calloc(1, sizeof *i)) == NULL)
		die("calloc");
	i->k = *k;
	i->next = tab[b];
	tab[b] = i;
	return (i);
}

/* Add [off, end) to i's unsynced ranges (kept sorted and merged). */
static void
add_range(struct inode *i, uint64_t off, uint64_t end)
{
	size_t	a, z;

	i->dirty = 1;
	if (end <= off)
		return;
	for (a = 0; a < i->nr && i->r[a].end < off; a++)
		;
	for (z = a; z < i->nr && i->r[z].off <= end; z++) {
		if (i->r[z].off < off)
			off = i->r[z].off;
		if (i->r[z].end > end)
			end = i->r[z].end;
	}
	/* [a, z) merge into one range at a. */
	if (z == a) {
		if (i->nr == i->cap) {
			i->cap = i->cap ? i->cap * 2 : 8;
			if ((i->r = realloc(i->r, i->cap * sizeof *i->r)) ==
			    NULL)
				die("realloc");
		}
		memmove(i->r + a + 1, i->r + a, (i->nr - a) * sizeof *i->r);
		i->nr++;
	} else if (z - a > 1) {
		memmove(i->r + a + 1, i->r + z, (i->nr - z) * sizeof *i->r);
		i->nr -= z - a - 1;
	}
	i->r[a].off = off;
	i->r[a].end = end;
}

/* A truncation to len: nothing past it is left to sync. */
static void
cut_ranges(struct inode *i, uint64_t len)
{
	size_t	j, n = 0;

	i->dirty = 1;
	for (j = 0; j < i->nr; j++) {
		if (i->r[j].off >= len)
			continue;
		i->r[n] = i->r[j];
		if (i->r[n].end > len)
			i->r[n].end = len;
		n++;
	}
	i->nr = n;
}

/* Record [off, end) of the file open as rfd, then its size. */
static void
record_bytes(int rfd, const struct pcrec_key *k, uint64_t off, uint64_t end,
    uint64_t size)
{
	static unsigned char	 buf[CHUNK];
	unsigned char		 hdr[sizeof *k + 16];
	ssize_t			 n;
	size_t			 j;
	uint64_t		 zl;

	if (end > size)
		end = size;
	while (off < end) {
		n = raw_pread(rfd, buf, end - off < CHUNK ? end - off : CHUNK,
		    (off_t)off);
		if (n <= 0)
			break;
		for (j = 0; j < (size_t)n && buf[j] == 0; j++)
			;
		memcpy(hdr, k, sizeof *k);
		memcpy(hdr + sizeof *k, &off, 8);
		if (j == (size_t)n) {
			zl = (uint64_t)n;
			memcpy(hdr + sizeof *k + 8, &zl, 8);
			emit(PCREC_ZERO, hdr, sizeof hdr, NULL, 0);
		} else
			emit(PCREC_DATA, hdr, sizeof *k + 8, buf, (size_t)n);
		off += (uint64_t)n;
	}
}

static void
record_size(const struct pcrec_key *k, uint64_t size)
{
	unsigned char	hdr[sizeof *k + 8];

	memcpy(hdr, k, sizeof *k);
	memcpy(hdr + sizeof *k, &size, 8);
	emit(PCREC_SIZE, hdr, sizeof hdr, NULL, 0);
}

/*
 * Everything i has unsynced, read through rfd: the ranges written through
 * the wrappers, or, if none were but the file changed since it was last
 * recorded (stdio and mmap writes are not seen), the whole file: a sync
 * makes all of a file's data durable, whoever wrote it.
 */
static void
record_inode(struct inode *i, int rfd, uint64_t size, int64_t mtime)
{
	size_t	j;

	if (!i->dirty && i->recorded && i->rec_size == size &&
	    i->rec_mtime == mtime)
		return;		/* nothing new */
	if (!i->dirty) {
		i->nr = 0;
		add_range(i, 0, size);
	}
	for (j = 0; j < i->nr; j++)
		record_bytes(rfd, &i->k, i->r[j].off, i->r[j].end, size);
	record_size(&i->k, size);
	i->nr = 0;
	i->dirty = 0;
	i->recorded = 1;
	i->rec_size = size;
	i->rec_mtime = mtime;
}

/* The path of fd under the root ("" for the root), or NULL. */
static const char *
relpath(int fd, char *buf, size_t len)
{
	char	p[64];
	ssize_t	n;

	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	if ((n = readlink(p, buf, len - 1)) <= 0)
		return (NULL);
	buf[n] = '\0';
	if (strncmp(buf, root, rootlen) != 0 ||
	    (buf[rootlen] != '\0' && buf[rootlen] != '/'))
		return (NULL);
	return (buf[rootlen] == '/' ? buf + rootlen + 1 : buf + rootlen);
}

/*
 * Record the entries of the folder at rel (under the root); with
 * files, also the unsynced bytes of every file in it (all: the whole
 * file, for the starting state), and with deep, do the same in every
 * folder below.
 */
static void
record_dir(const char *rel, int files, int all, int deep)
{
	char		 abs[PATH_MAX * 2], sub[PATH_MAX];
	unsigned char	*ents = NULL;
	size_t		 elen = 0, ecap = 0, nl;
	DIR		*d;
	struct dirent	*de;
	struct pcrec_key k;
	struct inode	*i;
	mode_t		 mode;
	dev_t		 dev;
	uint64_t	 size;
	int64_t		 mtime;
	int		 dfd, rfd;

	snprintf(abs, sizeof abs, "%s%s%s", root, *rel ? "/" : "", rel);
	if ((d = opendir(abs)) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (keyof(dfd, de->d_name, AT_SYMLINK_NOFOLLOW, &k, &mode,
		    &dev, &size, &mtime) == -1)
			continue;
		if (!S_ISREG(mode) && !S_ISDIR(mode))
			continue;
		nl = strlen(de->d_name) + 1;
		if (elen + 1 + sizeof k + nl > ecap) {
			ecap = (ecap + 1 + sizeof k + nl) * 2;
			if ((ents = realloc(ents, ecap)) == NULL)
				die("realloc");
		}
		ents[elen] = S_ISREG(mode) ? 'f' : 'd';
		memcpy(ents + elen + 1, &k, sizeof k);
		memcpy(ents + elen + 1 + sizeof k, de->d_name, nl);
		elen += 1 + sizeof k + nl;

		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "",
		    de->d_name);
		if (S_ISDIR(mode) && deep)
			record_dir(sub, files, all, deep);
		if (!S_ISREG(mode) || !files)
			continue;
		i = lookup(&k, 1);
		if (!i->dirty && i->recorded && i->rec_size == size &&
		    i->rec_mtime == mtime)
			continue;
		if ((rfd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC)) ==
		    -1)
			continue;
		if (all) {
			i->nr = 0;
			add_range(i, 0, size);
		}
		record_inode(i, rfd, size, mtime);
		raw_close(rfd);
	}
	closedir(d);
	emit(PCREC_DIR, rel, strlen(rel) + 1, ents, elen);
	free(ents);
}

/* --- the events ----------------------------------------------------------- */

/* fd was written at [off, off + n) (or, with n == 0 and trunc, cut to off). */
static void
wrote(int fd, uint64_t off, uint64_t n, int trunc, int dsync)
{
	struct pcrec_key k;
	struct inode	*i;
	mode_t		 mode;
	dev_t		 dev;
	uint64_t	 size;
	int64_t		 mtime;
	int		 saved = errno, fl, rfd;
	char		 p[64];

	if (logfd == -1 || !rootdev_known())
		goto out;
	if (keyof(fd, "", AT_EMPTY_PATH, &k, &mode, &dev, &size, &mtime) == -1 ||
	    !S_ISREG(mode) || dev != rootdev)
		goto out;
	if (!dsync && (fl = fcntl(fd, F_GETFL)) != -1 &&
	    (fl & (O_DSYNC | O_SYNC)))
		dsync = 1;
	pthread_mutex_lock(&lk);
	i = lookup(&k, 1);
	if (trunc)
		cut_ranges(i, off);
	else
		add_range(i, off, off + n);
	if (dsync) {
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
		if ((rfd = raw_open(p, O_RDONLY)) != -1) {
			if (!trunc)
				record_bytes(rfd, &k, off, off + n, size);
			record_size(&k, size);
			raw_close(rfd);
		}
	}
	pthread_mutex_unlock(&lk);
out:
	errno = saved;
}

/* fd is being synced. */
static void
synced(int fd)
{
	struct pcrec_key k;
	struct inode	*i;
	mode_t		 mode;
	dev_t		 dev;
	uint64_t	 size;
	int64_t		 mtime;
	int		 saved = errno, rfd;
	char		 p[64], path[PATH_MAX];
	const char	*rel;

	if (logfd == -1 || !rootdev_known())
		goto out;
	if (keyof(fd, "", AT_EMPTY_PATH, &k, &mode, &dev, &size, &mtime) == -1 ||
	    dev != rootdev)
		goto out;
	pthread_mutex_lock(&lk);
	if (S_ISDIR(mode)) {
		if ((rel = relpath(fd, path, sizeof path)) != NULL)
			record_dir(rel, 0, 0, 0);
	} else if (S_ISREG(mode)) {
		i = lookup(&k, 1);
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
		if ((rfd = raw_open(p, O_RDONLY)) != -1) {
			record_inode(i, rfd, size, mtime);
			raw_close(rfd);
		}
	}
	pthread_mutex_unlock(&lk);
out:
	errno = saved;
}

/* Everything under the root is being synced. */
static void
synced_all(void)
{
	int	saved = errno;

	if (logfd == -1 || !rootdev_known())
		goto out;
	pthread_mutex_lock(&lk);
	record_dir("", 1, 0, 1);
	pthread_mutex_unlock(&lk);
out:
	errno = saved;
}

__attribute__((constructor)) static void
powercut_init(void)
{
	const char	*r = getenv("PCUT_ROOT"), *l = getenv("PCUT_LOG");
	struct stat	 sb;

	if (r == NULL || l == NULL || *r != '/')
		return;
	if (strlen(r) >= sizeof root)
		return;
	strcpy(root, r);
	while ((rootlen = strlen(root)) > 1 && root[rootlen - 1] == '/')
		root[rootlen - 1] = '\0';
	if ((logfd = raw_open(l, O_WRONLY | O_APPEND | O_CREAT)) == -1)
		die(l);
	/* The state at start is durable, whole. */
	if (stat(root, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		rootdev = sb.st_dev;
		record_dir("", 1, 1, 1);
	}
}

/* --- the wrappers --------------------------------------------------------- */

#define REAL(ret, name, ...)						\
	static ret (*real_##name)(__VA_ARGS__);				\
	if (real_##name == NULL &&					\
	    (real_##name = dlsym(RTLD_NEXT, #name)) == NULL) {		\
		errno = ENOSYS;						\
		return (-1);						\
	}

/* The offset a write without one went to: where the file is now, less n. */
static uint64_t
pos_before(int fd, ssize_t n)
{
	off_t	at = lseek(fd, 0, SEEK_CUR);

	return (at < n ? 0 : (uint64_t)(at - n));
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	ssize_t	rc;

	REAL(ssize_t, write, int, const void *, size_t);
	if ((rc = real_write(fd, buf, n)) > 0)
		wrote(fd, pos_before(fd, rc), (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t	rc;

	REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
	if ((rc = real_pwrite(fd, buf, n, off)) > 0)
		wrote(fd, (uint64_t)off, (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t	rc;

	REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
	if ((rc = real_pwrite64(fd, buf, n, off)) > 0)
		wrote(fd, (uint64_t)off, (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t	rc;

	REAL(ssize_t, writev, int, const struct iovec *, int);
	if ((rc = real_writev(fd, iov, cnt)) > 0)
		wrote(fd, pos_before(fd, rc), (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t	rc;

	REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
	if ((rc = real_pwritev(fd, iov, cnt, off)) > 0)
		wrote(fd, (uint64_t)off, (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t	rc;

	REAL(ssize_t, pwritev64, int, const struct iovec *, int, off_t);
	if ((rc = real_pwritev64(fd, iov, cnt, off)) > 0)
		wrote(fd, (uint64_t)off, (uint64_t)rc, 0, 0);
	return (rc);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	ssize_t	rc;

	REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int);
	if ((rc = real_pwritev2(fd, iov, cnt, off, flags)) > 0)
		wrote(fd, off == -1 ? pos_before(fd, rc) : (uint64_t)off,
		    (uint64_t)rc, 0, (flags & (RWF_DSYNC | RWF_SYNC)) != 0);
	return (rc);
}

ssize_t
pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	ssize_t	rc;

	REAL(ssize_t, pwritev64v2, int, const struct iovec *, int, off_t, int);
	if ((rc = real_pwritev64v2(fd, iov, cnt, off, flags)) > 0)
		wrote(fd, off == -1 ? pos_before(fd, rc) : (uint64_t)off,
		    (uint64_t)rc, 0, (flags & (RWF_DSYNC | RWF_SYNC)) != 0);
	return (rc);
}

int
ftruncate(int fd, off_t len)
{
	int	rc;

	REAL(int, ftruncate, int, off_t);
	if ((rc = real_ftruncate(fd, len)) == 0)
		wrote(fd, (uint64_t)len, 0, 1, 0);
	return (rc);
}

int
ftruncate64(int fd, off_t len)
{
	int	rc;

	REAL(int, ftruncate64, int, off_t);
	if ((rc = real_ftruncate64(fd, len)) == 0)
		wrote(fd, (uint64_t)len, 0, 1, 0);
	return (rc);
}

/* An allocation can grow the file (zeros): a range of its own. */
int
fallocate(int fd, int mode, off_t off, off_t len)
{
	int	rc;

	REAL(int, fallocate, int, int, off_t, off_t);
	if ((rc = real_fallocate(fd, mode, off, len)) == 0)
		wrote(fd, (uint64_t)off, (uint64_t)len, 0, 0);
	return (rc);
}

int
fallocate64(int fd, int mode, off_t off, off_t len)
{
	int	rc;

	REAL(int, fallocate64, int, int, off_t, off_t);
	if ((rc = real_fallocate64(fd, mode, off, len)) == 0)
		wrote(fd, (uint64_t)off, (uint64_t)len, 0, 0);
	return (rc);
}

int
posix_fallocate(int fd, off_t off, off_t len)
{
	int	rc;

	REAL(int, posix_fallocate, int, off_t, off_t);
	if ((rc = real_posix_fallocate(fd, off, len)) == 0)
		wrote(fd, (uint64_t)off, (uint64_t)len, 0, 0);
	return (rc);
}

int
posix_fallocate64(int fd, off_t off, off_t len)
{
	int	rc;

	REAL(int, posix_fallocate64, int, off_t, off_t);
	if ((rc = real_posix_fallocate64(fd, off, len)) == 0)
		wrote(fd, (uint64_t)off, (uint64_t)len, 0, 0);
	return (rc);
}

int
fsync(int fd)
{
	REAL(int, fsync, int);
	synced(fd);
	return (real_fsync(fd));
}

int
fdatasync(int fd)
{
	REAL(int, fdatasync, int);
	synced(fd);
	return (real_fdatasync(fd));
}

int
syncfs(int fd)
{
	REAL(int, syncfs, int);
	synced_all();
	return (real_syncfs(fd));
}

void
sync(void)
{
	static void	(*real_sync)(void);

	if (real_sync == NULL && (real_sync = dlsym(RTLD_NEXT, "sync")) ==
	    NULL)
		return;
	synced_all();
	real_sync();
}
