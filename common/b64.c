/*
 * b64.c: base64 (RFC 4648).  Hrana carries blobs in the standard alphabet,
 * with or without '=' padding; batons use the URL-safe alphabet unpadded.
 * Decoders treat their input as untrusted: they return -1 on any byte
 * outside the alphabet or on impossible lengths.  Any thread.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64_encoded_len(size_t n)
{
	return (((n + 2) / 3) * 4);
}

static size_t
b64_encode_with(const char *alpha, const unsigned char *in, size_t n,
    char *out, int pad)
{
	size_t	i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i == 1) {
		unsigned v = in[i] << 16;
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		unsigned v = (in[i] << 16) | (in[i + 1] << 8);
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (o);
}

/*
 * Encode n bytes into out, which must hold b64_encoded_len(n) + 1 bytes.
 * Returns the length written (without the NUL).
 */
size_t
b64_encode(const unsigned char *in, size_t n, char *out, int pad)
{
	return (b64_encode_with(b64_std, in, n, out, pad));
}

size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	return (b64_encode_with(b64_url, in, n, out, 0));
}

static int
b64_val(int url, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (url) {
		if (c == '-')
			return (62);
		if (c == '_')
			return (63);
	} else {
		if (c == '+')
			return (62);
		if (c == '/')
			return (63);
	}
	return (-1);
}

static int
b64_decode_into(int url, const char *in, size_t n, unsigned char *out,
    size_t outsize, size_t *outlen)
{
	size_t		i, o = 0;
	unsigned	acc = 0;
	int		bits = 0, v;

	/* Strip up to two '=' of padding; padding must complete a quantum. */
	if (n > 0 && in[n - 1] == '=') {
		if (n % 4 != 0)
			return (-1);
		n--;
		if (n > 0 && in[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((v = b64_val(url, (unsigned char)in[i])) < 0)
			return (-1);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsize)
				return (-1);
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return (-1);
	*outlen = o;
	return (0);
}

/*
 * Decode standard base64 (padding optional).  On success *out is a new
 * buffer (free() it; never NULL, even for empty input) and returns 0;
 * returns -1 on malformed input.
 */
int
b64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char	*buf;

	buf = xmalloc(n / 4 * 3 + 3);
	if (b64_decode_into(0, in, n, buf, n / 4 * 3 + 3, outlen) != 0) {
		free(buf);
		return (-1);
	}
	*out = buf;
	return (0);
}

/* Decode URL-safe base64 into a caller buffer; -1 if malformed or too long. */
int
b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsize,
    size_t *outlen)
{
	return (b64_decode_into(1, in, n, out, outsize, outlen));
}
