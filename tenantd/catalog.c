/*
 * catalog.c: the tenant catalog in LMDB, the source of truth for which
 * tenants exist.
 *
 * Databases inside one environment (DATA/catalog/):
 *   "tenants"    id -> packed record (see rec_pack)
 *   "by_schema"  schema '\0' version(be32) id -> ""   (find tenants behind
 *                a target version without a scan)
 *   "pending"    id -> ""  for records in state creating/deleting, so
 *                recovery after a crash touches only those
 *   "jobs"       job id (be64) -> seq (be64) || JSON of a fleet rollout
 *   "applied"    schema '\0' version(be32) -> checksum (64 hex) ' ' file:
 *                what each migration file was when a tenant first applied
 *                it, so an edit made later is caught
 *   "meta"       "format" -> "1"
 * Every put/del updates all of them in one write transaction, so they
 * always agree.  Records are little-endian on disk and carry their own
 * format byte (see rec_pack): format 1 is what every version wrote before
 * tenants were made lazily, format 2 adds a flags byte, so old records
 * read as they always did.
 *
 * Threads: read transactions from any thread (MDB_NOTLS); writes fsync on
 * commit and so run on workers only.  LMDB serialises writers itself.
 * Copies leave the transaction before it ends: nothing returned points
 * into the map.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

#define REC_FORMAT1	1	/* no flags: the file exists (or did) */
#define REC_FORMAT2	2	/* format 1 + flags(1) */
#define REC_UNMADE	0x01	/* flag: the file has not been made yet */
#define CATALOG_MAPSIZE	((size_t)8 << 30)	/* virtual, sparse: ~40M tenants */

struct catalog {
	MDB_env		*env;
	MDB_dbi		 tenants;
	MDB_dbi		 by_schema;
	MDB_dbi		 pending;
	MDB_dbi		 jobs;
	MDB_dbi		 applied;
	MDB_dbi		 meta;
};

static __thread char	catalog_err[256];

const char *
catalog_strerror(struct catalog *c)
{
	return (catalog_err);
}

static int
catalog_fail(const char *what, int rc)
{
	snprintf(catalog_err, sizeof catalog_err, "catalog: %s: %s", what,
	    mdb_strerror(rc));
	return (CATALOG_ERROR);
}

const char *
catalog_state_name(int state)
{
	switch (state) {
	case TENANT_ACTIVE:
		return ("active");
	case TENANT_CREATING:
		return ("creating");
	case TENANT_DELETING:
		return ("deleting");
	case TENANT_FAILED:
		return ("failed");
	}
	return ("unknown");
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint32_t
get_le32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get_le64(const unsigned char *p)
{
	return ((uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32);
}

/*
 * Packed record: fmt(1) state(1) version(4) created(8) updated(8)
 * schema_len(1) schema error_len(2) error [flags(1), format 2 only].
 * A record without flags is written in format 1, byte for byte what
 * earlier versions wrote (so they can still read it); format 1 records
 * are materialized, since every earlier create made the file.
 */
#define REC_FIXED	(1 + 1 + 4 + 8 + 8 + 1 + 2)
static size_t
rec_pack(const struct tenant_rec *r, unsigned char *out)
{
	size_t	slen = strlen(r->schema), elen = strlen(r->last_error), o = 0;
	int	flags = r->materialized ? 0 : REC_UNMADE;

	out[o++] = flags ? REC_FORMAT2 : REC_FORMAT1;
	out[o++] = (unsigned char)r->state;
	put_le32(out + o, (uint32_t)r->version); o += 4;
	put_le64(out + o, (uint64_t)r->created); o += 8;
	put_le64(out + o, (uint64_t)r->updated); o += 8;
	out[o++] = (unsigned char)slen;
	memcpy(out + o, r->schema, slen); o += slen;
	out[o++] = (unsigned char)elen;
	out[o++] = (unsigned char)(elen >> 8);
	memcpy(out + o, r->last_error, elen); o += elen;
	if (flags)
		out[o++] = (unsigned char)flags;
	return (o);
}

static int
rec_unpack(const MDB_val *k, const MDB_val *v, struct tenant_rec *r)
{
	const unsigned char	*p = v->mv_data;
	size_t			 n = v->mv_size, o = 0, slen, elen;
	int			 flags = 0;

	memset(r, 0, sizeof *r);
	if (k->mv_size > TID_MAX || n < REC_FIXED ||
	    (p[0] != REC_FORMAT1 && p[0] != REC_FORMAT2))
		return (-1);
	memcpy(r->id, k->mv_data, k->mv_size);
	r->id[k->mv_size] = '\0';
	o = 1;
	r->state = p[o++];
	r->version = (int)get_le32(p + o); o += 4;
	r->created = (int64_t)get_le64(p + o); o += 8;
	r->updated = (int64_t)get_le64(p + o); o += 8;
	slen = p[o++];
	if (slen > MIGRATE_NAME_MAX || o + slen + 2 > n)
		return (-1);
	memcpy(r->schema, p + o, slen); o += slen;
	elen = p[o] | (size_t)p[o + 1] << 8; o += 2;
	if (elen >= sizeof r->last_error || o + elen > n)
		return (-1);
	memcpy(r->last_error, p + o, elen); o += elen;
	if (p[0] == REC_FORMAT2) {
		/* Unknown flags mean a newer tenantd wrote it: refuse. */
		if (o + 1 > n || (p[o] & ~REC_UNMADE) != 0)
			return (-1);
		flags = p[o];
	}
	r->materialized = (flags & REC_UNMADE) == 0;
	return (0);
}

static size_t
schema_key(const char *schema, int version, const char *id,
    unsigned char *out)
{
	size_t	slen = strlen(schema), ilen = strlen(id), o = 0;

	memcpy(out, schema, slen); o += slen;
	out[o++] = '\0';
	out[o++] = (unsigned char)((uint32_t)version >> 24);
	out[o++] = (unsigned char)((uint32_t)version >> 16);
	out[o++] = (unsigned char)((uint32_t)version >> 8);
	out[o++] = (unsigned char)version;
	memcpy(out + o, id, ilen); o += ilen;
	return (o);
}

/*
 * Open (creating if needed) the catalog in folder dir.  Returns 0 and a new
 * catalog, or -1 with a message in err.
 */
int
catalog_open(const char *dir, struct catalog **cp, char *err, size_t errlen)
{
	struct catalog	*c;
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	int		 rc, made;

	if (!(made = mkdir(dir, 0750) == 0) && errno != EEXIST) {
		snprintf(err, errlen, "catalog: mkdir %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	c = xcalloc(1, sizeof *c);
	if ((rc = mdb_env_create(&c->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(c->env, 8)) != 0)
		goto fail;
	if ((rc = mdb_env_set_mapsize(c->env, CATALOG_MAPSIZE)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxreaders(c->env, 512)) != 0)
		goto fail;
	if ((rc = mdb_env_open(c->env, dir, MDB_NOTLS, 0640)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "tenants", MDB_CREATE, &c->tenants)) != 0 ||
	    (rc = mdb_dbi_open(txn, "by_schema", MDB_CREATE,
	    &c->by_schema)) != 0 ||
	    (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &c->pending)) != 0 ||
	    (rc = mdb_dbi_open(txn, "jobs", MDB_CREATE, &c->jobs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "applied", MDB_CREATE, &c->applied)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &c->meta)) != 0)
		goto fail;
	k.mv_data = (void *)"format";
	k.mv_size = 6;
	rc = mdb_get(txn, c->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_data = (void *)"1";
		v.mv_size = 1;
		if ((rc = mdb_put(txn, c->meta, &k, &v, 0)) != 0)
			goto fail;
	} else if (rc != 0)
		goto fail;
	else if (v.mv_size != 1 || *(char *)v.mv_data != '1') {
		mdb_txn_abort(txn);
		mdb_env_close(c->env);
		free(c);
		snprintf(err, errlen, "catalog: %s has an unknown format", dir);
		return (-1);
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto fail;
	}
	/* LMDB syncs its file but not the folder that names it: a catalog
	 * made just before a power cut could lose data.mdb, and with it
	 * every tenant created since.  Once per open. */
	if (fsync_path(dir, 1) == -1 || (made && fsync_parent(dir) == -1)) {
		snprintf(err, errlen, "catalog: fsync %s: %s", dir,
		    strerror(errno));
		mdb_env_close(c->env);
		free(c);
		return (-1);
	}
	*cp = c;
	return (0);

fail:
	snprintf(err, errlen, "catalog: %s: %s", dir, mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (c->env != NULL)
		mdb_env_close(c->env);
	free(c);
	return (-1);
}

/* Sync and close.  No transaction may be open. */
void
catalog_close(struct catalog *c)
{
	if (c == NULL)
		return;
	mdb_env_sync(c->env, 1);
	mdb_env_close(c->env);
	free(c);
}

int
catalog_sync(struct catalog *c)
{
	int	rc;

	if ((rc = mdb_env_sync(c->env, 1)) != 0)
		return (catalog_fail("sync", rc));
	return (CATALOG_OK);
}

/* Look up id.  CATALOG_OK and *r filled, CATALOG_NOTFOUND, or ERROR. */
int
catalog_get(struct catalog *c, const char *id, size_t len,
    struct tenant_rec *r)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 rc, ret;

	if (len == 0 || len > TID_MAX)
		return (CATALOG_NOTFOUND);
	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	k.mv_data = (void *)id;
	k.mv_size = len;
	rc = mdb_get(txn, c->tenants, &k, &v);
	if (rc == MDB_NOTFOUND)
		ret = CATALOG_NOTFOUND;
	else if (rc != 0)
		ret = catalog_fail("get", rc);
	else if (rec_unpack(&k, &v, r) != 0) {
		snprintf(catalog_err, sizeof catalog_err,
		    "catalog: record for a tenant is corrupt");
		ret = CATALOG_ERROR;
	} else
		ret = CATALOG_OK;
	mdb_txn_abort(txn);
	return (ret);
}

static int
index_del(struct catalog *c, MDB_txn *txn, const struct tenant_rec *old)
{
	unsigned char	key[MIGRATE_NAME_MAX + 1 + 4 + TID_MAX];
	MDB_val		k;
	int		rc;

	if (old->schema[0] == '\0')
		return (0);
	k.mv_size = schema_key(old->schema, old->version, old->id, key);
	k.mv_data = key;
	rc = mdb_del(txn, c->by_schema, &k, NULL);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Write r inside txn with its index entries: the old record's (schema,
 * version) entry (if old is not NULL) makes way for the new one, and the
 * pending index follows the state.  Returns an LMDB code.
 */
static int
rec_write(struct catalog *c, MDB_txn *txn, const struct tenant_rec *r,
    const struct tenant_rec *old)
{
	unsigned char	val[REC_FIXED + MIGRATE_NAME_MAX + 512 + 1];
	unsigned char	key[MIGRATE_NAME_MAX + 1 + 4 + TID_MAX];
	MDB_val		k, v, ik, iv;
	int		rc;

	if (old != NULL && (rc = index_del(c, txn, old)) != 0)
		return (rc);
	k.mv_data = (void *)r->id;
	k.mv_size = strlen(r->id);
	v.mv_size = rec_pack(r, val);
	v.mv_data = val;
	if ((rc = mdb_put(txn, c->tenants, &k, &v, 0)) != 0)
		return (rc);
	iv.mv_size = 0;
	iv.mv_data = (void *)"";
	if (r->schema[0] != '\0') {
		ik.mv_size = schema_key(r->schema, r->version, r->id, key);
		ik.mv_data = key;
		if ((rc = mdb_put(txn, c->by_schema, &ik, &iv, 0)) != 0)
			return (rc);
	}
	if (r->state == TENANT_CREATING || r->state == TENANT_DELETING)
		return (mdb_put(txn, c->pending, &k, &iv, 0));
	rc = mdb_del(txn, c->pending, &k, NULL);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Insert or replace r (with CATALOG_NOOVERWRITE: CATALOG_EXISTS if the id
 * is taken).  Indexes follow in the same transaction.  Fsyncs: workers
 * only.
 */
int
catalog_put(struct catalog *c, const struct tenant_rec *r, int flags)
{
	struct tenant_rec	 old;
	MDB_txn			*txn;
	MDB_val			 k, v;
	int			 rc, had = 0;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	k.mv_data = (void *)r->id;
	k.mv_size = strlen(r->id);
	rc = mdb_get(txn, c->tenants, &k, &v);
	if (rc == 0) {
		if (flags & CATALOG_NOOVERWRITE) {
			mdb_txn_abort(txn);
			return (CATALOG_EXISTS);
		}
		had = rec_unpack(&k, &v, &old) == 0;
	} else if (rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = rec_write(c, txn, r, had ? &old : NULL)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

fail:
	mdb_txn_abort(txn);
	return (catalog_fail("put", rc));
}

/*
 * Insert the n new records recs in one write transaction (one commit, one
 * fsync for all: group commit of creates).  results[i] is CATALOG_OK, or
 * CATALOG_EXISTS when the id is taken (also by an earlier record of the
 * same batch).  Returns CATALOG_OK once committed, or CATALOG_ERROR when
 * nothing was written.  Workers only.
 */
int
catalog_create_batch(struct catalog *c, const struct tenant_rec *recs,
    size_t n, int *results)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	size_t	 i;
	int	 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	for (i = 0; i < n; i++) {
		k.mv_data = (void *)recs[i].id;
		k.mv_size = strlen(recs[i].id);
		rc = mdb_get(txn, c->tenants, &k, &v);
		if (rc == 0) {
			results[i] = CATALOG_EXISTS;
			continue;
		}
		if (rc != MDB_NOTFOUND)
			goto fail;
		if ((rc = rec_write(c, txn, &recs[i], NULL)) != 0)
			goto fail;
		results[i] = CATALOG_OK;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

fail:
	mdb_txn_abort(txn);
	return (catalog_fail("create", rc));
}

/*
 * The file of tenant id now exists, made (or found) at version: mark the
 * record materialized at that version, whatever version it said (the file
 * is the truth; a rollout may have raised the record meanwhile).
 * CATALOG_NOTFOUND if the tenant is gone or being deleted.  Workers only.
 */
int
catalog_set_materialized(struct catalog *c, const char *id, int version)
{
	struct tenant_rec	 r, old;
	MDB_txn			*txn;
	MDB_val			 k, v;
	int			 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(txn, c->tenants, &k, &v)) == MDB_NOTFOUND)
		goto gone;
	if (rc != 0)
		goto fail;
	if (rec_unpack(&k, &v, &old) != 0) {
		mdb_txn_abort(txn);
		snprintf(catalog_err, sizeof catalog_err,
		    "catalog: record for a tenant is corrupt");
		return (CATALOG_ERROR);
	}
	if (old.state == TENANT_DELETING || old.state == TENANT_CREATING)
		goto gone;
	if (old.materialized && old.version == version) {
		mdb_txn_abort(txn);
		return (CATALOG_OK);
	}
	r = old;
	r.materialized = 1;
	if (r.version != version) {
		r.version = version;
		r.updated = (int64_t)time_now_ms();
	}
	if ((rc = rec_write(c, txn, &r, &old)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

gone:
	mdb_txn_abort(txn);
	return (CATALOG_NOTFOUND);
fail:
	mdb_txn_abort(txn);
	return (catalog_fail("materialize", rc));
}

/* Remove id and its index entries.  CATALOG_NOTFOUND if absent. */
int
catalog_del(struct catalog *c, const char *id)
{
	struct tenant_rec	 old;
	MDB_txn			*txn;
	MDB_val			 k, v;
	int			 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	rc = mdb_get(txn, c->tenants, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return (CATALOG_NOTFOUND);
	}
	if (rc != 0)
		goto fail;
	if (rec_unpack(&k, &v, &old) == 0 && (rc = index_del(c, txn, &old)) != 0)
		goto fail;
	if ((rc = mdb_del(txn, c->tenants, &k, NULL)) != 0)
		goto fail;
	rc = mdb_del(txn, c->pending, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

fail:
	mdb_txn_abort(txn);
	return (catalog_fail("del", rc));
}

/*
 * List up to limit records in id order, starting after `after` (may be NULL)
 * and restricted to ids starting with prefix (may be NULL).  *recs is new
 * (free()); *more is 1 if further records match.  Cost: one B-tree seek plus
 * limit steps, whatever the catalog's size.
 */
int
catalog_list(struct catalog *c, const char *prefix, const char *after,
    int limit, struct tenant_rec **recs, size_t *nrecs, int *more)
{
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	struct tenant_rec	*out;
	size_t			 n = 0, plen = prefix ? strlen(prefix) : 0;
	int			 rc, op;
	char			 start[TID_MAX + 2];

	*recs = NULL;
	*nrecs = 0;
	*more = 0;
	if (limit <= 0)
		return (CATALOG_OK);
	out = xcalloc((size_t)limit, sizeof *out);
	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0) {
		free(out);
		return (catalog_fail("read txn", rc));
	}
	if ((rc = mdb_cursor_open(txn, c->tenants, &cur)) != 0) {
		mdb_txn_abort(txn);
		free(out);
		return (catalog_fail("cursor", rc));
	}
	/* Seek to max(prefix, after + "\0"). */
	start[0] = '\0';
	if (after != NULL && *after != '\0') {
		size_t alen = strlen(after);
		if (alen > TID_MAX)
			alen = TID_MAX;
		memcpy(start, after, alen);
		start[alen] = '\0';
		k.mv_size = alen + 1;	/* strictly after: include the NUL */
	} else
		k.mv_size = 0;
	if (plen > 0 && (k.mv_size == 0 || strncmp(prefix, start, TID_MAX) > 0)) {
		memcpy(start, prefix, plen > TID_MAX ? TID_MAX : plen);
		k.mv_size = plen > TID_MAX ? TID_MAX : plen;
	}
	k.mv_data = start;
	op = k.mv_size > 0 ? MDB_SET_RANGE : MDB_FIRST;
	for (rc = mdb_cursor_get(cur, &k, &v, op); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (plen > 0 && (k.mv_size < plen ||
		    memcmp(k.mv_data, prefix, plen) != 0))
			break;
		if (n == (size_t)limit) {
			*more = 1;
			break;
		}
		if (rec_unpack(&k, &v, &out[n]) == 0)
			n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(out);
		return (catalog_fail("list", rc));
	}
	*recs = out;
	*nrecs = n;
	return (CATALOG_OK);
}

/* Every record in state creating or deleting (for crash recovery). */
int
catalog_pending(struct catalog *c, struct tenant_rec **recs, size_t *nrecs)
{
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v, rv;
	struct tenant_rec	*out = NULL;
	size_t			 n = 0, cap = 0;
	int			 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	if ((rc = mdb_cursor_open(txn, c->pending, &cur)) != 0) {
		mdb_txn_abort(txn);
		return (catalog_fail("cursor", rc));
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			out = xreallocarray(out, cap, sizeof *out);
		}
		if (mdb_get(txn, c->tenants, &k, &rv) == 0 &&
		    rec_unpack(&k, &rv, &out[n]) == 0)
			n++;
		else if (k.mv_size <= TID_MAX) {
			/* Index entry without a record: report it bare. */
			memset(&out[n], 0, sizeof out[n]);
			memcpy(out[n].id, k.mv_data, k.mv_size);
			out[n].state = TENANT_DELETING;
			n++;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND) {
		free(out);
		return (catalog_fail("pending", rc));
	}
	*recs = out;
	*nrecs = n;
	return (CATALOG_OK);
}

/*
 * Count tenants of schema at exactly version (version < 0: any version),
 * using the by_schema index.
 */
int
catalog_count_schema(struct catalog *c, const char *schema, int version,
    size_t *count)
{
	unsigned char	 key[MIGRATE_NAME_MAX + 1 + 4];
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 slen = strlen(schema), plen, n = 0;
	int		 rc;

	if (slen == 0 || slen > MIGRATE_NAME_MAX)
		return (CATALOG_NOTFOUND);
	memcpy(key, schema, slen);
	key[slen] = '\0';
	plen = slen + 1;
	if (version >= 0) {
		key[plen++] = (unsigned char)((uint32_t)version >> 24);
		key[plen++] = (unsigned char)((uint32_t)version >> 16);
		key[plen++] = (unsigned char)((uint32_t)version >> 8);
		key[plen++] = (unsigned char)version;
	}
	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	if ((rc = mdb_cursor_open(txn, c->by_schema, &cur)) != 0) {
		mdb_txn_abort(txn);
		return (catalog_fail("cursor", rc));
	}
	k.mv_data = key;
	k.mv_size = plen;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*count = n;
	return (CATALOG_OK);
}

/* Number of tenants (O(1): the B-tree's entry count). */
size_t
catalog_count(struct catalog *c)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	size_t		 n = 0;

	if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) != 0)
		return (0);
	if (mdb_stat(txn, c->tenants, &st) == 0)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return (n);
}

/*
 * Collect the ids of schema's tenants whose version v satisfies
 * vmin <= v <= vmax, in (version, id) order, via the by_schema index.
 * *ids is new: n entries of TID_MAX + 1 bytes each (free()).
 */
int
catalog_scan_schema(struct catalog *c, const char *schema, int vmin, int vmax,
    char (**ids)[TID_MAX + 1], size_t *nids)
{
	unsigned char	 key[MIGRATE_NAME_MAX + 1 + 4];
	char		(*out)[TID_MAX + 1] = NULL;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 slen = strlen(schema), n = 0, cap = 0, idlen;
	const unsigned char *p;
	uint32_t	 ver;
	int		 rc;

	*ids = NULL;
	*nids = 0;
	if (slen == 0 || slen > MIGRATE_NAME_MAX || vmin > vmax)
		return (CATALOG_OK);
	if (vmin < 0)
		vmin = 0;
	memcpy(key, schema, slen);
	key[slen] = '\0';
	key[slen + 1] = (unsigned char)((uint32_t)vmin >> 24);
	key[slen + 2] = (unsigned char)((uint32_t)vmin >> 16);
	key[slen + 3] = (unsigned char)((uint32_t)vmin >> 8);
	key[slen + 4] = (unsigned char)vmin;
	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	if ((rc = mdb_cursor_open(txn, c->by_schema, &cur)) != 0) {
		mdb_txn_abort(txn);
		return (catalog_fail("cursor", rc));
	}
	k.mv_data = key;
	k.mv_size = slen + 5;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		p = k.mv_data;
		if (k.mv_size <= slen + 5 || memcmp(p, key, slen + 1) != 0)
			break;
		ver = (uint32_t)p[slen + 1] << 24 | (uint32_t)p[slen + 2] << 16 |
		    (uint32_t)p[slen + 3] << 8 | p[slen + 4];
		if (ver > (uint32_t)vmax)
			break;
		idlen = k.mv_size - slen - 5;
		if (idlen > TID_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			out = xreallocarray(out, cap, sizeof *out);
		}
		memcpy(out[n], p + slen + 5, idlen);
		out[n][idlen] = '\0';
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(out);
		return (catalog_fail("scan", rc));
	}
	*ids = out;
	*nids = n;
	return (CATALOG_OK);
}

/*
 * Store a job document under id, unless a newer one (higher seq) is
 * already there: snapshots written by different workers may commit out
 * of order.  Workers only (fsync).
 */
int
catalog_job_put(struct catalog *c, uint64_t id, uint64_t seq, const char *doc)
{
	unsigned char	 kb[8], *val;
	MDB_txn		*txn;
	MDB_val		 k, v;
	size_t		 len = strlen(doc);
	uint64_t	 old = 0;
	int		 rc, i;

	for (i = 0; i < 8; i++)
		kb[i] = (unsigned char)(id >> (56 - 8 * i));
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	k.mv_data = kb;
	k.mv_size = 8;
	rc = mdb_get(txn, c->jobs, &k, &v);
	if (rc == 0 && v.mv_size >= 8)
		for (i = 0; i < 8; i++)
			old = old << 8 | ((unsigned char *)v.mv_data)[i];
	else if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	if (rc == 0 && old >= seq) {
		mdb_txn_abort(txn);
		return (CATALOG_OK);
	}
	val = xmalloc(len + 8);
	for (i = 0; i < 8; i++)
		val[i] = (unsigned char)(seq >> (56 - 8 * i));
	memcpy(val + 8, doc, len);
	v.mv_data = val;
	v.mv_size = len + 8;
	rc = mdb_put(txn, c->jobs, &k, &v, 0);
	free(val);
	if (rc != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

fail:
	mdb_txn_abort(txn);
	return (catalog_fail("job put", rc));
}

/* Call cb(arg, id, doc) for every stored job, oldest first. */
int
catalog_job_each(struct catalog *c, void (*cb)(void *, uint64_t, const char *,
    size_t), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 id;
	int		 rc, i;

	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	if ((rc = mdb_cursor_open(txn, c->jobs, &cur)) != 0) {
		mdb_txn_abort(txn);
		return (catalog_fail("cursor", rc));
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size < 8)
			continue;
		for (id = 0, i = 0; i < 8; i++)
			id = id << 8 | ((unsigned char *)k.mv_data)[i];
		cb(arg, id, (const char *)v.mv_data + 8, v.mv_size - 8);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (rc == MDB_NOTFOUND ? CATALOG_OK : catalog_fail("jobs", rc));
}

/*
 * Set the version and last error of many tenants in one write transaction
 * (fleet rollouts batch their catalog updates).  Tenants that no longer
 * exist are skipped, and so are entries marked unmade_only whose tenant
 * got its file meanwhile (the file's version is the truth then).  Workers
 * only.
 */
int
catalog_set_versions(struct catalog *c, const struct catalog_version *vs,
    size_t n)
{
	struct tenant_rec	 r, old;
	MDB_txn			*txn;
	MDB_val			 k, v;
	size_t			 i;
	int			 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	for (i = 0; i < n; i++) {
		k.mv_data = (void *)vs[i].id;
		k.mv_size = strlen(vs[i].id);
		rc = mdb_get(txn, c->tenants, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			goto fail;
		if (rec_unpack(&k, &v, &old) != 0 ||
		    old.state == TENANT_DELETING ||
		    old.state == TENANT_CREATING ||
		    (vs[i].unmade_only && old.materialized))
			continue;
		r = old;
		if (vs[i].version >= 0)
			r.version = vs[i].version;
		strlcpy_x(r.last_error, vs[i].error, sizeof r.last_error);
		r.updated = vs[i].when;
		if ((rc = rec_write(c, txn, &r, &old)) != 0)
			goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);

fail:
	mdb_txn_abort(txn);
	return (catalog_fail("set versions", rc));
}

static size_t
applied_key(const char *schema, int version, unsigned char *out)
{
	size_t	slen = strlen(schema);

	memcpy(out, schema, slen);
	out[slen] = '\0';
	out[slen + 1] = (unsigned char)((uint32_t)version >> 24);
	out[slen + 2] = (unsigned char)((uint32_t)version >> 16);
	out[slen + 3] = (unsigned char)((uint32_t)version >> 8);
	out[slen + 4] = (unsigned char)version;
	return (slen + 5);
}

/*
 * Remember the checksums of set's files 1..upto that are not remembered
 * yet (the first application wins).  Workers only.
 */
int
catalog_applied_record(struct catalog *c, const struct migrate_set *set,
    int upto)
{
	const struct migrate_step	*st;
	unsigned char			 key[MIGRATE_NAME_MAX + 5];
	char				 val[64 + 1 + 256];
	MDB_txn				*txn;
	MDB_val				 k, v;
	int				 rc, ver, n;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return (catalog_fail("write txn", rc));
	for (ver = 1; ver <= upto; ver++) {
		if ((st = migrate_set_step(set, ver)) == NULL)
			break;
		k.mv_size = applied_key(migrate_set_name(set), ver, key);
		k.mv_data = key;
		n = snprintf(val, sizeof val, "%s %s", st->checksum, st->file);
		v.mv_data = val;
		v.mv_size = (size_t)n < sizeof val ? (size_t)n : sizeof val - 1;
		rc = mdb_put(txn, c->applied, &k, &v, MDB_NOOVERWRITE);
		if (rc != 0 && rc != MDB_KEYEXIST) {
			mdb_txn_abort(txn);
			return (catalog_fail("applied", rc));
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return (catalog_fail("commit", rc));
	return (CATALOG_OK);
}

/*
 * Compare set's files with the checksums remembered when they were first
 * applied.  Returns 0 when they agree; -1 with a message naming the first
 * edited file (msg) otherwise.  Also sets *recorded to the highest version
 * remembered.  Any thread.
 */
int
catalog_applied_check(struct catalog *c, const struct migrate_set *set,
    int *recorded, char *msg, size_t msglen)
{
	const struct migrate_step	*st;
	unsigned char			 key[MIGRATE_NAME_MAX + 5];
	MDB_txn				*txn;
	MDB_val				 k, v;
	int				 ver, ret = 0;

	*recorded = 0;
	if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) != 0)
		return (0);
	for (ver = 1; ver <= migrate_set_latest(set) + 1; ver++) {
		k.mv_size = applied_key(migrate_set_name(set), ver, key);
		k.mv_data = key;
		if (mdb_get(txn, c->applied, &k, &v) != 0)
			break;
		*recorded = ver;
		st = migrate_set_step(set, ver);
		if (st == NULL) {
			snprintf(msg, msglen, "version %d of schema %s was "
			    "applied, but its file is gone", ver,
			    migrate_set_name(set));
			ret = -1;
			break;
		}
		if (v.mv_size < 64 || memcmp(v.mv_data, st->checksum, 64) != 0) {
			snprintf(msg, msglen, "%s was edited after it was applied "
			    "(checksum then %.*s, now %s); restore it, and add a "
			    "new file to change the schema", st->file,
			    v.mv_size >= 64 ? 64 : (int)v.mv_size,
			    (const char *)v.mv_data, st->checksum);
			ret = -1;
			break;
		}
	}
	mdb_txn_abort(txn);
	return (ret);
}

/*
 * Write a consistent, compacted copy of the catalog into folder dir (which
 * must exist and be empty).  Any thread; readers and writers go on.
 */
int
catalog_copy(struct catalog *c, const char *dir)
{
	int	rc;

	if ((rc = mdb_env_copy2(c->env, dir, MDB_CP_COMPACT)) != 0)
		return (catalog_fail("copy", rc));
	return (CATALOG_OK);
}

/* Call cb(arg, rec) for every tenant record, in id order. */
int
catalog_each(struct catalog *c, int (*cb)(void *, const struct tenant_rec *),
    void *arg)
{
	struct tenant_rec	 r;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return (catalog_fail("read txn", rc));
	if ((rc = mdb_cursor_open(txn, c->tenants, &cur)) != 0) {
		mdb_txn_abort(txn);
		return (catalog_fail("cursor", rc));
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (rec_unpack(&k, &v, &r) == 0 && cb(arg, &r) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (rc == 0 || rc == MDB_NOTFOUND ? CATALOG_OK :
	    catalog_fail("each", rc));
}
