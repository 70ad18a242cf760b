/*
 * exclvfs.h: the VFS under tenantd's tenant VFS (exclvfs.c): unix-excl's
 * locking for database and WAL files, without its list of open files.
 * Self-contained (SQLite and libc only), so that bench/floor.c opens files
 * the way the daemon does.
 */
#ifndef EXCLVFS_H
#define EXCLVFS_H

#include <stddef.h>

#define EXCL_VFS	"tenantd-excl"

int	exclvfs_init(void);		/* register EXCL_VFS (not default) */
size_t	exclvfs_open_files(void);	/* database files open (tests) */

/*
 * This thread's opens and reads of database and WAL files from what the
 * kernel has cached only, failing where they would wait for the disk
 * (on: 1; clears the blocked flag); exclvfs_blocked() says one did.
 * A system without openat2's RESOLVE_CACHED or RWF_NOWAIT (an old
 * kernel, a seccomp filter, valgrind) fails every such open the same
 * way; exclvfs_nowait_works() turns 0 at its first refusal.
 */
void	exclvfs_nowait(int);
int	exclvfs_blocked(void);
int	exclvfs_nowait_works(void);	/* 0 once the system refused it */

/* WAL indexes kept for files no connection has open (exclvfs.c). */
struct exclvfs_kept {
	size_t		count;		/* kept now */
	size_t		bytes;
	unsigned long long reused;	/* taken over by a reopen */
	unsigned long long stale;	/* dropped: a file changed meanwhile */
};
void	exclvfs_kept_stats(struct exclvfs_kept *);
void	exclvfs_kept_clear(void);

#endif
