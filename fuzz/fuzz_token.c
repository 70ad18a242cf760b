/*
 * fuzz_token.c: libFuzzer target for bearer tokens (common/token.c):
 * token_bearer() on Authorization header values and token_verify() on
 * the JWTs in them.
 *
 * Signatures cannot be forged by a fuzzer, so the claims parser behind
 * the signature check would never be reached from raw tokens alone.  The
 * harness therefore holds the private half of a fixed test key (below;
 * it protects nothing) and signs what the input says.  The first byte of
 * an input picks what the rest is (byte % 4):
 *	0  a token, verified as it is
 *	1  an Authorization header value: token_bearer(), then verify
 *	2  header JSON, '\n', claims JSON: base64url-encoded, signed, verified
 *	3  claims JSON under {"alg":"EdDSA","typ":"JWT"}: signed, verified
 * Seeds in corpus/fuzz_token/ are signed with the same key, so mode 0 and
 * 1 seeds verify.
 *
 * Every token is verified at two times, with the key pair and with its
 * public half alone (which must agree), and token.h's contract is checked:
 * a refusal gives one of the documented reasons and zeroed claims; an
 * acceptance gives claims of a known kind whose tenants are valid ids,
 * whose grants are distinct and fit the kind, which are not expired, and
 * which token_access() reads back; token_sign() of the accepted claims
 * gives a token that verifies to the same claims.  LLVMFuzzerInitialize()
 * checks the key file rules once (created 0600, group- or world-readable
 * files refused, loads give the same key).  abort() on a broken promise.
 * Single-threaded.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common.h"
#include "token.h"

#define FUZZ_NOW	INT64_C(1700000000)	/* 2023-11-14T22:13:20Z */

/* Test only: the key corpus/fuzz_token/ seeds are signed with. */
static const char fixed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJxB6Y0LuXVzTpa7nvzF+bZbaKVDa0T/8oA3M3h04whE\n"
    "-----END PRIVATE KEY-----\n";

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct token_key	*key;		/* the pair, loaded from a file */
static struct token_key	*pubkey;	/* its public half only */
static EVP_PKEY		*signer;	/* the harness's copy */
static char		 tmpdir[256];

static const char *reasons[] = {
	"token too long", "malformed token", "bad base64", "header not JSON",
	"wrong alg", "bad signature", "claims not JSON", "bad claim",
	"expired", "not yet valid", "tenant id invalid",
	"unknown access level", "too many tenants", "no usable claim",
};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_token: broken: %s\n", what);
		abort();
	}
}

static void
path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1 ||
	    fchmod(fd, mode) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    close(fd) == -1) {
		perror("fuzz_token: write");
		exit(1);
	}
}

static void
cleanup(void)
{
	const char	*names[] = { "fixed.key", "new.key", "open.key" };
	char		 path[512];
	size_t		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		path_in(path, sizeof path, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* The key file rules in token.h, checked once. */
static void
check_key_files(void)
{
	struct token_key	*k = NULL, *k2 = NULL;
	struct token_claims	 c;
	struct stat		 st;
	char			 path[512], err[256], *pem1, *pem2, *tok;

	/* Created on first use, mode 0600; loading it again: same key. */
	path_in(path, sizeof path, "new.key");
	check(token_key_load_or_create(path, &k, err, sizeof err) == 0,
	    "token_key_load_or_create could not create a key");
	check(stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) == 0600, "new key file is not mode 0600");
	check(token_key_load(path, &k2, err, sizeof err) == 0,
	    "token_key_load could not read a created key");
	pem1 = token_key_public_pem(k);
	pem2 = token_key_public_pem(k2);
	check(pem1 != NULL && pem2 != NULL && strcmp(pem1, pem2) == 0,
	    "a created key loads as another key");
	free(pem1);
	free(pem2);
	token_key_free(k);
	token_key_free(k2);

	/* A key file others can read is refused, *kp untouched. */
	path_in(path, sizeof path, "open.key");
	write_file(path, fixed_pem, 0644);
	k = (struct token_key *)&k;
	err[0] = '\0';
	check(token_key_load(path, &k, err, sizeof err) == -1 &&
	    k == (struct token_key *)&k && err[0] != '\0',
	    "a mode 0644 key file was accepted");

	/* Longer than TOKEN_MAX: refused before anything is parsed. */
	{
		struct token_claims	 out;
		const char		*why = NULL;
		char			*big = xmalloc(TOKEN_MAX + 2);

		memset(big, 'a', TOKEN_MAX + 1);
		big[TOKEN_MAX + 1] = '\0';
		check(token_verify(key, big, TOKEN_MAX + 1, FUZZ_NOW, &out,
		    &why) == -1 && why != NULL &&
		    strcmp(why, "token too long") == 0,
		    "a token over TOKEN_MAX was not refused as too long");
		free(big);
	}

	/* A public key verifies but cannot sign. */
	memset(&c, 0, sizeof c);
	c.kind = TOKEN_ADMIN;
	tok = NULL;
	check(token_sign(pubkey, &c, &tok) == -1 && tok == NULL,
	    "a public key signed a token");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*t = getenv("TMPDIR");
	char		 path[512], err[256], *pub;
	BIO		*bio;

	snprintf(tmpdir, sizeof tmpdir, "%s/fuzz_token.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("fuzz_token: mkdtemp");
		exit(1);
	}
	atexit(cleanup);

	/* The fixed key, through the file loader the daemon uses. */
	path_in(path, sizeof path, "fixed.key");
	write_file(path, fixed_pem, 0600);
	if (token_key_load_or_create(path, &key, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_token: %s\n", err);
		exit(1);
	}
	if ((pub = token_key_public_pem(key)) == NULL ||
	    token_key_from_pem(pub, strlen(pub), &pubkey, err,
	    sizeof err) != 0) {
		fprintf(stderr, "fuzz_token: public key: %s\n", err);
		exit(1);
	}
	free(pub);
	if ((bio = BIO_new_mem_buf(fixed_pem, -1)) == NULL ||
	    (signer = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "fuzz_token: cannot read the test key\n");
		exit(1);
	}
	BIO_free(bio);
	check_key_files();
	return (0);
}

/* Unpadded base64url of n bytes onto out at *o. */
static void
b64url(const uint8_t *p, size_t n, char *out, size_t *o)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[(*o)++] = a[v >> 18];
		out[(*o)++] = a[(v >> 12) & 63];
		out[(*o)++] = a[(v >> 6) & 63];
		out[(*o)++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[(*o)++] = a[v >> 18];
		out[(*o)++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[(*o)++] = a[v >> 18];
		out[(*o)++] = a[(v >> 12) & 63];
		out[(*o)++] = a[(v >> 6) & 63];
	}
}

/* header.claims.signature, signed by the harness.  New string. */
static char *
sign_parts(const uint8_t *hdr, size_t hlen, const uint8_t *cl, size_t clen,
    size_t *lenp)
{
	EVP_MD_CTX	*ctx;
	uint8_t		 sig[64];
	size_t		 siglen = sizeof sig, o = 0;
	char		*tok;

	tok = xmalloc((hlen + clen) * 4 / 3 + 128);
	b64url(hdr, hlen, tok, &o);
	tok[o++] = '.';
	b64url(cl, clen, tok, &o);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, signer) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)tok, o) != 1 ||
	    siglen != sizeof sig) {
		fprintf(stderr, "fuzz_token: EVP_DigestSign failed\n");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	tok[o++] = '.';
	b64url(sig, siglen, tok, &o);
	tok[o] = '\0';
	*lenp = o;
	return (tok);
}

static int
reason_known(const char *why)
{
	size_t	i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (why != NULL && strcmp(why, reasons[i]) == 0)
			return (1);
	return (0);
}

static int
id_ok(const char *id)
{
	size_t	len = strnlen(id, TOKEN_TID_MAX + 1);

	return (len <= TOKEN_TID_MAX && tid_valid(id, len));
}

static const struct token_grant *
grant_find(const struct token_claims *c, const char *tenant)
{
	size_t	i;

	for (i = 0; i < c->ngrants; i++)
		if (strcmp(c->grants[i].tenant, tenant) == 0)
			return (&c->grants[i]);
	return (NULL);
}

/* Accepted claims must be what token.h describes. */
static void
check_claims(const struct token_claims *c, int64_t now)
{
	const struct token_grant	*g;
	size_t				 i, j;
	int				 want;

	check(c->exp == 0 || c->exp > now, "accepted an expired token");
	check(c->ngrants <= TOKEN_GRANTS_MAX, "ngrants over TOKEN_GRANTS_MAX");
	switch (c->kind) {
	case TOKEN_ADMIN:
		check(c->tenant[0] == '\0' && c->ngrants == 0,
		    "admin claims with a tenant or grants");
		check(token_access(c, "any-tenant", 10) == TOKEN_ACCESS_RW,
		    "admin token cannot write a tenant");
		break;
	case TOKEN_TENANT_RO:
	case TOKEN_TENANT_RW:
		check(id_ok(c->tenant), "tenant claims with a bad tenant id");
		check(c->ngrants == 1 &&
		    strcmp(c->grants[0].tenant, c->tenant) == 0 &&
		    c->grants[0].rw == (c->kind == TOKEN_TENANT_RW),
		    "single-tenant claims: grants[0] differs");
		want = c->kind == TOKEN_TENANT_RW ? TOKEN_ACCESS_RW :
		    TOKEN_ACCESS_RO;
		check(token_access(c, c->tenant, strlen(c->tenant)) == want,
		    "token_access differs from the tenant claim");
		break;
	case TOKEN_TENANTS:
		check(c->tenant[0] == '\0', "multi-tenant claims with .tenant");
		check(c->ngrants >= 2, "multi-tenant claims with < 2 grants");
		for (i = 0; i < c->ngrants; i++) {
			g = &c->grants[i];
			check(id_ok(g->tenant), "grant with a bad tenant id");
			check(g->rw == 0 || g->rw == 1, "grant rw not 0 or 1");
			for (j = 0; j < i; j++)
				check(strcmp(c->grants[j].tenant,
				    g->tenant) != 0, "two grants for one tenant");
			check(token_access(c, g->tenant, strlen(g->tenant)) ==
			    (g->rw ? TOKEN_ACCESS_RW : TOKEN_ACCESS_RO),
			    "token_access differs from a grant");
		}
		break;
	default:
		check(0, "accepted claims of an unknown kind");
	}
	if (c->kind != TOKEN_ADMIN) {
		if (grant_find(c, "zz-not.granted") == NULL)
			check(token_access(c, "zz-not.granted", 14) ==
			    TOKEN_ACCESS_NONE, "access to a tenant not granted");
		check(token_access(c, "../x", 4) == TOKEN_ACCESS_NONE,
		    "access to an invalid tenant id");
	}
}

static int
claims_eq(const struct token_claims *a, const struct token_claims *b)
{
	const struct token_grant	*g;
	size_t				 i;

	if (a->kind != b->kind || strcmp(a->tenant, b->tenant) != 0 ||
	    a->iat != b->iat || a->exp != b->exp || a->ngrants != b->ngrants)
		return (0);
	for (i = 0; i < a->ngrants; i++)
		if ((g = grant_find(b, a->grants[i].tenant)) == NULL ||
		    g->rw != a->grants[i].rw)
			return (0);
	return (1);
}

static int
is_zero(const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return (0);
	return (1);
}

static void
verify_at(const char *tok, size_t len, int64_t now, int resign)
{
	struct token_claims	 c, cp, c2;
	const char		*why = NULL, *whyp = NULL;
	char			*tok2 = NULL;
	int			 rc, rcp;

	memset(&c, 0xa5, sizeof c);
	rc = token_verify(key, tok, len, now, &c, &why);
	memset(&cp, 0x5a, sizeof cp);
	rcp = token_verify(pubkey, tok, len, now, &cp, &whyp);
	check(rc == 0 || rc == -1, "token_verify: return code");
	check(rc == rcp && (rc == 0 || (why != NULL && whyp != NULL &&
	    strcmp(why, whyp) == 0)), "key pair and public key disagree");
	if (len > TOKEN_MAX)
		check(rc == -1 && why != NULL &&
		    strcmp(why, "token too long") == 0,
		    "a token over TOKEN_MAX was not refused as too long");
	if (rc != 0) {
		check(reason_known(why), "refused with an undocumented reason");
		check(is_zero(&c, sizeof c), "refused, claims not zeroed");
		return;
	}
	check_claims(&c, now);
	check(claims_eq(&c, &cp), "key pair and public key read other claims");
	if (!resign)
		return;

	/* What verified, signed again, verifies to the same claims. */
	if (token_sign(key, &c, &tok2) != 0) {
		check(c.iat < 0 || c.exp < 0,
		    "token_sign refused claims token_verify accepted");
		return;
	}
	check(tok2 != NULL && strlen(tok2) <= TOKEN_MAX,
	    "token_sign wrote no token or one too long");
	check(token_verify(key, tok2, strlen(tok2), now, &c2, &why) == 0,
	    "a re-signed token does not verify");
	check(claims_eq(&c, &c2), "claims changed through sign and verify");
	free(tok2);
}

static void
verify(const char *tok, size_t len)
{
	verify_at(tok, len, FUZZ_NOW, 1);
	verify_at(tok, len, INT64_MAX, 0);
}

static void
fuzz_bearer(const uint8_t *data, size_t size)
{
	const char	*tok = NULL;
	char		*hdr;
	size_t		 len = 0, i;

	hdr = xmalloc(size + 1);
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	if (token_bearer(hdr, &tok, &len) == 0) {
		check(tok != NULL && tok >= hdr && tok + len <= hdr + size,
		    "token_bearer: token outside the header");
		check(len > 0, "token_bearer: empty token");
		for (i = 0; i < len; i++)
			check(tok[i] != ' ' && tok[i] != '\t' && tok[i] != '\0',
			    "token_bearer: blank in the token");
		verify(tok, len);
	}
	free(hdr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 std_hdr[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
	const uint8_t		*nl;
	char			*tok;
	size_t			 len;

	if (size == 0)
		return (0);
	switch (data[0] % 4) {
	case 0:
		verify((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_bearer(data + 1, size - 1);
		break;
	case 2:
		if ((nl = memchr(data + 1, '\n', size - 1)) == NULL)
			break;
		tok = sign_parts(data + 1, (size_t)(nl - data - 1), nl + 1,
		    size - (size_t)(nl - data) - 1, &len);
		verify(tok, len);
		free(tok);
		break;
	case 3:
		tok = sign_parts((const uint8_t *)std_hdr, strlen(std_hdr),
		    data + 1, size - 1, &len);
		verify(tok, len);
		free(tok);
		break;
	}
	return (0);
}
