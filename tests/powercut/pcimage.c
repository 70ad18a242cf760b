/*
 * pcimage: build the tree a power cut would have left, from the record
 * log powercut.so wrote (pcrec.h).
 *
 *	pcimage LOG OUT
 *
 * OUT must not exist; it is made.  Every folder holds the entries of its
 * last recorded sync (none if it was never synced since it was made),
 * every file the bytes and size of its syncs, in order.  A torn record
 * (the kill came while it was written) ends the log: its sync never
 * returned.  Prints one line: the records used and whether the log ended
 * on a torn one.  Exit 0, or 1 on an error of its own.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcrec.h"

struct dirrec {
	char		*rel;
	unsigned char	*ents;
	size_t		 elen;
	struct dirrec	*next;
};

static struct dirrec	*dirs;
static char		 store[PATH_MAX / 2];

static void
fail(const char *what)
{
	fprintf(stderr, "pcimage: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
store_path(const struct pcrec_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%llu-%lld-%u", store,
	    (unsigned long long)k->ino, (long long)k->bsec, k->bnsec);
}

static int
store_open(const struct pcrec_key *k)
{
	char	p[PATH_MAX];
	int	fd;

	store_path(k, p, sizeof p);
	if ((fd = open(p, O_RDWR | O_CREAT, 0600)) == -1)
		fail(p);
	return (fd);
}

static void
apply(uint32_t type, const unsigned char *p, uint64_t len)
{
	static const unsigned char	 zeros[65536];
	struct pcrec_key		 k;
	struct dirrec			*d;
	uint64_t			 off, n, w;
	size_t				 rl;
	int				 fd;

	if (type == PCREC_DIR) {
		rl = strnlen((const char *)p, len);
		if (rl == len)
			return;
		for (d = dirs; d != NULL; d = d->next)
			if (strcmp(d->rel, (const char *)p) == 0)
				break;
		if (d == NULL) {
			if ((d = calloc(1, sizeof *d)) == NULL ||
			    (d->rel = strdup((const char *)p)) == NULL)
				fail("malloc");
			d->next = dirs;
			dirs = d;
		}
		free(d->ents);
		d->elen = len - rl - 1;
		if ((d->ents = malloc(d->elen + 1)) == NULL)
			fail("malloc");
		memcpy(d->ents, p + rl + 1, d->elen);
		return;
	}
	if (len < sizeof k + 8)
		return;
	memcpy(&k, p, sizeof k);
	memcpy(&off, p + sizeof k, 8);
	fd = store_open(&k);
	switch (type) {
	case PCREC_DATA:
		if (pwrite(fd, p + sizeof k + 8, len - sizeof k - 8,
		    (off_t)off) != (ssize_t)(len - sizeof k - 8))
			fail("pwrite");
		break;
	case PCREC_ZERO:
		if (len < sizeof k + 16)
			break;
		memcpy(&n, p + sizeof k + 8, 8);
		for (; n > 0; n -= w, off += w) {
			w = n < sizeof zeros ? n : sizeof zeros;
			if (pwrite(fd, zeros, w, (off_t)off) != (ssize_t)w)
				fail("pwrite");
		}
		break;
	case PCREC_SIZE:
		if (ftruncate(fd, (off_t)off) == -1)	/* off: the size */
			fail("ftruncate");
		break;
	}
	close(fd);
}

static void
copy_file(const struct pcrec_key *k, const char *to)
{
	char	from[PATH_MAX], buf[65536];
	ssize_t	n;
	int	in, out;

	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		fail(to);
	store_path(k, from, sizeof from);
	if ((in = open(from, O_RDONLY)) != -1) {
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				fail(to);
		close(in);
	}
	close(out);
}

static void
build(const char *out, const char *rel)
{
	struct dirrec		*d;
	struct pcrec_key	 k;
	const unsigned char	*e, *end;
	char			 path[PATH_MAX], sub[PATH_MAX];
	const char		*name;
	unsigned char		 type;

	for (d = dirs; d != NULL; d = d->next)
		if (strcmp(d->rel, rel) == 0)
			break;
	if (d == NULL)
		return;
	for (e = d->ents, end = d->ents + d->elen; e + 1 + sizeof k < end;) {
		type = e[0];
		memcpy(&k, e + 1, sizeof k);
		name = (const char *)e + 1 + sizeof k;
		e += 1 + sizeof k + strnlen(name, (size_t)(end - e) -
		    1 - sizeof k) + 1;
		snprintf(path, sizeof path, "%s/%s%s%s", out, rel,
		    *rel ? "/" : "", name);
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", name);
		if (type == 'd') {
			if (mkdir(path, 0750) == -1)
				fail(path);
			build(out, sub);
		} else if (type == 'f')
			copy_file(&k, path);
	}
}

int
main(int argc, char *argv[])
{
	struct pcrec_hdr	 h;
	unsigned char		*p = NULL;
	size_t			 cap = 0;
	unsigned long		 nrec = 0;
	struct dirrec		*d;
	size_t			 got;
	int			 torn = 0;
	DIR			*sd;
	struct dirent		*de;
	char			 sp[PATH_MAX];	/* store, '/', a name */
	FILE			*f;

	if (argc != 3) {
		fprintf(stderr, "usage: pcimage LOG OUT\n");
		return (1);
	}
	if ((f = fopen(argv[1], "r")) == NULL)
		fail(argv[1]);
	if (mkdir(argv[2], 0750) == -1)
		fail(argv[2]);
	snprintf(store, sizeof store, "%s.store", argv[2]);
	if (mkdir(store, 0700) == -1)
		fail(store);
	for (;;) {
		if ((got = fread(&h, 1, sizeof h, f)) != sizeof h) {
			if (ferror(f))
				fail(argv[1]);
			torn = got != 0;	/* a partial header */
			break;
		}
		if (h.magic != PCREC_MAGIC || h.len > (1u << 30)) {
			torn = 1;
			break;
		}
		if (h.len > cap) {
			cap = h.len;
			if ((p = realloc(p, cap)) == NULL)
				fail("malloc");
		}
		if (fread(p, 1, h.len, f) != h.len ||
		    pcrec_sum(h.type, p, h.len) != h.sum) {
			torn = 1;
			break;
		}
		apply(h.type, p, h.len);
		nrec++;
	}
	fclose(f);
	free(p);
	build(argv[2], "");
	while ((d = dirs) != NULL) {
		dirs = d->next;
		free(d->rel);
		free(d->ents);
		free(d);
	}
	/* The store is flat: its files, then itself. */
	if ((sd = opendir(store)) == NULL)
		fail(store);
	while ((de = readdir(sd)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sp, sizeof sp, "%s/%s", store, de->d_name);
		if (unlink(sp) == -1)
			fail(sp);
	}
	closedir(sd);
	if (rmdir(store) == -1)
		fail(store);
	printf("pcimage: %lu records%s\n", nrec,
	    torn ? ", then a torn one" : "");
	return (0);
}
