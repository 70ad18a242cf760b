/*
 * lru.c: a string-keyed hash table with an LRU list of unpinned entries.
 *
 * Owns nothing but its bucket array: entries are embedded in the caller's
 * objects (struct handle, struct stream).  An entry is "pinned" while
 * something uses it (a job queued or running, a transaction held); only
 * unpinned entries sit on the idle list, most recently used at the head,
 * so lru_victim() is O(1) and can never return an entry in use.  Entries
 * put back by lru_unpin_old (upkeep that should not count as a use: a
 * handle that gave its memory back) go on a second, cold list instead:
 * older than anything idle, victims before any of it, and out of the way
 * of a walk of the idle list from its old end, which so sees only what
 * has not been put aside yet.  Loop thread only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

static void
lru_grow(struct lru *l)
{
	struct lru_entry	**nb, *e, *next;
	size_t			  n = l->nbuckets * 2, i, b;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < l->nbuckets; i++) {
		for (e = l->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			b = e->hash & (n - 1);
			e->hnext = nb[b];
			nb[b] = e;
		}
	}
	free(l->buckets);
	l->buckets = nb;
	l->nbuckets = n;
}

/* Initialise an empty table sized for about hint entries. */
void
lru_init(struct lru *l, size_t hint)
{
	size_t	n = 16;

	while (n < hint)
		n *= 2;
	memset(l, 0, sizeof *l);
	l->buckets = xcalloc(n, sizeof *l->buckets);
	l->nbuckets = n;
	TAILQ_INIT(&l->idle);
	TAILQ_INIT(&l->cold);
}

/* Free the bucket array; entries are the caller's. */
void
lru_free(struct lru *l)
{
	free(l->buckets);
	l->buckets = NULL;
	l->nbuckets = l->count = l->nidle = 0;
}

/* Returns the entry for key (borrowed), or NULL. */
struct lru_entry *
lru_find(struct lru *l, const char *key, size_t len)
{
	struct lru_entry	*e;
	uint32_t		 h = tid_hash(key, len);

	for (e = l->buckets[h & (l->nbuckets - 1)]; e != NULL; e = e->hnext) {
		if (e->hash == h && e->keylen == len &&
		    memcmp(e->key, key, len) == 0)
			return (e);
	}
	return (NULL);
}

/*
 * Insert e under key.  The entry starts unpinned, at the head of the idle
 * list.  Returns -1 if the key is too long or already present.
 */
int
lru_insert(struct lru *l, struct lru_entry *e, const char *key, size_t len)
{
	size_t	b;

	if (len > TID_MAX || lru_find(l, key, len) != NULL)
		return (-1);
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->keylen = len;
	e->hash = tid_hash(key, len);
	e->pins = 0;
	if (l->count + 1 > l->nbuckets - l->nbuckets / 4)
		lru_grow(l);
	b = e->hash & (l->nbuckets - 1);
	e->hnext = l->buckets[b];
	l->buckets[b] = e;
	l->count++;
	TAILQ_INSERT_HEAD(&l->idle, e, idle);
	e->in_idle = LRU_IDLE;
	l->nidle++;
	return (0);
}

/* Take e off the idle or the cold list, if it is on one. */
static void
lru_unlist(struct lru *l, struct lru_entry *e)
{
	if (e->in_idle == LRU_IDLE)
		TAILQ_REMOVE(&l->idle, e, idle);
	else if (e->in_idle == LRU_COLD)
		TAILQ_REMOVE(&l->cold, e, idle);
	else
		return;
	e->in_idle = 0;
	l->nidle--;
}

/* Unlink e from the table and the idle list; pins are left as they are. */
void
lru_remove(struct lru *l, struct lru_entry *e)
{
	struct lru_entry	**pp;

	for (pp = &l->buckets[e->hash & (l->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			l->count--;
			break;
		}
	}
	e->hnext = NULL;
	lru_unlist(l, e);
}

/* Mark e in use: it leaves the idle list until its last unpin. */
void
lru_pin(struct lru *l, struct lru_entry *e)
{
	if (e->pins++ == 0)
		lru_unlist(l, e);
}

/*
 * Drop one use of e.  At zero it becomes the most recently used idle entry.
 * An entry no longer in the table (hnext cleared by lru_remove and absent
 * from its bucket) is not put back on the idle list.
 */
void
lru_unpin(struct lru *l, struct lru_entry *e)
{
	if (e->pins <= 0)
		fatalx("lru_unpin: %s not pinned", e->key);
	if (--e->pins == 0 && lru_find(l, e->key, e->keylen) == e) {
		TAILQ_INSERT_HEAD(&l->idle, e, idle);
		e->in_idle = LRU_IDLE;
		l->nidle++;
	}
}

/*
 * lru_unpin for a use that should not count as one (background upkeep of
 * an idle entry): at zero, e goes on the cold list, whose entries are
 * victims before any idle one (the longest there first).
 */
void
lru_unpin_old(struct lru *l, struct lru_entry *e)
{
	if (e->pins <= 0)
		fatalx("lru_unpin_old: %s not pinned", e->key);
	if (--e->pins == 0 && lru_find(l, e->key, e->keylen) == e) {
		TAILQ_INSERT_HEAD(&l->cold, e, idle);
		e->in_idle = LRU_COLD;
		l->nidle++;
	}
}

/* The least recently used unpinned entry, or NULL if all are pinned. */
struct lru_entry *
lru_victim(struct lru *l)
{
	struct lru_entry	*e;

	if ((e = TAILQ_LAST(&l->cold, lru_list)) != NULL)
		return (e);
	return (TAILQ_LAST(&l->idle, lru_list));
}

/* Iterate over every entry: *pos is the bucket cursor. */
struct lru_entry *
lru_first(struct lru *l, size_t *pos)
{
	for (*pos = 0; *pos < l->nbuckets; (*pos)++) {
		if (l->buckets[*pos] != NULL)
			return (l->buckets[*pos]);
	}
	return (NULL);
}

struct lru_entry *
lru_next(struct lru *l, struct lru_entry *e, size_t *pos)
{
	if (e->hnext != NULL)
		return (e->hnext);
	for ((*pos)++; *pos < l->nbuckets; (*pos)++) {
		if (l->buckets[*pos] != NULL)
			return (l->buckets[*pos]);
	}
	return (NULL);
}
