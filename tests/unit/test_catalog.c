/*
 * test_catalog.c: unit tests for tenantd/catalog.c (the LMDB catalog).
 *
 * The catalog decides which tenants exist, so these tests check what the
 * admin API and crash recovery would see: records come back field for
 * field, create-if-absent refuses a taken id, deletes are real, listing is
 * ordered and pages without gaps or repeats, the pending set is exactly
 * the tenants caught mid-create or mid-delete, the per-schema counts
 * follow migrations, and everything survives a close and reopen.  Lazy
 * creation: records written before the materialized flag existed read as
 * materialized, a batch of creates commits together with one answer per
 * record, and marking a file made moves the (schema, version) index.
 *
 * Each test opens its own catalog in a folder under one mkdtemp folder
 * ($TMPDIR or /tmp), removed at the end.  Single-threaded.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"
#include "tap.h"

static char	tmp[1024];	/* short enough for tmp + a name in PATH_MAX */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open a fresh catalog in tmp/name; bails out of the whole run if not. */
static struct catalog *
open_fresh(const char *name)
{
	struct catalog	*c = NULL;
	char		 dir[PATH_MAX], err[256];

	snprintf(dir, sizeof dir, "%s/%s", tmp, name);
	if (catalog_open(dir, &c, err, sizeof err) != 0) {
		printf("Bail out! catalog_open %s: %s\n", dir, err);
		rm_tree(tmp);
		exit(1);
	}
	return (c);
}

static void
rec_set(struct tenant_rec *r, const char *id, const char *schema,
    int version, int state)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", id);
	snprintf(r->schema, sizeof r->schema, "%s", schema);
	r->version = version;
	r->state = state;
	r->created = 1700000000000LL;
	r->updated = 1700000000000LL;
}

static int
put(struct catalog *c, const char *id, const char *schema, int version,
    int state)
{
	struct tenant_rec	r;

	rec_set(&r, id, schema, version, state);
	return (catalog_put(c, &r, 0));
}

static size_t
count_schema(struct catalog *c, const char *schema, int version)
{
	size_t	n = (size_t)-1;

	if (catalog_count_schema(c, schema, version, &n) != CATALOG_OK)
		return ((size_t)-1);
	return (n);
}

static void
test_roundtrip(void)
{
	struct catalog		*c = open_fresh("roundtrip");
	struct tenant_rec	 r, got;
	char			 longschema[MIGRATE_NAME_MAX + 1];

	rec_set(&r, "alice", "app", 7, TENANT_CREATING);
	r.created = 1700000000123LL;
	r.updated = 1700000009999LL;
	snprintf(r.last_error, sizeof r.last_error,
	    "migration 0003: near \"FROM\": syntax error");
	is_int(catalog_put(c, &r, CATALOG_NOOVERWRITE), CATALOG_OK,
	    "put alice");

	memset(&got, 0xa5, sizeof got);
	is_int(catalog_get(c, "alice", 5, &got), CATALOG_OK, "get alice");
	is_str(got.id, "alice", "get: id");
	is_str(got.schema, "app", "get: schema");
	is_int(got.version, 7, "get: version");
	is_int(got.state, TENANT_CREATING, "get: state");
	is_int(got.created, 1700000000123LL, "get: created");
	is_int(got.updated, 1700000009999LL, "get: updated");
	is_str(got.last_error, "migration 0003: near \"FROM\": syntax error",
	    "get: last_error");

	/* Extremes of every field, and the longest strings that fit. */
	memset(longschema, 's', MIGRATE_NAME_MAX);
	longschema[MIGRATE_NAME_MAX] = '\0';
	rec_set(&r, "bob", longschema, 2147483647, TENANT_FAILED);
	r.created = -1;
	r.updated = INT64_MAX;
	memset(r.last_error, 'e', sizeof r.last_error - 1);
	r.last_error[sizeof r.last_error - 1] = '\0';
	is_int(catalog_put(c, &r, 0), CATALOG_OK, "put bob (extremes)");
	is_int(catalog_get(c, "bob", 3, &got), CATALOG_OK, "get bob");
	is_str(got.schema, longschema, "get: 64-char schema");
	is_int(got.version, 2147483647, "get: version INT32_MAX");
	is_int(got.state, TENANT_FAILED, "get: state failed");
	is_int(got.created, -1, "get: negative created");
	is_int(got.updated, INT64_MAX, "get: updated INT64_MAX");
	is_int(strlen(got.last_error), sizeof r.last_error - 1,
	    "get: 511-char last_error kept whole");

	/* No schema at all. */
	rec_set(&r, "carol", "", 0, TENANT_ACTIVE);
	is_int(catalog_put(c, &r, 0), CATALOG_OK, "put carol (no schema)");
	ok(catalog_get(c, "carol", 5, &got) == CATALOG_OK &&
	    got.schema[0] == '\0' && got.version == 0 &&
	    got.last_error[0] == '\0', "get carol: empty schema and error");

	/* Exact-key lookup: a prefix or a longer id is another tenant. */
	is_int(catalog_get(c, "alic", 4, &got), CATALOG_NOTFOUND,
	    "get alic (prefix of alice): NOTFOUND");
	is_int(catalog_get(c, "alicex", 6, &got), CATALOG_NOTFOUND,
	    "get alicex: NOTFOUND");
	is_int(catalog_get(c, "alice!!", 5, &got), CATALOG_OK,
	    "get uses len, not the NUL");
	is_int(catalog_get(c, "", 0, &got), CATALOG_NOTFOUND,
	    "get empty id: NOTFOUND");

	/* Create-if-absent must not touch the existing record. */
	rec_set(&r, "alice", "other", 1, TENANT_ACTIVE);
	is_int(catalog_put(c, &r, CATALOG_NOOVERWRITE), CATALOG_EXISTS,
	    "NOOVERWRITE on alice: EXISTS");
	ok(catalog_get(c, "alice", 5, &got) == CATALOG_OK &&
	    strcmp(got.schema, "app") == 0 && got.version == 7 &&
	    got.state == TENANT_CREATING, "alice unchanged after EXISTS");
	is_int(count_schema(c, "other", -1), 0,
	    "EXISTS left no index entry behind");

	/* Plain put replaces. */
	rec_set(&r, "alice", "app", 8, TENANT_ACTIVE);
	is_int(catalog_put(c, &r, 0), CATALOG_OK, "overwrite alice");
	ok(catalog_get(c, "alice", 5, &got) == CATALOG_OK &&
	    got.version == 8 && got.state == TENANT_ACTIVE &&
	    got.last_error[0] == '\0', "alice replaced, old error gone");
	is_int(catalog_count(c), 3, "count: 3 tenants");

	/* Delete. */
	is_int(catalog_del(c, "alice"), CATALOG_OK, "del alice");
	is_int(catalog_get(c, "alice", 5, &got), CATALOG_NOTFOUND,
	    "get after del: NOTFOUND");
	is_int(catalog_del(c, "alice"), CATALOG_NOTFOUND,
	    "del alice again: NOTFOUND");
	is_int(catalog_del(c, "nobody"), CATALOG_NOTFOUND,
	    "del missing: NOTFOUND");
	is_int(count_schema(c, "app", -1), 0, "del removed the index entry");
	is_int(catalog_count(c), 2, "count: 2 tenants");
	is_int(catalog_put(c, &r, CATALOG_NOOVERWRITE), CATALOG_OK,
	    "id can be created again after del");

	catalog_close(c);
}

/* 1 if recs are exactly the ids in want, in that order. */
static int
ids_are(const struct tenant_rec *recs, size_t n, const char **want)
{
	size_t	i;

	for (i = 0; want[i] != NULL; i++) {
		if (i >= n || strcmp(recs[i].id, want[i]) != 0)
			return (0);
	}
	return (i == n);
}

static void
show(const struct tenant_rec *recs, size_t n)
{
	size_t	i;

	printf("#   got:");
	for (i = 0; i < n; i++)
		printf(" %s", recs[i].id);
	printf("\n");
}

static void
check_list(struct catalog *c, const char *prefix, const char *after,
    int limit, const char **want, int want_more, const char *name)
{
	struct tenant_rec	*recs = NULL;
	size_t			 n = 0;
	int			 more = -1, rc, good;

	rc = catalog_list(c, prefix, after, limit, &recs, &n, &more);
	good = rc == CATALOG_OK && ids_are(recs, n, want) && more == want_more;
	ok(good, "list %s", name);
	if (!good) {
		show(recs, n);
		printf("#   rc %d more %d\n", rc, more);
	}
	free(recs);
}

static void
test_list(void)
{
	struct catalog	*c = open_fresh("list");
	/* Inserted out of order; byte order is what listing promises. */
	const char	*ids[] = { "ba", "a2", "B", "b", "ab", "a1", "b1",
			    "c", "a", "b.x", "b-y", NULL };
	size_t		 i;

	for (i = 0; ids[i] != NULL; i++)
		put(c, ids[i], "app", 1, TENANT_ACTIVE);

	check_list(c, NULL, NULL, 100, (const char *[]){ "B", "a", "a1", "a2",
	    "ab", "b", "b-y", "b.x", "b1", "ba", "c", NULL }, 0,
	    "all, byte order");
	check_list(c, "", "", 100, (const char *[]){ "B", "a", "a1", "a2",
	    "ab", "b", "b-y", "b.x", "b1", "ba", "c", NULL }, 0,
	    "empty prefix and after mean none");
	check_list(c, "b", NULL, 100, (const char *[]){ "b", "b-y", "b.x",
	    "b1", "ba", NULL }, 0, "prefix b");
	check_list(c, "a", NULL, 100, (const char *[]){ "a", "a1", "a2", "ab",
	    NULL }, 0, "prefix a");
	check_list(c, "B", NULL, 100, (const char *[]){ "B", NULL }, 0,
	    "prefix B is case-sensitive");
	check_list(c, "a1", NULL, 100, (const char *[]){ "a1", NULL }, 0,
	    "prefix equal to a whole id");
	check_list(c, "zz", NULL, 100, (const char *[]){ NULL }, 0,
	    "prefix past every id");
	check_list(c, "bb", NULL, 100, (const char *[]){ NULL }, 0,
	    "prefix between ids");
	check_list(c, NULL, NULL, 3, (const char *[]){ "B", "a", "a1", NULL },
	    1, "limit 3 sets more");
	check_list(c, NULL, NULL, 11, (const char *[]){ "B", "a", "a1", "a2",
	    "ab", "b", "b-y", "b.x", "b1", "ba", "c", NULL }, 0,
	    "limit equal to count: more 0");
	check_list(c, NULL, "a2", 3, (const char *[]){ "ab", "b", "b-y", NULL },
	    1, "after a2 is strictly after");
	check_list(c, NULL, "a3", 100, (const char *[]){ "ab", "b", "b-y",
	    "b.x", "b1", "ba", "c", NULL }, 0, "after an absent id");
	check_list(c, NULL, "c", 100, (const char *[]){ NULL }, 0,
	    "after the last id");
	check_list(c, "b", "b.x", 100, (const char *[]){ "b1", "ba", NULL }, 0,
	    "prefix b after b.x");
	check_list(c, "b", "a", 2, (const char *[]){ "b", "b-y", NULL }, 1,
	    "prefix b after a (after sorts before prefix)");
	check_list(c, "b", "b", 100, (const char *[]){ "b-y", "b.x", "b1",
	    "ba", NULL }, 0, "prefix b after b");
	check_list(c, "a", "b", 100, (const char *[]){ NULL }, 0,
	    "prefix a after b: nothing");
	check_list(c, "b", "b1", 1, (const char *[]){ "ba", NULL }, 0,
	    "prefix b, last page of one: more 0 though c follows");

	{
		struct tenant_rec	*recs = (void *)1;
		size_t			 n = 9;
		int			 more = 9;

		ok(catalog_list(c, NULL, NULL, 0, &recs, &n, &more) ==
		    CATALOG_OK && n == 0 && more == 0,
		    "list limit 0: nothing");
		free(recs);
	}
	catalog_close(c);
}

static void
test_paging(void)
{
	struct catalog		*c = open_fresh("paging");
	struct tenant_rec	*recs;
	char			 id[32], after[TID_MAX + 1];
	unsigned char		 seen[250];
	size_t			 n, i, pages[8];
	int			 more, mores[8], npages = 0, dup = 0, bad = 0;
	int			 k, sorted = 1;

	/* Insert in a scrambled order (73 is coprime with 250). */
	for (i = 0; i < 250; i++) {
		snprintf(id, sizeof id, "t%03zu", (i * 73) % 250);
		put(c, id, "app", 1, TENANT_ACTIVE);
	}
	memset(seen, 0, sizeof seen);
	after[0] = '\0';
	do {
		if (catalog_list(c, NULL, after[0] ? after : NULL, 100, &recs,
		    &n, &more) != CATALOG_OK)
			break;
		pages[npages] = n;
		mores[npages] = more;
		npages++;
		for (i = 0; i < n; i++) {
			if (sscanf(recs[i].id, "t%d", &k) != 1 || k < 0 ||
			    k >= 250)
				bad++;
			else if (seen[k]++)
				dup++;
			if (i > 0 && strcmp(recs[i - 1].id, recs[i].id) >= 0)
				sorted = 0;
			if (after[0] && strcmp(after, recs[i].id) >= 0)
				sorted = 0;
		}
		if (n > 0)
			snprintf(after, sizeof after, "%s", recs[n - 1].id);
		free(recs);
	} while (more && npages < 8);

	is_int(npages, 3, "paging 250 by 100: 3 pages");
	ok(npages == 3 && pages[0] == 100 && pages[1] == 100 &&
	    pages[2] == 50, "paging: sizes 100, 100, 50");
	ok(npages == 3 && mores[0] == 1 && mores[1] == 1 && mores[2] == 0,
	    "paging: more 1, 1, 0");
	for (i = 0, k = 0; i < 250; i++)
		if (seen[i] == 1)
			k++;
	is_int(k, 250, "paging: every id seen");
	is_int(dup, 0, "paging: no id seen twice");
	is_int(bad, 0, "paging: no foreign ids");
	ok(sorted, "paging: ascending within and across pages");
	catalog_close(c);
}

/* 1 if the pending set is exactly the ids in want (any order). */
static int
pending_is(struct catalog *c, const char **want)
{
	struct tenant_rec	*recs = NULL;
	size_t			 n = 0, i, j, nwant = 0;
	int			 good = 1;

	if (catalog_pending(c, &recs, &n) != CATALOG_OK)
		return (0);
	while (want[nwant] != NULL)
		nwant++;
	if (n != nwant)
		good = 0;
	for (i = 0; good && i < nwant; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(recs[j].id, want[i]) == 0)
				break;
		if (j == n)
			good = 0;
	}
	if (!good)
		show(recs, n);
	free(recs);
	return (good);
}

static void
test_pending(void)
{
	struct catalog		*c = open_fresh("pending");
	struct tenant_rec	*recs;
	size_t			 n;

	ok(catalog_pending(c, &recs, &n) == CATALOG_OK && n == 0,
	    "pending: empty catalog");
	free(recs);

	put(c, "new1", "app", 1, TENANT_CREATING);
	put(c, "new2", "app", 1, TENANT_CREATING);
	put(c, "live", "app", 1, TENANT_ACTIVE);
	put(c, "gone", "app", 1, TENANT_DELETING);
	put(c, "bust", "app", 1, TENANT_FAILED);
	ok(pending_is(c, (const char *[]){ "new1", "new2", "gone", NULL }),
	    "pending: creating and deleting only");

	if (catalog_pending(c, &recs, &n) == CATALOG_OK) {
		size_t	i;
		int	good = 1;

		for (i = 0; i < n; i++) {
			if (strcmp(recs[i].id, "gone") == 0)
				good &= recs[i].state == TENANT_DELETING;
			else
				good &= recs[i].state == TENANT_CREATING &&
				    strcmp(recs[i].schema, "app") == 0;
		}
		ok(good, "pending: full records with their states");
		free(recs);
	}

	put(c, "new1", "app", 1, TENANT_ACTIVE);
	ok(pending_is(c, (const char *[]){ "new2", "gone", NULL }),
	    "pending: creating -> active leaves the set");
	put(c, "new2", "app", 1, TENANT_FAILED);
	ok(pending_is(c, (const char *[]){ "gone", NULL }),
	    "pending: creating -> failed leaves the set");
	put(c, "live", "app", 1, TENANT_DELETING);
	ok(pending_is(c, (const char *[]){ "gone", "live", NULL }),
	    "pending: active -> deleting joins the set");
	catalog_del(c, "gone");
	ok(pending_is(c, (const char *[]){ "live", NULL }),
	    "pending: del leaves the set");
	catalog_close(c);
}

static void
test_count_schema(void)
{
	struct catalog	*c = open_fresh("schema");
	size_t		 n;

	put(c, "t1", "app", 1, TENANT_ACTIVE);
	put(c, "t2", "app", 1, TENANT_ACTIVE);
	put(c, "t3", "app", 2, TENANT_ACTIVE);
	put(c, "t4", "app2", 1, TENANT_ACTIVE);
	put(c, "t5", "ap", 1, TENANT_ACTIVE);
	put(c, "t6", "", 0, TENANT_ACTIVE);
	put(c, "t7", "app", 256, TENANT_ACTIVE);

	is_int(count_schema(c, "app", 1), 2, "count app v1");
	is_int(count_schema(c, "app", 2), 1, "count app v2");
	is_int(count_schema(c, "app", 256), 1, "count app v256");
	is_int(count_schema(c, "app", 3), 0, "count app v3");
	is_int(count_schema(c, "app", -1), 4,
	    "count app any version (not app2 or ap)");
	is_int(count_schema(c, "app2", -1), 1, "count app2");
	is_int(count_schema(c, "ap", 1), 1, "count ap v1");
	is_int(count_schema(c, "nope", -1), 0, "count unknown schema");
	is_int(catalog_count_schema(c, "", -1, &n), CATALOG_NOTFOUND,
	    "count empty schema: NOTFOUND");

	/* A migration moves the tenant from one version bucket to another. */
	put(c, "t1", "app", 2, TENANT_ACTIVE);
	is_int(count_schema(c, "app", 1), 1, "after t1 v1->v2: app v1 is 1");
	is_int(count_schema(c, "app", 2), 2, "after t1 v1->v2: app v2 is 2");
	is_int(count_schema(c, "app", -1), 4, "after t1 v1->v2: app still 4");
	put(c, "t1", "app2", 2, TENANT_ACTIVE);
	is_int(count_schema(c, "app", -1), 3, "t1 moved to app2: app is 3");
	is_int(count_schema(c, "app2", 2), 1, "t1 moved to app2: app2 v2 is 1");
	put(c, "t1", "", 0, TENANT_ACTIVE);
	is_int(count_schema(c, "app2", -1), 1, "t1 lost its schema: app2 is 1");
	is_int(count_schema(c, "app", 2), 1, "t1 lost its schema: app v2 is 1");
	catalog_del(c, "t3");
	is_int(count_schema(c, "app", 2), 0, "del t3: app v2 is 0");
	is_int(count_schema(c, "app", -1), 2, "del t3: app is 2");
	is_int(catalog_count(c), 6, "catalog_count 6 after del");
	catalog_close(c);
}

static void
test_reopen(void)
{
	struct catalog		*c = open_fresh("reopen");
	struct tenant_rec	 r, got;
	char			 dir[PATH_MAX], err[256];

	rec_set(&r, "keep", "app", 3, TENANT_DELETING);
	snprintf(r.last_error, sizeof r.last_error, "half way");
	catalog_put(c, &r, 0);
	put(c, "drop", "app", 3, TENANT_ACTIVE);
	catalog_del(c, "drop");
	catalog_close(c);

	snprintf(dir, sizeof dir, "%s/reopen", tmp);
	c = NULL;
	is_int(catalog_open(dir, &c, err, sizeof err), 0, "reopen");
	if (c == NULL)
		return;
	ok(catalog_get(c, "keep", 4, &got) == CATALOG_OK &&
	    strcmp(got.schema, "app") == 0 && got.version == 3 &&
	    got.state == TENANT_DELETING &&
	    strcmp(got.last_error, "half way") == 0,
	    "reopen: record intact");
	is_int(catalog_get(c, "drop", 4, &got), CATALOG_NOTFOUND,
	    "reopen: deleted record stays deleted");
	is_int(catalog_count(c), 1, "reopen: count 1");
	is_int(count_schema(c, "app", 3), 1, "reopen: schema index intact");
	ok(pending_is(c, (const char *[]){ "keep", NULL }),
	    "reopen: pending set intact");
	catalog_close(c);
}

static void
test_open_errors(void)
{
	struct catalog	*c = NULL;
	char		 path[PATH_MAX], err[256];
	int		 fd;

	snprintf(path, sizeof path, "%s/plainfile", tmp);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1)
		close(fd);
	err[0] = '\0';
	is_int(catalog_open(path, &c, err, sizeof err), -1,
	    "open a regular file: fails");
	ok(err[0] != '\0' && strstr(err, path) != NULL,
	    "open a regular file: message names the path (%s)", err);
	ok(c == NULL, "open a regular file: no catalog returned");

	snprintf(path, sizeof path, "%s/no/such/parent", tmp);
	err[0] = '\0';
	is_int(catalog_open(path, &c, err, sizeof err), -1,
	    "open under a missing parent: fails");
	ok(err[0] != '\0', "open under a missing parent: message (%s)", err);
}

static void
test_large(void)
{
	struct catalog		*c = open_fresh("large");
	struct tenant_rec	*recs;
	char			 id[32];
	size_t			 i, n;
	int			 more, failed = 0, good = 1;

	/* 20000 ids: "u00000".."u19999"; the prefix u123 matches u12300-99. */
	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "u%05zu", (i * 7919) % 20000);
		if (put(c, id, "app", 1, TENANT_ACTIVE) != CATALOG_OK)
			failed++;
	}
	is_int(failed, 0, "large: 20000 puts");
	is_int(catalog_count(c), 20000, "large: count 20000");
	is_int(count_schema(c, "app", 1), 20000, "large: schema count 20000");

	if (catalog_list(c, "u123", NULL, 1000, &recs, &n, &more) ==
	    CATALOG_OK) {
		is_int(n, 100, "large: prefix u123 gives 100 records");
		is_int(more, 0, "large: prefix u123: no more");
		for (i = 0; i < n; i++) {
			snprintf(id, sizeof id, "u123%02zu", i);
			if (strcmp(recs[i].id, id) != 0)
				good = 0;
		}
		ok(good && n > 0, "large: u12300..u12399 in order");
		free(recs);
	} else
		ok(0, "large: list prefix u123");

	if (catalog_list(c, "u1999", "u19994", 3, &recs, &n, &more) ==
	    CATALOG_OK) {
		ok(n == 3 && strcmp(recs[0].id, "u19995") == 0 &&
		    strcmp(recs[2].id, "u19997") == 0 && more == 1,
		    "large: prefix u1999 after u19994, limit 3");
		free(recs);
	} else
		ok(0, "large: list prefix u1999 after u19994");
	catalog_close(c);
}

/*
 * Put (value != NULL) or get raw bytes under key in the "tenants"
 * database of the catalog in tmp/name, bypassing catalog.c (which must
 * have closed it).  Returns 0 or -1; a get fills out and *len.
 */
static int
raw(const char *name, const char *key, const void *value, size_t vlen,
    unsigned char *out, size_t *len)
{
	MDB_env	*env = NULL;
	MDB_txn	*txn = NULL;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	char	 dir[PATH_MAX];
	int	 rc = -1;

	snprintf(dir, sizeof dir, "%s/%s", tmp, name);
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
	    mdb_env_set_mapsize(env, (size_t)8 << 30) != 0 ||
	    mdb_env_open(env, dir, 0, 0640) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "tenants", 0, &dbi) != 0)
		goto out;
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	if (value != NULL) {
		v.mv_data = (void *)value;
		v.mv_size = vlen;
		if (mdb_put(txn, dbi, &k, &v, 0) != 0)
			goto out;
	} else {
		if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size > *len)
			goto out;
		memcpy(out, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	rc = mdb_txn_commit(txn) == 0 ? 0 : -1;
	txn = NULL;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return (rc);
}

static struct catalog *
reopen(const char *name)
{
	struct catalog	*c = NULL;
	char		 dir[PATH_MAX], err[256];

	snprintf(dir, sizeof dir, "%s/%s", tmp, name);
	if (catalog_open(dir, &c, err, sizeof err) != 0) {
		printf("Bail out! catalog_open %s: %s\n", dir, err);
		rm_tree(tmp);
		exit(1);
	}
	return (c);
}

static void
test_formats(void)
{
	/* What every tenantd wrote before lazy creation: format 1. */
	static const unsigned char v1[] = { 1, TENANT_ACTIVE, 3, 0, 0, 0,
	    1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
	    5, 'n', 'o', 't', 'e', 's', 0, 0 };
	unsigned char		 buf[1024], bad[sizeof v1 + 1];
	struct catalog		*c = open_fresh("formats");
	struct tenant_rec	 r, got;
	size_t			 len;

	catalog_close(c);
	ok(raw("formats", "old", v1, sizeof v1, NULL, NULL) == 0,
	    "formats: a format-1 record written raw");
	c = reopen("formats");
	ok(catalog_get(c, "old", 3, &got) == CATALOG_OK &&
	    got.materialized == 1 && got.version == 3 &&
	    strcmp(got.schema, "notes") == 0 && got.created == 1 &&
	    got.updated == 2 && got.state == TENANT_ACTIVE,
	    "formats: a format-1 record reads as materialized, fields intact");

	rec_set(&r, "lazy", "notes", 3, TENANT_ACTIVE);
	r.materialized = 0;
	is_int(catalog_put(c, &r, 0), CATALOG_OK,
	    "formats: put unmaterialized");
	ok(catalog_get(c, "lazy", 4, &got) == CATALOG_OK &&
	    got.materialized == 0 && got.version == 3,
	    "formats: unmaterialized round-trips");
	rec_set(&r, "made", "notes", 3, TENANT_ACTIVE);
	r.created = 1;
	r.updated = 2;
	r.materialized = 1;
	is_int(catalog_put(c, &r, 0), CATALOG_OK, "formats: put materialized");
	catalog_close(c);

	len = sizeof buf;
	ok(raw("formats", "made", NULL, 0, buf, &len) == 0 &&
	    len == sizeof v1 && memcmp(buf, v1, len) == 0,
	    "formats: a materialized record is written in format 1, byte for "
	    "byte (older versions still read it)");
	len = sizeof buf;
	ok(raw("formats", "lazy", NULL, 0, buf, &len) == 0 && buf[0] == 2 &&
	    len == sizeof v1 + 1 && buf[len - 1] == 1,
	    "formats: an unmaterialized one in format 2 with its flag");

	memcpy(bad, v1, sizeof v1);
	bad[0] = 2;
	bad[sizeof v1] = 0x02;		/* a flag unknown here */
	raw("formats", "future", bad, sizeof bad, NULL, NULL);
	raw("formats", "short", bad, sizeof v1, NULL, NULL); /* no flags */
	bad[0] = 3;
	raw("formats", "fmt3", bad, sizeof bad, NULL, NULL);
	c = reopen("formats");
	is_int(catalog_get(c, "future", 6, &got), CATALOG_ERROR,
	    "formats: unknown flags are refused, not ignored");
	is_int(catalog_get(c, "short", 5, &got), CATALOG_ERROR,
	    "formats: format 2 without its flags byte is refused");
	is_int(catalog_get(c, "fmt3", 4, &got), CATALOG_ERROR,
	    "formats: an unknown format is refused");
	catalog_close(c);
}

static void
test_batch(void)
{
	struct catalog		*c = open_fresh("batch");
	struct tenant_rec	 recs[4], got;
	int			 res[4] = { -9, -9, -9, -9 };
	size_t			 i;

	put(c, "taken", "other", 1, TENANT_ACTIVE);
	rec_set(&recs[0], "n1", "app", 2, TENANT_ACTIVE);
	rec_set(&recs[1], "taken", "app", 2, TENANT_ACTIVE);
	rec_set(&recs[2], "n2", "app", 2, TENANT_ACTIVE);
	rec_set(&recs[3], "n1", "app", 5, TENANT_ACTIVE);
	for (i = 0; i < 4; i++)
		recs[i].materialized = 0;
	is_int(catalog_create_batch(c, recs, 4, res), CATALOG_OK,
	    "batch: committed");
	ok(res[0] == CATALOG_OK && res[1] == CATALOG_EXISTS &&
	    res[2] == CATALOG_OK && res[3] == CATALOG_EXISTS,
	    "batch: one answer each; a taken id and a repeat in the batch "
	    "are EXISTS");
	ok(catalog_get(c, "n1", 2, &got) == CATALOG_OK && got.version == 2 &&
	    got.materialized == 0, "batch: the first n1 won, unmaterialized");
	ok(catalog_get(c, "taken", 5, &got) == CATALOG_OK &&
	    strcmp(got.schema, "other") == 0, "batch: the taken id unchanged");
	is_int(count_schema(c, "app", 2), 2, "batch: index has n1 and n2");
	is_int(count_schema(c, "app", 5), 0, "batch: no entry for the repeat");
	ok(pending_is(c, (const char *[]){ NULL }),
	    "batch: nothing pending (active from the start)");
	is_int(catalog_create_batch(c, recs, 0, res), CATALOG_OK,
	    "batch: an empty batch is fine");
	catalog_close(c);
}

static void
test_materialize(void)
{
	struct catalog		*c = open_fresh("materialize");
	struct catalog_version	 cv;
	struct tenant_rec	 r, got;

	rec_set(&r, "u", "app", 2, TENANT_ACTIVE);
	r.materialized = 0;
	catalog_put(c, &r, 0);
	memset(&cv, 0, sizeof cv);
	strlcpy_x(cv.id, "u", sizeof cv.id);
	cv.version = 3;
	cv.unmade_only = 1;
	is_int(catalog_set_versions(c, &cv, 1), CATALOG_OK,
	    "materialize: raise an unmade record");
	ok(catalog_get(c, "u", 1, &got) == CATALOG_OK && got.version == 3 &&
	    !got.materialized, "materialize: raised, still unmade");
	is_int(catalog_set_materialized(c, "u", 3), CATALOG_OK,
	    "materialize: mark made at 3");
	ok(catalog_get(c, "u", 1, &got) == CATALOG_OK && got.version == 3 &&
	    got.materialized, "materialize: made at 3");
	cv.version = 4;
	catalog_set_versions(c, &cv, 1);
	ok(catalog_get(c, "u", 1, &got) == CATALOG_OK && got.version == 3,
	    "materialize: an unmade_only raise leaves a made record alone");
	cv.unmade_only = 0;
	catalog_set_versions(c, &cv, 1);
	ok(catalog_get(c, "u", 1, &got) == CATALOG_OK && got.version == 4 &&
	    got.materialized, "materialize: a plain update still applies");
	is_int(catalog_set_materialized(c, "u", 1), CATALOG_OK,
	    "materialize: mark made at the file's version 1");
	ok(catalog_get(c, "u", 1, &got) == CATALOG_OK && got.version == 1,
	    "materialize: the file's version wins");
	ok(count_schema(c, "app", 1) == 1 && count_schema(c, "app", 4) == 0,
	    "materialize: the index moved with it");
	is_int(catalog_set_materialized(c, "nobody", 0), CATALOG_NOTFOUND,
	    "materialize: a missing tenant is NOTFOUND");
	rec_set(&r, "going", "app", 2, TENANT_DELETING);
	r.materialized = 0;
	catalog_put(c, &r, 0);
	is_int(catalog_set_materialized(c, "going", 2), CATALOG_NOTFOUND,
	    "materialize: a tenant being deleted is NOTFOUND");
	ok(catalog_get(c, "going", 5, &got) == CATALOG_OK &&
	    !got.materialized, "materialize: and is left as it was");
	catalog_close(c);
}

int
main(void)
{
	const char	*t = getenv("TMPDIR");

	snprintf(tmp, sizeof tmp, "%s/test_catalog.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", tmp, strerror(errno));
		return (1);
	}

	test_roundtrip();
	test_list();
	test_paging();
	test_pending();
	test_count_schema();
	test_reopen();
	test_open_errors();
	test_large();
	test_formats();
	test_batch();
	test_materialize();

	rm_tree(tmp);
	return (tap_done());
}
