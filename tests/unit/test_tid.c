/*
 * test_tid.c: unit tests for common/tid.c (tenant ids).
 *
 * A tenant id names a folder and an LMDB key, so the validator is the one
 * thing between a request path and the file system.  The table below is
 * the contract: each row is an id (with an explicit length, so embedded
 * NUL bytes are real) and whether it must be accepted.  Rejected ids must
 * also come with a message for the client.  Then the shard function:
 * stable (same id, same folder, every call) and in range.
 *
 * Pure functions; single-threaded; touches no files.
 */

#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tenantd.h"
#include "tap.h"

#define S(lit)	(lit), sizeof(lit) - 1	/* literal with its exact length */

struct tid_case {
	const char	*name;
	const char	*id;
	size_t		 len;
	int		 valid;
};

static char	id64[TID_MAX + 1], id65[TID_MAX + 2];

static void
test_table(void)
{
	const struct tid_case cases[] = {
		{ "one letter",		S("a"),		1 },
		{ "word",		S("alice"),	1 },
		{ "every punctuation",	S("A-b_c.d"),	1 },
		{ "64 chars",		id64, TID_MAX,	1 },
		{ "dots inside",	S("a..b"),	1 },
		{ "digit",		S("0"),		1 },
		{ "trailing dot",	S("a."),	1 },
		{ "empty",		"", 0,		0 },
		{ "65 chars",		id65, TID_MAX + 1, 0 },
		{ "hidden file",	S(".hidden"),	0 },
		{ "dot dot",		S(".."),	0 },
		{ "dot",		S("."),		0 },
		{ "parent path",	S("../x"),	0 },
		{ "slash",		S("a/b"),	0 },
		{ "space",		S("a b"),	0 },
		{ "embedded NUL",	S("a\0b"),	0 },
		{ "trailing NUL",	S("ab\0"),	0 },
		{ "UTF-8 e-acute",	S("\xc3\xa9"),	0 },
		{ "percent-encoded ..",	S("%2e%2e"),	0 },
		{ "backslash",		S("a\\b"),	0 },
		{ "colon",		S("a:b"),	0 },
		{ "newline",		S("a\n"),	0 },
		{ "high byte",		S("a\xff"),	0 },
	};
	const char	*msg;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct tid_case *c = &cases[i];

		is_int(tid_valid(c->id, c->len), c->valid, "tid_valid: %s",
		    c->name);
		msg = tid_error(c->id, c->len);
		if (c->valid)
			ok(msg == NULL, "tid_error: %s has no message",
			    c->name);
		else
			ok(msg != NULL && *msg != '\0',
			    "tid_error: %s says why (%s)", c->name,
			    msg ? msg : "(null)");
	}
	ok(!tid_valid(NULL, 0), "tid_valid: NULL is not an id");

	/* The length is what counts, not the NUL terminator. */
	ok(tid_valid("alice/../x", 5), "tid_valid: only len bytes are read");
}

static void
test_shard(void)
{
	char		 id[32];
	int		 s, bad_range = 0, unstable = 0, seen[TID_SHARDS];
	size_t		 i, used = 0;

	memset(seen, 0, sizeof seen);
	for (i = 0; i < 100000; i++) {
		int n = snprintf(id, sizeof id, "tenant-%zu", i);

		s = tid_shard(id, (size_t)n);
		if (s < 0 || s >= TID_SHARDS)
			bad_range++;
		else
			seen[s]++;
		if (tid_shard(id, (size_t)n) != s)
			unstable++;
	}
	is_int(bad_range, 0, "tid_shard: 100000 ids all in [0,%d)", TID_SHARDS);
	is_int(unstable, 0, "tid_shard: same id, same shard");
	for (i = 0; i < TID_SHARDS; i++)
		if (seen[i] > 0)
			used++;
	/* 100000 ids over 256 shards: every folder gets some. */
	is_int(used, TID_SHARDS, "tid_shard: every shard is used");

	/*
	 * Shards name folders on disk, so they must not change between
	 * versions: these values are FNV-1a as documented in tid.c.
	 */
	is_int(tid_hash("", 0), 2166136261u, "tid_hash: FNV-1a offset basis");
	is_int(tid_hash("a", 1), 0xe40c292cu, "tid_hash: FNV-1a of \"a\"");
	ok(tid_hash("a", 1) != tid_hash("b", 1), "tid_hash: a and b differ");
	ok(tid_hash("ab", 2) != tid_hash("ba", 2), "tid_hash: order matters");
	is_int(tid_hash("a\0b", 3) != tid_hash("a", 1), 1,
	    "tid_hash: hashes len bytes, not up to NUL");
}

int
main(void)
{
	memset(id64, 'x', TID_MAX);
	id64[TID_MAX] = '\0';
	memset(id65, 'y', TID_MAX + 1);
	id65[TID_MAX + 1] = '\0';

	test_table();
	test_shard();
	return (tap_done());
}
