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

#endif
