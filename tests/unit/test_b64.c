/*
 * test_b64.c: unit tests for common/b64.c.
 *
 * Hrana clients send blobs in standard base64 with or without padding, and
 * read back what we encode; batons travel in unpadded URL-safe base64.
 * The RFC 4648 section 10 vectors pin the encoder; the decoder is fed
 * untrusted input, so every way to be malformed (bad byte, impossible
 * length, misplaced padding, non-canonical trailing bits, output too big
 * for the caller's buffer) must come back as -1.
 *
 * Single-threaded; touches no files.  Random data comes from a fixed seed
 * so a failure reproduces.
 */

#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"
#include "tap.h"

#define S(lit)	(lit), sizeof(lit) - 1

static const struct {
	const char	*plain;
	const char	*padded;
	const char	*unpadded;
} rfc[] = {
	{ "",		"",		"" },
	{ "f",		"Zg==",		"Zg" },
	{ "fo",		"Zm8=",		"Zm8" },
	{ "foo",	"Zm9v",		"Zm9v" },
	{ "foob",	"Zm9vYg==",	"Zm9vYg" },
	{ "fooba",	"Zm9vYmE=",	"Zm9vYmE" },
	{ "foobar",	"Zm9vYmFy",	"Zm9vYmFy" },
};
#define NRFC	(sizeof rfc / sizeof rfc[0])

/* Decode s; 1 if it decoded to exactly want (wlen bytes). */
static int
decodes_to(const char *s, size_t n, const void *want, size_t wlen)
{
	unsigned char	*out = NULL;
	size_t		 olen = (size_t)-1;
	int		 r;

	if (b64_decode(s, n, &out, &olen) != 0)
		return (0);
	r = out != NULL && olen == wlen && memcmp(out, want, wlen) == 0;
	free(out);
	return (r);
}

static void
test_encode(void)
{
	char	out[64];
	size_t	i, n;

	for (i = 0; i < NRFC; i++) {
		size_t plen = strlen(rfc[i].plain);

		memset(out, 'X', sizeof out);
		n = b64_encode((const unsigned char *)rfc[i].plain, plen, out,
		    1);
		is_str(out, rfc[i].padded, "b64_encode padded \"%s\"",
		    rfc[i].plain);
		is_int(n, strlen(rfc[i].padded), "b64_encode padded \"%s\" "
		    "returns its length", rfc[i].plain);
		is_int(b64_encoded_len(plen), strlen(rfc[i].padded),
		    "b64_encoded_len(%zu)", plen);

		memset(out, 'X', sizeof out);
		n = b64_encode((const unsigned char *)rfc[i].plain, plen, out,
		    0);
		is_str(out, rfc[i].unpadded, "b64_encode unpadded \"%s\"",
		    rfc[i].plain);
		is_int(n, strlen(rfc[i].unpadded), "b64_encode unpadded \"%s\" "
		    "returns its length", rfc[i].plain);
	}

	/* The two alphabet bytes that differ between std and url. */
	n = b64_encode((const unsigned char *)"\xfb\xff", 2, out, 1);
	is_str(out, "+/8=", "b64_encode uses + and /");
}

static void
test_decode_good(void)
{
	unsigned char	*out;
	size_t		 i, olen;

	for (i = 0; i < NRFC; i++) {
		size_t plen = strlen(rfc[i].plain);

		ok(decodes_to(rfc[i].padded, strlen(rfc[i].padded),
		    rfc[i].plain, plen), "b64_decode \"%s\"", rfc[i].padded);
		ok(decodes_to(rfc[i].unpadded, strlen(rfc[i].unpadded),
		    rfc[i].plain, plen), "b64_decode unpadded \"%s\"",
		    rfc[i].unpadded);
	}

	/* Empty input still gives a buffer the caller can free. */
	out = NULL;
	olen = 99;
	is_int(b64_decode("", 0, &out, &olen), 0, "b64_decode empty");
	ok(out != NULL && olen == 0, "b64_decode empty: buffer, length 0");
	free(out);

	ok(decodes_to(S("+/8="), "\xfb\xff", 2), "b64_decode + and /");
	/* The length given is what counts: trailing bytes are not read. */
	ok(decodes_to("Zm9v!!!!", 4, "foo", 3), "b64_decode reads only len");
}

static void
test_decode_bad(void)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 len;
	} bad[] = {
		{ "char '!'",			S("Zm9!") },
		{ "space",			S("Zm 9") },
		{ "newline",			S("Zm9v\nYmF") },
		{ "URL-safe '-'",		S("-_8=") },
		{ "URL-safe '_'",		S("Zm9_") },
		{ "NUL byte",			S("Zm\0v") },
		{ "high byte",			S("Zm9\xc3") },
		{ "length 1",			S("Z") },
		{ "length 5",			S("Zm9vY") },
		{ "length 1 padded",		S("Z===") },
		{ "non-canonical Zh==",		S("Zh==") },
		{ "non-canonical Zh",		S("Zh") },
		{ "non-canonical Zm9=",		S("Zm9=") },
		{ "non-canonical Zm9",		S("Zm9") },
		{ "padding in the middle",	S("Zg==Zm9v") },
		{ "padding then data",		S("Zg=a") },
		{ "padding first",		S("=Zg=") },
		{ "only padding",		S("====") },
		{ "single =",			S("=") },
		{ "short padding Zg=",		S("Zg=") },
		{ "three pads",			S("Zg===") },
		{ "too much padding",		S("Zm9v====") },
		{ "pad after full quantum",	S("Zm9v=") },
	};
	unsigned char	*out;
	size_t		 i, olen;
	int		 rc;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		out = NULL;
		rc = b64_decode(bad[i].in, bad[i].len, &out, &olen);
		is_int(rc, -1, "b64_decode rejects %s", bad[i].name);
		if (rc == 0)
			free(out);
	}
	/* The canonical spelling of the same byte is fine. */
	ok(decodes_to(S("Zg=="), "f", 1), "b64_decode Zg== (canonical)");
}

static void
test_roundtrip(void)
{
	unsigned char	 data[256], *out;
	char		 enc[400];
	size_t		 n, i, olen, elen;
	int		 bad_pad = 0, bad_unpad = 0, bad_url = 0;

	srandom(4648);
	for (n = 0; n <= 255; n++) {
		for (i = 0; i < n; i++)
			data[i] = (unsigned char)random();

		elen = b64_encode(data, n, enc, 1);
		if (elen != b64_encoded_len(n) || strlen(enc) != elen ||
		    b64_decode(enc, elen, &out, &olen) != 0)
			bad_pad++;
		else {
			if (olen != n || memcmp(out, data, n) != 0)
				bad_pad++;
			free(out);
		}

		elen = b64_encode(data, n, enc, 0);
		if (strchr(enc, '=') != NULL ||
		    b64_decode(enc, elen, &out, &olen) != 0)
			bad_unpad++;
		else {
			if (olen != n || memcmp(out, data, n) != 0)
				bad_unpad++;
			free(out);
		}

		{
			unsigned char	back[256];

			elen = b64url_encode(data, n, enc);
			if (strcspn(enc, "+/=") != elen ||
			    b64url_decode(enc, elen, back, sizeof back,
			    &olen) != 0 || olen != n ||
			    memcmp(back, data, n) != 0)
				bad_url++;
		}
	}
	is_int(bad_pad, 0, "round trip padded, 0..255 random bytes");
	is_int(bad_unpad, 0, "round trip unpadded, 0..255 random bytes");
	is_int(bad_url, 0, "round trip url-safe, 0..255 random bytes, "
	    "no + / =");
}

static void
test_url(void)
{
	unsigned char	out[16];
	char		enc[32];
	size_t		olen;

	b64url_encode((const unsigned char *)"\xfb\xff", 2, enc);
	is_str(enc, "-_8", "b64url_encode uses - and _, no padding");
	b64url_encode((const unsigned char *)"foobar", 6, enc);
	is_str(enc, "Zm9vYmFy", "b64url_encode foobar");

	olen = 0;
	ok(b64url_decode(S("-_8"), out, sizeof out, &olen) == 0 &&
	    olen == 2 && memcmp(out, "\xfb\xff", 2) == 0,
	    "b64url_decode -_8");
	is_int(b64url_decode(S("+/8"), out, sizeof out, &olen), -1,
	    "b64url_decode rejects the standard alphabet");
	is_int(b64url_decode(S("Zh"), out, sizeof out, &olen), -1,
	    "b64url_decode rejects non-canonical bits");
	is_int(b64url_decode(S("Z"), out, sizeof out, &olen), -1,
	    "b64url_decode rejects length 1");

	/* Output size limit: "foobar" is 6 bytes. */
	olen = 0;
	ok(b64url_decode(S("Zm9vYmFy"), out, 6, &olen) == 0 && olen == 6 &&
	    memcmp(out, "foobar", 6) == 0, "b64url_decode fits exactly");
	memset(out, 0xaa, sizeof out);
	is_int(b64url_decode(S("Zm9vYmFy"), out, 5, &olen), -1,
	    "b64url_decode: 6 bytes into 5 fails");
	is_int(out[5], 0xaa, "b64url_decode: nothing written past the limit");
	is_int(b64url_decode(S("Zm9vYmE"), out, 4, &olen), -1,
	    "b64url_decode: 5 bytes into 4 fails");
	is_int(b64url_decode(S("Zg"), out, 0, &olen), -1,
	    "b64url_decode: 1 byte into 0 fails");
	ok(b64url_decode("", 0, out, 0, &olen) == 0 && olen == 0,
	    "b64url_decode: empty into 0 is fine");
}

int
main(void)
{
	test_encode();
	test_decode_good();
	test_decode_bad();
	test_roundtrip();
	test_url();
	return (tap_done());
}
