/*
 * sqlmem.c: SQLite's allocator, with one pool for the unix VFS's inode
 * records.
 *
 * Only with --shared-files, where tenant files go through SQLite's unix
 * VFS: by default they go through exclvfs.c, which finds a file's record
 * in a hash table, and SQLite's list holds no tenant file.
 *
 * SQLite's unix VFS keeps one record per open file (struct unixInodeInfo)
 * in a linked list, and walks the whole list twice on every open
 * (findReusableFd, findInodeInfo).  With 10,000 tenants open that is
 * 20,000 records (database and WAL), each allocated wherever malloc had
 * room in a heap of hundreds of MiB: every step of the walk missed the
 * caches and the TLB, about 2.4 ms of CPU per cache miss of ours, 23% of
 * all CPU in a Zipf select over 10,000 tenants (bench/README.md).  Here
 * the records come from one compact pool instead, so the walk reads a
 * few MiB in order.
 *
 * SQLite does not say which allocation is that record, so sqlmem_probe()
 * finds its size once at start: it opens a scratch database with the
 * tenant VFS while watching allocations, and looks for the live block
 * that starts with the file's device and inode numbers (the record's
 * first field).  If none is found, nothing is pooled and SQLite gets
 * plain malloc.  Every other allocation is malloc's, as before.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

#define POOL_RESERVE	((size_t)512 << 20)	/* address space, not memory */
#define PROBE_MAX	4096

static unsigned char	*pool;		/* reserved range */
static size_t		 pool_used;	/* bump offset */
static size_t		 pool_slot;	/* slot size (the record's, rounded) */
static size_t		 pool_size;	/* the request size pooled; 0: off */
static void		*pool_free;	/* freed slots, each holds the next */
static pthread_mutex_t	 pool_mtx = PTHREAD_MUTEX_INITIALIZER;

static int		 probing;
static struct {
	void	*p;
	int	 n;
}			 probed[PROBE_MAX];
static int		 nprobed;

static int
in_pool(const void *p)
{
	return (pool != NULL && (const unsigned char *)p >= pool &&
	    (const unsigned char *)p < pool + POOL_RESERVE);
}

static void *
pool_get(void)
{
	void	*p;

	pthread_mutex_lock(&pool_mtx);
	if ((p = pool_free) != NULL)
		pool_free = *(void **)p;
	else if (pool_used + pool_slot <= POOL_RESERVE) {
		p = pool + pool_used;
		pool_used += pool_slot;
	}
	pthread_mutex_unlock(&pool_mtx);
	return (p);	/* NULL when the range is used up: malloc serves */
}

static void
pool_put(void *p)
{
	pthread_mutex_lock(&pool_mtx);
	*(void **)p = pool_free;
	pool_free = p;
	pthread_mutex_unlock(&pool_mtx);
}

static void *
mem_malloc(int n)
{
	void	*p;

	if (pool_size != 0 && (size_t)n == pool_size && (p = pool_get()) != NULL)
		return (p);
	p = malloc((size_t)n);
	if (probing && p != NULL && nprobed < PROBE_MAX) {
		probed[nprobed].p = p;
		probed[nprobed].n = n;
		nprobed++;
	}
	return (p);
}

static void
mem_free(void *p)
{
	int	i;

	if (in_pool(p)) {
		pool_put(p);
		return;
	}
	if (probing)
		for (i = 0; i < nprobed; i++)
			if (probed[i].p == p)
				probed[i].p = NULL;
	free(p);
}

static int
mem_size(void *p)
{
	if (in_pool(p))
		return ((int)pool_size);
	return ((int)malloc_usable_size(p));
}

static void *
mem_realloc(void *p, int n)
{
	void	*q;

	if (!in_pool(p))
		return (realloc(p, (size_t)n));
	if ((size_t)n <= pool_size)
		return (p);
	if ((q = malloc((size_t)n)) == NULL)
		return (NULL);
	memcpy(q, p, pool_size);
	pool_put(p);
	return (q);
}

static int
mem_roundup(int n)
{
	return (n);
}

static int
mem_init(void *arg)
{
	return (SQLITE_OK);
}

static void
mem_shutdown(void *arg)
{
}

static const sqlite3_mem_methods mem_methods = {
	mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init,
	mem_shutdown, NULL
};

/* Install the allocator.  Before sqlite3_initialize(). */
int
sqlmem_init(void)
{
	return (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem_methods) ==
	    SQLITE_OK ? 0 : -1);
}

/*
 * Find the size of the VFS's inode record by opening dir/probe.db with
 * the tenant VFS, and pool it.  At start, before any other thread uses
 * SQLite.  Returns the size pooled, or 0 (then nothing is).
 */
size_t
sqlmem_probe(const char *dir)
{
	struct stat	 st;
	sqlite3		*db = NULL;
	char		 path[1100];
	uint64_t	 key[2];
	int		 i;
	size_t		 found = 0;

	snprintf(path, sizeof path, "%s/probe.db", dir);
	unlink(path);
	probing = 1;
	nprobed = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, TENANT_VFS) == SQLITE_OK &&
	    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) ==
	    SQLITE_OK && stat(path, &st) == 0) {
		key[0] = (uint64_t)st.st_dev;
		key[1] = (uint64_t)st.st_ino;
		for (i = 0; i < nprobed && found == 0; i++)
			if (probed[i].p != NULL &&
			    (size_t)probed[i].n >= sizeof key &&
			    memcmp(probed[i].p, key, sizeof key) == 0)
				found = (size_t)probed[i].n;
	}
	probing = 0;
	sqlite3_close(db);
	unlink(path);
	if (found == 0 || found > 512)
		return (0);
	pool = mmap(NULL, POOL_RESERVE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool == MAP_FAILED) {
		pool = NULL;
		return (0);
	}
	pool_slot = (found + 15) & ~(size_t)15;
	pool_size = found;
	return (found);
}
