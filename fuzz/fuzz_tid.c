/*
 * fuzz_tid.c: libFuzzer target for tenant id validation (common/tid.c)
 * and percent-decoding of ids from URL paths (http_pct_decode in
 * tenantd/http.c).
 *
 * A tenant id names a file and an LMDB key, so the promise checked here
 * is the one docs/API.md makes: an id tid_valid() accepts is 1 to 64 bytes
 * of [A-Za-z0-9_.-], does not start with '.', and so holds no '/', no NUL
 * and is never "." or "..".  tid_valid() and tid_error() must agree, and
 * tid_shard() must name one of the TID_SHARDS folders.
 *
 * The input is then percent-decoded as admin_route() and the data plane
 * do, into a heap buffer of exactly the size they pass, so ASan sees any
 * write past it, and the decoded bytes go through the same checks.  Any
 * broken promise calls abort().  Single-threaded.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_tid: broken: %s\n", what);
		abort();
	}
}

static int
id_char(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
}

/* The rule, written independently of tid.c. */
static int
expect_valid(const char *id, size_t len)
{
	size_t	i;

	if (len < 1 || len > TID_MAX || id[0] == '.')
		return (0);
	for (i = 0; i < len; i++)
		if (!id_char((unsigned char)id[i]))
			return (0);
	return (1);
}

static void
check_id(const char *id, size_t len)
{
	const char	*why;
	int		 valid, shard;

	why = tid_error(id, len);
	valid = tid_valid(id, len);
	check(valid == (why == NULL), "tid_valid and tid_error disagree");
	check(valid == expect_valid(id, len), "tid_valid differs from the rule");
	if (why != NULL)
		check(why[0] != '\0', "tid_error gave an empty reason");
	if (valid) {
		check(len >= 1 && len <= TID_MAX, "valid id of bad length");
		check(id[0] != '.', "valid id starts with '.'");
		check(memchr(id, '/', len) == NULL, "valid id holds '/'");
		check(memchr(id, '\0', len) == NULL, "valid id holds NUL");
		check(!(len == 2 && id[0] == '.' && id[1] == '.'),
		    "valid id is \"..\"");
	}
	shard = tid_shard(id, len);
	check(shard >= 0 && shard < TID_SHARDS, "tid_shard out of range");
	check(tid_hash(id, len) == tid_hash(id, len), "tid_hash not stable");
}

/* Percent-decode into exactly size bytes, as the callers do. */
static void
check_decode(const char *s, size_t n, size_t size)
{
	char	*out;
	size_t	 outlen = (size_t)-1, i, pct;
	int	 rc;

	out = malloc(size > 0 ? size : 1);
	check(out != NULL, "malloc");
	rc = http_pct_decode(s, n, out, size, &outlen);
	check(rc == 0 || rc == -1, "http_pct_decode: return code");
	for (i = 0, pct = 0; i < n; i++)
		if (s[i] == '%')
			pct++;
	if (rc == 0) {
		check(outlen <= size, "http_pct_decode: wrote past the size");
		check(outlen + 2 * pct == n,
		    "http_pct_decode: length does not match the escapes");
		if (pct == 0)
			check(outlen == n && (n == 0 || memcmp(out, s, n) == 0),
			    "http_pct_decode changed text without escapes");
		check_id(out, outlen);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;

	check_id(s, size);
	/* admin_route(): char id[TID_MAX * 3 + 1], size passed one less. */
	check_decode(s, size, TID_MAX * 3);
	/* Small and exact sizes find off-by-one writes. */
	check_decode(s, size, TID_MAX);
	check_decode(s, size, size);
	return (0);
}
