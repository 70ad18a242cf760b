/*
 * test_lru.c: unit tests for tenantd/lru.c.
 *
 * The LRU decides which tenant database the handle cache closes when it is
 * full, so the properties a user would notice are: the evicted handle is
 * the one idle longest, a handle in use (pinned) is never closed under a
 * running job, every open handle stays findable however many there are,
 * and the hit/miss pattern is what LRU promises.  The last tests drive the
 * table the way cache.c does and compare against a naive reference model.
 *
 * Objects embed struct lru_entry as their first member, as struct handle
 * does.  Single-threaded; touches no files.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"
#include "tap.h"

struct obj {
	struct lru_entry	le;
	int			n;
	int			visits;
};

static void
obj_key(struct obj *o, int n, char *key, size_t len)
{
	o->n = n;
	snprintf(key, len, "tenant-%d", n);
}

static int
ins(struct lru *l, struct obj *o, int n)
{
	char	key[32];

	memset(o, 0, sizeof *o);
	obj_key(o, n, key, sizeof key);
	return (lru_insert(l, &o->le, key, strlen(key)));
}

static struct obj *
find(struct lru *l, int n)
{
	char	key[32];

	snprintf(key, sizeof key, "tenant-%d", n);
	return ((struct obj *)lru_find(l, key, strlen(key)));
}

/* The victim's number, or -1 if there is none. */
static int
victim(struct lru *l)
{
	struct lru_entry	*e = lru_victim(l);

	return (e == NULL ? -1 : ((struct obj *)e)->n);
}

static void
test_basic(void)
{
	struct lru	l;
	struct obj	o[4], dup;

	lru_init(&l, 0);
	is_int(victim(&l), -1, "empty table: no victim");
	ok(find(&l, 0) == NULL, "empty table: find misses");

	is_int(ins(&l, &o[0], 0), 0, "insert 0");
	is_int(ins(&l, &o[1], 1), 0, "insert 1");
	is_int(ins(&l, &o[2], 2), 0, "insert 2");
	is_int(l.count, 3, "count 3");
	ok(find(&l, 0) == &o[0] && find(&l, 1) == &o[1] &&
	    find(&l, 2) == &o[2], "find returns each entry");
	ok(find(&l, 3) == NULL, "find of an absent key");
	ok(lru_find(&l, "tenant-1", 7) == NULL,
	    "find of a prefix of a key misses");

	/* Fresh entries are idle; the oldest insert goes first. */
	is_int(victim(&l), 0, "victim is the oldest insert");
	is_int(victim(&l), 0, "asking for the victim does not evict it");

	/* Use 0: it becomes the most recent, 1 is now the oldest. */
	lru_pin(&l, &o[0].le);
	lru_unpin(&l, &o[0].le);
	is_int(victim(&l), 1, "after using 0, victim is 1");
	lru_pin(&l, &o[1].le);
	lru_unpin(&l, &o[1].le);
	is_int(victim(&l), 2, "after using 1, victim is 2");
	lru_pin(&l, &o[2].le);
	lru_unpin(&l, &o[2].le);
	is_int(victim(&l), 0, "after using 2, victim is 0 again");

	/* Finding is not using: only unpin updates recency. */
	(void)find(&l, 0);
	is_int(victim(&l), 0, "find alone does not refresh an entry");

	/* Duplicate keys and over-long keys are refused. */
	memset(&dup, 0, sizeof dup);
	is_int(lru_insert(&l, &dup.le, "tenant-1", 8), -1,
	    "duplicate insert fails");
	ok(find(&l, 1) == &o[1], "duplicate insert kept the original");
	is_int(l.count, 3, "duplicate insert: count still 3");
	{
		char	longkey[TID_MAX + 2];

		memset(longkey, 'k', sizeof longkey);
		is_int(lru_insert(&l, &dup.le, longkey, TID_MAX + 1), -1,
		    "insert of a 65-byte key fails");
		is_int(lru_insert(&l, &dup.le, longkey, TID_MAX), 0,
		    "insert of a 64-byte key works");
		ok(lru_find(&l, longkey, TID_MAX) == &dup.le,
		    "64-byte key is findable");
		lru_remove(&l, &dup.le);
	}

	/* Remove. */
	lru_remove(&l, &o[0].le);
	ok(find(&l, 0) == NULL, "removed entry is not found");
	is_int(l.count, 2, "count 2 after remove");
	is_int(victim(&l), 1, "removed entry is no victim candidate");
	is_int(ins(&l, &o[3], 0), 0, "key can be inserted again after remove");
	ok(find(&l, 0) == &o[3], "re-inserted key finds the new entry");
	lru_free(&l);
}

static void
test_pins(void)
{
	struct lru	l;
	struct obj	o[3], o2;

	lru_init(&l, 8);
	ins(&l, &o[0], 0);
	ins(&l, &o[1], 1);
	ins(&l, &o[2], 2);

	lru_pin(&l, &o[0].le);
	is_int(victim(&l), 1, "pinned 0 is skipped");
	lru_pin(&l, &o[1].le);
	lru_pin(&l, &o[2].le);
	is_int(victim(&l), -1, "all pinned: no victim");
	ok(find(&l, 1) == &o[1], "pinned entries are still found");

	/* Nesting: two uses need two releases. */
	lru_pin(&l, &o[1].le);
	lru_unpin(&l, &o[1].le);
	is_int(victim(&l), -1, "pinned twice, unpinned once: still pinned");
	lru_unpin(&l, &o[1].le);
	is_int(victim(&l), 1, "second unpin makes it idle");

	lru_unpin(&l, &o[2].le);
	lru_unpin(&l, &o[0].le);
	/* Idle order is release order: 1, then 2, then 0. */
	is_int(victim(&l), 1, "release order: 1 first");
	lru_remove(&l, &o[1].le);
	is_int(victim(&l), 2, "release order: then 2");
	lru_remove(&l, &o[2].le);
	is_int(victim(&l), 0, "release order: then 0");
	lru_remove(&l, &o[0].le);
	is_int(victim(&l), -1, "all removed: no victim");
	is_int(l.count, 0, "all removed: count 0");

	/*
	 * An entry detached while in use (a deleted tenant whose job is still
	 * running) must not come back as a victim when the job ends.
	 */
	ins(&l, &o[0], 0);
	ins(&l, &o[1], 1);
	lru_pin(&l, &o[0].le);
	lru_remove(&l, &o[0].le);
	lru_unpin(&l, &o[0].le);
	is_int(victim(&l), 1, "unpin after remove: not a victim");
	lru_remove(&l, &o[1].le);
	is_int(victim(&l), -1, "unpin after remove: not on the idle list");
	is_int(l.count, 0, "unpin after remove: count 0");
	ok(find(&l, 0) == NULL, "unpin after remove: not back in the table");

	/* Same, with a new entry for the same key inserted meanwhile. */
	ins(&l, &o[0], 0);
	lru_pin(&l, &o[0].le);
	lru_remove(&l, &o[0].le);
	ins(&l, &o2, 0);
	lru_pin(&l, &o2.le);
	lru_unpin(&l, &o[0].le);
	is_int(victim(&l), -1, "old entry unpinned, new one pinned: "
	    "no victim");
	ok(find(&l, 0) == &o2, "key finds the new entry");
	lru_unpin(&l, &o2.le);
	ok(lru_victim(&l) == &o2.le, "new entry idles normally");
	lru_remove(&l, &o2.le);
	is_int(victim(&l), -1, "old entry never reappeared");
	lru_free(&l);
}

#define NBIG	10000

static void
test_growth_and_iteration(void)
{
	struct lru		 l;
	struct obj		*o = calloc(NBIG, sizeof *o);
	struct lru_entry	*e;
	size_t			 pos;
	int			 i, missing = 0, wrong = 0, fails = 0;
	int			 once = 0, total = 0, other = 0;

	if (o == NULL)
		return;
	lru_init(&l, 4);
	for (i = 0; i < NBIG; i++)
		if (ins(&l, &o[i], i) != 0)
			fails++;
	is_int(fails, 0, "insert 10000 into a table sized for 4");
	is_int(l.count, NBIG, "count 10000");
	for (i = 0; i < NBIG; i++) {
		struct obj *f = find(&l, i);

		if (f == NULL)
			missing++;
		else if (f != &o[i])
			wrong++;
	}
	is_int(missing, 0, "after growth: every entry found");
	is_int(wrong, 0, "after growth: every key finds its own entry");
	is_int(victim(&l), 0, "after growth: victim is still the oldest");

	/* Iteration visits each entry once. */
	for (e = lru_first(&l, &pos); e != NULL; e = lru_next(&l, e, &pos)) {
		struct obj *x = (struct obj *)e;

		if (x < o || x >= o + NBIG)
			other++;
		else
			x->visits++;
		total++;
		if (total > 2 * NBIG)
			break;
	}
	for (i = 0; i < NBIG; i++)
		if (o[i].visits == 1)
			once++;
	is_int(total, NBIG, "iteration: 10000 steps");
	is_int(once, NBIG, "iteration: each entry exactly once");
	is_int(other, 0, "iteration: nothing foreign");

	/* Remove every third entry; iteration and find follow. */
	for (i = 0; i < NBIG; i += 3)
		lru_remove(&l, &o[i].le);
	for (i = 0; i < NBIG; i++)
		o[i].visits = 0;
	total = 0;
	for (e = lru_first(&l, &pos); e != NULL; e = lru_next(&l, e, &pos)) {
		((struct obj *)e)->visits++;
		if (++total > 2 * NBIG)
			break;
	}
	for (i = 0, wrong = 0; i < NBIG; i++) {
		int want = i % 3 == 0 ? 0 : 1;

		if (o[i].visits != want || (find(&l, i) != NULL) != want)
			wrong++;
	}
	is_int(total, NBIG - (NBIG + 2) / 3, "iteration after removes: count");
	is_int(wrong, 0, "iteration after removes: exactly the survivors");
	is_int(l.count, NBIG - (NBIG + 2) / 3, "count after removes");
	is_int(victim(&l), 1, "victim after removing 0: 1");
	lru_free(&l);

	lru_init(&l, 0);
	ok(lru_first(&l, &pos) == NULL, "iteration of an empty table");
	lru_free(&l);
	free(o);
}

/*
 * Drive the table as cache.c does: look up; on a miss evict the victim if
 * the cache is full, then insert; then pin for the job and unpin after.
 */
struct sim {
	struct lru	 l;
	struct obj	*o;
	int		 cap;
	int		 hits, misses, max_count, no_victim;
};

static int
sim_access(struct sim *s, int k)
{
	struct obj		*f = find(&s->l, k);
	struct lru_entry	*v;
	int			 evicted = -1;

	if (f != NULL)
		s->hits++;
	else {
		s->misses++;
		if ((int)s->l.count >= s->cap) {
			if ((v = lru_victim(&s->l)) == NULL)
				s->no_victim++;
			else {
				evicted = ((struct obj *)v)->n;
				lru_remove(&s->l, v);
			}
		}
		ins(&s->l, &s->o[k], k);
		f = &s->o[k];
	}
	if ((int)s->l.count > s->max_count)
		s->max_count = (int)s->l.count;
	lru_pin(&s->l, &f->le);
	lru_unpin(&s->l, &f->le);
	return (evicted);
}

static void
sim_init(struct sim *s, int cap, int nkeys)
{
	memset(s, 0, sizeof *s);
	lru_init(&s->l, (size_t)cap);
	s->o = calloc((size_t)nkeys, sizeof *s->o);
	s->cap = cap;
}

static void
sim_free(struct sim *s)
{
	lru_free(&s->l);
	free(s->o);
}

static void
test_policy(void)
{
	struct sim	s;
	int		r, k;

	/* 50 keys round robin through 4 slots: LRU always evicts the next. */
	sim_init(&s, 4, 50);
	for (r = 0; r < 3; r++)
		for (k = 0; k < 50; k++)
			sim_access(&s, k);
	is_int(s.max_count, 4, "round robin 50 over cap 4: never above 4");
	is_int(s.misses, 150, "round robin 50 over cap 4: 150 misses");
	is_int(s.hits, 0, "round robin 50 over cap 4: 0 hits");
	is_int(s.no_victim, 0, "round robin 50 over cap 4: always a victim");
	sim_free(&s);

	/* A working set that fits: one cold miss per key, then all hits. */
	sim_init(&s, 4, 4);
	for (r = 0; r < 3; r++)
		for (k = 0; k < 4; k++)
			sim_access(&s, k);
	is_int(s.misses, 4, "round robin 4 over cap 4: 4 misses");
	is_int(s.hits, 8, "round robin 4 over cap 4: 8 hits");
	sim_free(&s);

	/* A hot key touched between cold ones stays cached. */
	sim_init(&s, 2, 100);
	for (k = 1; k < 100; k++) {
		sim_access(&s, 0);
		sim_access(&s, k);
	}
	is_int(s.misses, 1 + 99, "hot key: only cold keys miss");
	is_int(s.hits, 98, "hot key: hits every time after the first");
	sim_free(&s);
}

/*
 * Random accesses compared against a reference LRU: an array of last-use
 * times.  Some keys are held pinned for a while (a long job), and the
 * reference skips those when choosing whom to evict.
 */
#define RK	12
#define RCAP	5

static void
test_reference(void)
{
	struct sim	 s;
	long		 last[RK];	/* last use time, -1: not cached */
	long		 clock = 0;
	int		 held[RK], i, k, t, want, got, bad = 0, pinned_evicted = 0;
	int		 ref_hits = 0, ref_misses = 0;

	sim_init(&s, RCAP, RK);
	for (k = 0; k < RK; k++) {
		last[k] = -1;
		held[k] = 0;
	}
	srandom(1234);
	for (t = 0; t < 20000; t++) {
		k = (int)(random() % RK);

		/* Reference model. */
		want = -1;
		if (last[k] >= 0)
			ref_hits++;
		else {
			int ncached = 0;

			ref_misses++;
			for (i = 0; i < RK; i++)
				if (last[i] >= 0)
					ncached++;
			if (ncached >= RCAP) {
				for (i = 0; i < RK; i++) {
					if (last[i] < 0 || held[i])
						continue;
					if (want == -1 || last[i] < last[want])
						want = i;
				}
				if (want >= 0)
					last[want] = -1;
			}
		}

		got = sim_access(&s, k);
		if (got >= 0 && held[got])
			pinned_evicted++;
		if (got != want)
			bad++;
		/*
		 * A held entry was used for the whole time it was held:
		 * on release it is the most recent.
		 */
		last[k] = ++clock;

		/* Now and then hold a key (at most 2 at once) or release. */
		if (t % 7 == 0) {
			int nheld = 0;

			for (i = 0; i < RK; i++)
				nheld += held[i];
			i = (int)(random() % RK);
			if (held[i]) {
				held[i] = 0;
				lru_unpin(&s.l, &s.o[i].le);
				last[i] = ++clock;
			} else if (nheld < 2 && last[i] >= 0) {
				held[i] = 1;
				lru_pin(&s.l, &s.o[i].le);
			}
		}
	}
	is_int(bad, 0, "20000 random accesses: every eviction matches a "
	    "reference LRU");
	is_int(pinned_evicted, 0, "20000 random accesses: no held entry "
	    "evicted");
	is_int(s.hits, ref_hits, "20000 random accesses: hits match (%d)",
	    ref_hits);
	is_int(s.misses, ref_misses, "20000 random accesses: misses match");
	is_int(s.max_count, RCAP, "20000 random accesses: never above cap");
	for (k = 0; k < RK; k++)
		if (held[k])
			lru_unpin(&s.l, &s.o[k].le);
	sim_free(&s);
}

/*
 * Handles that gave their memory back (cache.c's idle release) are put
 * back with lru_unpin_old: they are evicted before any other idle handle,
 * the longest released first, and a walk of the idle list from its old end
 * (the release scan) never meets them, however many there are.  A use
 * brings one back to the idle list as the most recently used.
 */
#define NCOLD	5000

static void
test_cold(void)
{
	struct lru		 l;
	struct obj		*o = calloc(NCOLD + 3, sizeof *o);
	struct lru_entry	*e;
	int			 i, walked, bad;

	lru_init(&l, 16);
	for (i = 0; i < NCOLD + 3; i++)
		ins(&l, &o[i], i);
	/* Release 0 .. NCOLD-1 in that order, as the scan does from the old
	 * end: pin for the upkeep, unpin as not a use. */
	for (i = 0; i < NCOLD; i++) {
		lru_pin(&l, &o[i].le);
		lru_unpin_old(&l, &o[i].le);
	}
	is_int((int)l.nidle, NCOLD + 3, "cold entries still count as idle");
	walked = 0;
	bad = 0;
	for (e = TAILQ_LAST(&l.idle, lru_list); e != NULL;
	    e = TAILQ_PREV(e, lru_list, idle)) {
		walked++;
		bad += ((struct obj *)e)->n < NCOLD;
	}
	is_int(walked, 3, "the idle list holds only the 3 not released");
	is_int(bad, 0, "no released entry on the idle list");
	is_int(victim(&l), 0, "victim: the first released");
	lru_remove(&l, &o[0].le);
	is_int(victim(&l), 1, "then the next released");

	/* A released entry used again is the most recently used idle one. */
	lru_pin(&l, &o[1].le);
	is_int(victim(&l), 2, "a pinned cold entry is no victim");
	lru_unpin(&l, &o[1].le);
	is_int(victim(&l), 2, "used again, it left the cold list");
	ok(TAILQ_FIRST(&l.idle) == &o[1].le, "and heads the idle list");

	/* Evict everything: the cold list in release order, then the idle
	 * list from its old end (NCOLD, NCOLD+1, NCOLD+2, then 1). */
	bad = 0;
	for (i = 2; i < NCOLD; i++) {
		if (victim(&l) != i)
			bad++;
		lru_remove(&l, lru_victim(&l));
	}
	is_int(bad, 0, "cold entries evicted oldest release first");
	is_int(victim(&l), NCOLD, "then the idle list, least recent first");
	lru_remove(&l, &o[NCOLD].le);
	lru_remove(&l, &o[NCOLD + 1].le);
	lru_remove(&l, &o[NCOLD + 2].le);
	is_int(victim(&l), 1, "the reused entry last");
	lru_remove(&l, &o[1].le);
	is_int(victim(&l), -1, "empty: no victim");
	is_int((int)l.nidle, 0, "empty: nidle 0");

	/* Removed while cold: gone from both lists. */
	ins(&l, &o[0], 0);
	lru_pin(&l, &o[0].le);
	lru_unpin_old(&l, &o[0].le);
	lru_remove(&l, &o[0].le);
	is_int(victim(&l), -1, "a cold entry removed is no victim");
	ok(TAILQ_EMPTY(&l.cold) && TAILQ_EMPTY(&l.idle), "both lists empty");
	lru_free(&l);
	free(o);
}

int
main(void)
{
	test_basic();
	test_pins();
	test_cold();
	test_growth_and_iteration();
	test_policy();
	test_reference();
	return (tap_done());
}
