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
 */
#include "config.h"

#include <string.h>

#include "tenantd.h"

static sqlite3_vfs	 tenant_vfs;
static sqlite3_vfs	*base_vfs;

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	return (base_vfs->xOpen(base_vfs, name, file, flags, out_flags));
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
	tenant_vfs.zName = TENANT_VFS;
	tenant_vfs.xOpen = vfs_open;
	tenant_vfs.xFullPathname = vfs_full_pathname;
	return (sqlite3_vfs_register(&tenant_vfs, 0) == SQLITE_OK ? 0 : -1);
}
