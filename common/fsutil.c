/*
 * fsutil.c: making file system changes durable.  Any thread.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* fsync path (a folder if dir); 0, or -1 with errno. */
int
fsync_path(const char *path, int dir)
{
	int	fd, rc, saved;

	if ((fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY |
	    O_CLOEXEC)) == -1)
		return (-1);
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return (rc);
}

/*
 * The folder that holds path, into dir (size bytes): 1, or 0 when path
 * has no folder part, or -1 (ENAMETOOLONG).
 */
static int
parent_of(const char *path, char *dir, size_t size)
{
	char	*slash;

	if (strlcpy_x(dir, path, size) >= size) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		return (0);
	*slash = '\0';
	return (1);
}

/* fsync the folder that holds path (an entry was added or removed). */
int
fsync_parent(const char *path)
{
	char	dir[1024];
	int	rc;

	if ((rc = parent_of(path, dir, sizeof dir)) <= 0)
		return (rc);
	return (fsync_path(dir[0] != '\0' ? dir : "/", 1));
}

/*
 * Make sure the folder that holds path exists, durably: when it is made
 * here, its own parent is fsynced so that the new entry survives a crash.
 * 0, or -1 with errno (from mkdir or from the fsync).
 */
int
mkdir_parent(const char *path, mode_t mode)
{
	char	dir[1024];
	int	rc;

	if ((rc = parent_of(path, dir, sizeof dir)) <= 0)
		return (rc);
	if (mkdir(dir, mode) == -1)
		return (errno == EEXIST ? 0 : -1);
	return (fsync_parent(dir));
}
