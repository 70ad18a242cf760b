/*
 * stream.c: Hrana streams and their batons.
 *
 * A stream is what a baton names: the stored SQL of a client session and,
 * while the client holds an open transaction, the tenant handle that
 * transaction lives on.  A baton is base64url(id || seq || mac) where mac
 * is the first 16 bytes of HMAC-SHA256(key, id || seq || tenant), with a
 * random key per process.  seq moves on every request, so a baton works
 * once; it names its tenant, so it cannot be replayed against another; and
 * all batons die with the process.
 *
 * Idle streams expire after cfg.stream_timeout_s: an open transaction is
 * rolled back (a job on the owned handle), and the stream is kept as a
 * tombstone for STREAM_TOMBSTONE_S so its baton gets STREAM_EXPIRED
 * instead of "invalid".
 *
 * Loop thread only, except sqlstore, which the worker running the
 * stream's pipeline uses while the stream is busy.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

#define STREAM_TOMBSTONE_S	300
#define BATON_RAW		(8 + 8 + 16)

static struct lru	streams;
static unsigned char	stream_key[32];
static uint64_t		stream_next_id;
static size_t		stream_live;

void
stream_init(void)
{
	if (RAND_bytes(stream_key, sizeof stream_key) != 1)
		fatalx("stream_init: no randomness for the baton key");
	if (RAND_bytes((unsigned char *)&stream_next_id,
	    sizeof stream_next_id) != 1)
		fatalx("stream_init: no randomness");
	stream_next_id &= 0x7fffffffffffffffULL;
	lru_init(&streams, 64);
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (v);
}

static void
stream_mac(uint64_t id, uint64_t seq, const char *tid, unsigned char *out)
{
	unsigned char	msg[16 + TID_MAX], mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen = 0;
	size_t		tlen = strlen(tid);

	put_be64(msg, id);
	put_be64(msg + 8, seq);
	memcpy(msg + 16, tid, tlen);
	if (HMAC(EVP_sha256(), stream_key, sizeof stream_key, msg, 16 + tlen,
	    mac, &maclen) == NULL || maclen < 16)
		fatalx("stream_mac: HMAC failed");
	memcpy(out, mac, 16);
}

static void
stream_key_str(uint64_t id, char *out)
{
	snprintf(out, 17, "%016llx", (unsigned long long)id);
}

/* A new stream for tenant tid, not busy, seq 0. */
struct stream *
stream_new(const char *tid)
{
	struct stream	*s;
	char		 key[17];

	s = xcalloc(1, sizeof *s);
	s->id = ++stream_next_id;
	strlcpy_x(s->tid, tid, sizeof s->tid);
	s->last_used_us = time_mono_us();
	stream_key_str(s->id, key);
	if (lru_insert(&streams, &s->le, key, 16) != 0)
		fatalx("stream_new: duplicate stream id");
	stream_live++;
	return (s);
}

/* Write the baton for the stream's current seq into out (>= 48 bytes). */
void
stream_baton(struct stream *s, char *out, size_t size)
{
	unsigned char	raw[BATON_RAW];

	if (size < 48)
		fatalx("stream_baton: buffer too small");
	put_be64(raw, s->id);
	put_be64(raw + 8, s->seq);
	stream_mac(s->id, s->seq, s->tid, raw + 16);
	b64url_encode(raw, sizeof raw, out);
}

/*
 * Find the stream a baton names, for tenant tid.  Returns 0 and the stream
 * (marked busy: the caller must stream_release() it), or -1 with an error
 * code and message for a 400 answer.
 */
int
stream_lookup(const char *baton, size_t len, const char *tid,
    struct stream **sp, const char **code, const char **msg)
{
	unsigned char		 raw[BATON_RAW + 4], mac[16];
	size_t			 rawlen;
	uint64_t		 id, seq;
	struct lru_entry	*e;
	struct stream		*s;
	char			 key[17];

	*code = "BATON_INVALID";
	*msg = "Received an invalid baton";
	if (b64url_decode(baton, len, raw, sizeof raw, &rawlen) != 0 ||
	    rawlen != BATON_RAW)
		return (-1);
	id = get_be64(raw);
	seq = get_be64(raw + 8);
	stream_key_str(id, key);
	if ((e = lru_find(&streams, key, 16)) == NULL)
		return (-1);
	s = (struct stream *)e;
	/* Check the MAC against the tenant of this request: a baton sent to
	 * another tenant fails here, as does a forged one. */
	stream_mac(id, seq, tid, mac);
	if (CRYPTO_memcmp(mac, raw + 16, 16) != 0) {
		if (strcmp(s->tid, tid) != 0)
			*msg = "The baton belongs to a stream of another tenant";
		return (-1);
	}
	if (s->expired) {
		*code = "STREAM_EXPIRED";
		*msg = "The stream has expired due to inactivity";
		return (-1);
	}
	if (s->busy || seq != s->seq) {
		*msg = "Received a baton that has already been used";
		return (-1);
	}
	s->busy = 1;
	*sp = s;
	return (0);
}

/*
 * The pipeline on s finished.  closed: the client sent "close" (the stream
 * ends).  in_txn: the tenant connection is inside a transaction, which s
 * now holds on h.  Advances seq so the next baton differs.
 */
void
stream_release(struct stream *s, int closed, int in_txn, struct handle *h)
{
	s->busy = 0;
	s->last_used_us = time_mono_us();
	if (in_txn && !closed) {
		if (s->owned == NULL) {
			s->owned = h;
			cache_set_owner(h, s->id);
		}
	} else if (s->owned != NULL) {
		cache_clear_owner(s->owned, s->id);
		s->owned = NULL;
	}
	s->in_txn = in_txn && !closed;
	if (closed) {
		stream_destroy(s);
		return;
	}
	s->seq++;
}

/* Remove s now; it must not own a handle. */
void
stream_destroy(struct stream *s)
{
	if (s->owned != NULL) {
		cache_clear_owner(s->owned, s->id);
		s->owned = NULL;
	}
	lru_remove(&streams, &s->le);
	if (!s->expired)
		stream_live--;
	sqlstore_clear(&s->sql);
	free(s);
}

static void
stream_rollback_run(struct job *j)
{
	exec_rollback(j->h);
}

static void
stream_rollback_done(struct job *j)
{
	free(j);
}

/* Expire idle streams and drop old tombstones.  Called once a second. */
void
stream_expire_tick(void)
{
	struct lru_entry	*e, *next;
	struct stream		*s;
	struct job		*j;
	uint64_t		 now = time_mono_us();
	uint64_t		 idle = (uint64_t)cfg.stream_timeout_s * 1000000;
	size_t			 pos;

	for (e = lru_first(&streams, &pos); e != NULL; e = next) {
		next = lru_next(&streams, e, &pos);
		s = (struct stream *)e;
		if (s->busy)
			continue;
		if (s->expired) {
			if (now - s->last_used_us >
			    (uint64_t)STREAM_TOMBSTONE_S * 1000000)
				stream_destroy(s);
			continue;
		}
		if (now - s->last_used_us < idle)
			continue;
		log_debug("stream %016llx: tenant %s: expired after %d s idle%s",
		    (unsigned long long)s->id, s->tid, cfg.stream_timeout_s,
		    s->owned ? ", rolling back its transaction" : "");
		if (s->owned != NULL) {
			/* The rollback runs as the owner, ahead of waiters;
			 * ownership ends once it is queued. */
			j = xcalloc(1, sizeof *j);
			j->run = stream_rollback_run;
			j->done = stream_rollback_done;
			j->stream_id = s->id;
			j->force = 1;
			j->front = 1;
			cache_submit(s->owned, j);
			cache_clear_owner(s->owned, s->id);
			s->owned = NULL;
		}
		s->expired = 1;
		s->in_txn = 0;
		stream_live--;
		sqlstore_clear(&s->sql);
		s->last_used_us = now;
	}
}

size_t
stream_count(void)
{
	return (stream_live);
}

/* Drop every stream at shutdown (handles are closed separately). */
void
stream_shutdown(void)
{
	struct lru_entry	*e, *next;
	struct stream		*s;
	size_t			 pos;

	for (e = lru_first(&streams, &pos); e != NULL; e = next) {
		next = lru_next(&streams, e, &pos);
		s = (struct stream *)e;
		s->owned = NULL;
		lru_remove(&streams, &s->le);
		sqlstore_clear(&s->sql);
		free(s);
	}
	lru_free(&streams);
}

/* --- stored SQL ---------------------------------------------------------- */

void
sqlstore_clear(struct sqlstore *st)
{
	size_t	i;

	for (i = 0; i < st->n; i++)
		free(st->items[i].sql);
	st->n = 0;
}

const char *
sqlstore_get(struct sqlstore *st, int32_t id, size_t *len)
{
	size_t	i;

	for (i = 0; i < st->n; i++) {
		if (st->items[i].id == id) {
			*len = st->items[i].len;
			return (st->items[i].sql);
		}
	}
	return (NULL);
}

/* 0 stored; -1 the id is taken; -2 too many; -3 too long. */
int
sqlstore_put(struct sqlstore *st, int32_t id, const char *sql, size_t len)
{
	size_t	dummy;

	if (sqlstore_get(st, id, &dummy) != NULL)
		return (-1);
	if (st->n >= STREAM_SQL_MAX)
		return (-2);
	if (len > STREAM_SQL_MAXLEN)
		return (-3);
	st->items[st->n].id = id;
	st->items[st->n].sql = xmalloc(len + 1);
	memcpy(st->items[st->n].sql, sql, len);
	st->items[st->n].sql[len] = '\0';
	st->items[st->n].len = len;
	st->n++;
	return (0);
}

void
sqlstore_del(struct sqlstore *st, int32_t id)
{
	size_t	i;

	for (i = 0; i < st->n; i++) {
		if (st->items[i].id == id) {
			free(st->items[i].sql);
			st->items[i] = st->items[st->n - 1];
			st->n--;
			return;
		}
	}
}
