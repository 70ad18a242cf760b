/*
 * test_token.c: unit tests for common/token.c.
 *
 * Tokens are the only thing between the network and every tenant's data,
 * so most of these tests are forgeries: tokens built by hand here (with
 * OpenSSL directly, bypassing token_sign) that are signed correctly but
 * say something they must not, or say the right thing badly encoded.
 * Each must come back -1 with the reason a user would see.  Then the key
 * file: made with mode 0600, refused when others can read it, and stable
 * across loads.  Tokens from other implementations (Python's cryptography
 * package, embedded below, and the openssl command when it is on PATH)
 * must verify, and ours must verify in openssl.
 *
 * Single-threaded.  Works in a private mkdtemp folder it removes at the
 * end.  Random mutations come from a fixed seed so a failure reproduces.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "token.h"
#include "tap.h"

#define NOW	INT64_C(1800000000)

static char	 dir[] = "/tmp/test_token.XXXXXX";
static EVP_PKEY	*raw;		/* the private half of key, for forging */

/* Unpadded base64url of n bytes into out (>= n * 4 / 3 + 4 bytes). */
static void
b64url(const void *in, size_t n, char *out)
{
	int	len, i;

	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
}

/* Sign header.claims with pk, bypassing token_sign: a new string. */
static char *
forge(EVP_PKEY *pk, const char *header, const char *claims)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 sig[64];
	size_t		 siglen = sizeof sig, n;
	char		*t;

	n = (strlen(header) + strlen(claims)) * 4 / 3 + 200;
	if ((t = malloc(n)) == NULL)
		abort();
	b64url(header, strlen(header), t);
	strcat(t, ".");
	b64url(claims, strlen(claims), t + strlen(t));
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)t,
	    strlen(t)) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	strcat(t, ".");
	b64url(sig, siglen, t + strlen(t));
	return (t);
}

#define ALPHA	\
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define EDDSA	"{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"

/* Verify a forged token at NOW; returns the reason, NULL if accepted. */
static const char *
try(const struct token_key *key, const char *header, const char *claims,
    struct token_claims *c)
{
	struct token_claims	 dummy;
	const char		*why = "unset";
	char			*t;
	int			 rv;

	t = forge(raw, header, claims);
	rv = token_verify(key, t, strlen(t), NOW, c ? c : &dummy, &why);
	free(t);
	if (rv == 0)
		return (why == NULL ? NULL : "rv 0 but why set");
	return (why);
}

/* Verify a literal string. */
static const char *
vstr(const struct token_key *key, const char *t)
{
	struct token_claims	 c;
	const char		*why = "unset";

	if (token_verify(key, t, strlen(t), NOW, &c, &why) == 0)
		return (NULL);
	return (why);
}

static int
file_has(const char *path, const char *needle)
{
	char	 buf[8192];
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (strstr(buf, needle) != NULL);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f;

	unlink(path);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_keyfile(struct token_key **keyp, struct token_key **otherp)
{
	struct token_key	*k1 = NULL, *k2 = NULL, *k3 = NULL;
	struct token_claims	 c, out;
	struct stat		 st;
	char			 path[256], p2[256], err[512], *t = NULL;
	char			 before[512], target[256], *pub;
	const char		*why;
	FILE			*f;
	EVP_PKEY_CTX		*pctx;
	EVP_PKEY		*x = NULL;

	snprintf(path, sizeof path, "%s/key.pem", dir);
	err[0] = '\0';
	ok(token_key_load(path, &k1, err, sizeof err) == -1 &&
	    strstr(err, "No such file") != NULL,
	    "load of a missing key file fails: %s", err);
	is_int(token_key_load_or_create(path, &k1, err, sizeof err), 0,
	    "key file created");
	if (stat(path, &st) == -1)
		st.st_mode = 0;
	is_int(st.st_mode & 07777, 0600, "new key file has mode 0600");
	ok(file_has(path, "-----BEGIN PRIVATE KEY-----"),
	    "new key file is PKCS#8 PEM");
	is_int(token_key_load_or_create(path, &k2, err, sizeof err), 0,
	    "existing key file loaded");
	is_int(token_key_load(path, &k3, err, sizeof err), 0,
	    "token_key_load reads it too");

	/* The two loads are the same key: each verifies the other's. */
	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RW;
	strcpy(c.tenant, "alice");
	ok(token_sign(k1, &c, &t) == 0 &&
	    token_verify(k2, t, strlen(t), NOW, &out, &why) == 0,
	    "token from the created key verifies with the reloaded key");
	free(t);
	t = NULL;
	ok(token_sign(k2, &c, &t) == 0 &&
	    token_verify(k1, t, strlen(t), NOW, &out, &why) == 0,
	    "token from the reloaded key verifies with the created key");
	free(t);
	t = NULL;

	/* The raw key for forging, read the way any other tool would. */
	if ((f = fopen(path, "r")) == NULL ||
	    (raw = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		abort();
	fclose(f);

	/* Group or others may read it: refused, and never overwritten. */
	f = fopen(path, "r");
	before[fread(before, 1, sizeof before - 1, f)] = '\0';
	fclose(f);
	chmod(path, 0644);
	err[0] = '\0';
	k3 = (token_key_free(k3), NULL);
	ok(token_key_load(path, &k3, err, sizeof err) == -1 && k3 == NULL &&
	    strstr(err, "chmod 600") != NULL && strstr(err, "0644") != NULL,
	    "mode 0644 key file refused: %s", err);
	ok(token_key_load_or_create(path, &k3, err, sizeof err) == -1 &&
	    file_has(path, before), "mode 0644 refused by load_or_create, "
	    "file left alone");
	chmod(path, 0640);
	ok(token_key_load(path, &k3, err, sizeof err) == -1,
	    "mode 0640 key file refused");
	chmod(path, 0604);
	ok(token_key_load(path, &k3, err, sizeof err) == -1,
	    "mode 0604 key file refused");
	chmod(path, 0400);
	ok(token_key_load(path, &k3, err, sizeof err) == 0,
	    "mode 0400 key file accepted");
	k3 = (token_key_free(k3), NULL);
	chmod(path, 0600);

	/* Files that are not a usable private key. */
	snprintf(p2, sizeof p2, "%s/empty.pem", dir);
	write_file(p2, "", 0600);
	ok(token_key_load_or_create(p2, &k3, err, sizeof err) == -1 &&
	    strstr(err, "empty") != NULL, "empty key file refused: %s", err);
	write_file(p2, "hello\n", 0600);
	ok(token_key_load(p2, &k3, err, sizeof err) == -1 &&
	    strstr(err, "not a PEM") != NULL, "garbage key file refused: %s",
	    err);
	ok(token_key_load(dir, &k3, err, sizeof err) == -1 &&
	    strstr(err, "not a regular file") != NULL,
	    "a folder as key file refused: %s", err);
	pub = token_key_public_pem(k1);
	ok(pub != NULL && strstr(pub, "BEGIN PUBLIC KEY") != NULL,
	    "public key exported as PEM");
	write_file(p2, pub, 0600);
	ok(token_key_load(p2, &k3, err, sizeof err) == -1 &&
	    strstr(err, "public key cannot sign") != NULL,
	    "public key as key file refused: %s", err);
	if ((pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(pctx) != 1 || EVP_PKEY_keygen(pctx, &x) != 1)
		abort();
	EVP_PKEY_CTX_free(pctx);
	unlink(p2);
	f = fopen(p2, "w");
	PEM_write_PKCS8PrivateKey(f, x, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(p2, 0600);
	EVP_PKEY_free(x);
	ok(token_key_load(p2, &k3, err, sizeof err) == -1 &&
	    strstr(err, "not an Ed25519 key") != NULL,
	    "X25519 key file refused: %s", err);
	/* A dangling symlink is not followed to make a key elsewhere. */
	snprintf(p2, sizeof p2, "%s/link.pem", dir);
	snprintf(target, sizeof target, "%s/target.pem", dir);
	if (symlink(target, p2) == -1)
		abort();
	ok(token_key_load_or_create(p2, &k3, err, sizeof err) == -1 &&
	    k3 == NULL && access(target, F_OK) == -1,
	    "dangling symlink as key path refused: %s", err);
	unlink(p2);
	snprintf(p2, sizeof p2, "%s/nodir/key.pem", dir);
	ok(token_key_load_or_create(p2, &k3, err, sizeof err) == -1 &&
	    strstr(err, "create") != NULL,
	    "key file in a missing folder: %s", err);

	/* A public key in memory verifies but cannot sign. */
	ok(token_key_from_pem(pub, strlen(pub), &k3, err, sizeof err) == 0,
	    "public key PEM loaded");
	ok(token_sign(k1, &c, &t) == 0 &&
	    token_verify(k3, t, strlen(t), NOW, &out, &why) == 0,
	    "public key verifies the private key's token");
	free(t);
	t = NULL;
	ok(token_sign(k3, &c, &t) == -1 && t == NULL,
	    "public key cannot sign");
	k3 = (token_key_free(k3), NULL);
	ok(token_key_from_pem("x", 1, &k3, err, sizeof err) == -1 &&
	    k3 == NULL, "garbage PEM refused: %s", err);
	ok(token_key_from_pem(pub, 0, &k3, NULL, 0) == -1,
	    "empty PEM refused, NULL err allowed");
	free(pub);

	/* Another key, for tokens signed by someone else. */
	snprintf(p2, sizeof p2, "%s/other.pem", dir);
	is_int(token_key_load_or_create(p2, otherp, err, sizeof err), 0,
	    "second key created");
	token_key_free(k2);
	*keyp = k1;
}

static void
test_roundtrip(const struct token_key *key)
{
	struct token_claims	 c, out;
	const char		*why;
	char			*t;
	int			 rv;

	memset(&c, 0, sizeof c);
	c.kind = TOKEN_ADMIN;
	c.iat = NOW - 10;
	c.exp = NOW + 3600;
	rv = token_sign(key, &c, &t);
	is_int(rv, 0, "admin token signed");
	ok(strncmp(t, "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.", 37) == 0,
	    "header is {\"alg\":\"EdDSA\",\"typ\":\"JWT\"}");
	is_int(token_verify(key, t, strlen(t), NOW, &out, &why), 0,
	    "admin token verifies");
	is_int(out.kind, TOKEN_ADMIN, "admin kind");
	is_int(out.iat, NOW - 10, "admin iat");
	is_int(out.exp, NOW + 3600, "admin exp");
	is_str(out.tenant, "", "admin has no tenant");
	is_int(token_access(&out, "anyone", 6), TOKEN_ACCESS_RW,
	    "admin reaches any tenant");
	free(t);

	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RO;
	strcpy(c.tenant, "alice.db-1_x");
	is_int(token_sign(key, &c, &t), 0, "ro token signed");
	is_int(token_verify(key, t, strlen(t), NOW, &out, &why), 0,
	    "ro token verifies");
	is_int(out.kind, TOKEN_TENANT_RO, "ro kind");
	is_str(out.tenant, "alice.db-1_x", "ro tenant");
	is_int(out.iat, 0, "no iat is 0");
	is_int(out.exp, 0, "no exp is 0");
	is_int(out.ngrants, 1, "ro has one grant");
	is_int(token_access(&out, "alice.db-1_x", 12), TOKEN_ACCESS_RO,
	    "ro reads its tenant");
	is_int(token_access(&out, "alice.db-1", 10), TOKEN_ACCESS_NONE,
	    "ro: a prefix of its tenant is another tenant");
	is_int(token_access(&out, "alice.db-1_xy", 13), TOKEN_ACCESS_NONE,
	    "ro: a longer name is another tenant");
	free(t);

	c.kind = TOKEN_TENANT_RW;
	memset(c.tenant, 'a', TOKEN_TID_MAX);
	c.tenant[TOKEN_TID_MAX] = '\0';
	is_int(token_sign(key, &c, &t), 0, "rw token with a 64-char id");
	is_int(token_verify(key, t, strlen(t), NOW, &out, &why), 0,
	    "rw token verifies");
	is_int(out.kind, TOKEN_TENANT_RW, "rw kind");
	is_str(out.tenant, c.tenant, "rw tenant");
	is_int(token_access(&out, c.tenant, TOKEN_TID_MAX), TOKEN_ACCESS_RW,
	    "rw writes its tenant");
	is_int(token_access(&out, "bob", 3), TOKEN_ACCESS_NONE,
	    "rw does not reach bob");
	free(t);

	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANTS;
	c.ngrants = 3;
	strcpy(c.grants[0].tenant, "a1");
	c.grants[0].rw = 1;
	strcpy(c.grants[1].tenant, "b2");
	strcpy(c.grants[2].tenant, "c3");
	c.grants[2].rw = 1;
	c.exp = NOW + 1;
	is_int(token_sign(key, &c, &t), 0, "multi-tenant token signed");
	is_int(token_verify(key, t, strlen(t), NOW, &out, &why), 0,
	    "multi-tenant token verifies");
	is_int(out.kind, TOKEN_TENANTS, "multi-tenant kind");
	is_str(out.tenant, "", "multi-tenant has no single tenant");
	is_int(out.ngrants, 3, "three grants");
	is_int(token_access(&out, "a1", 2), TOKEN_ACCESS_RW, "a1 rw");
	is_int(token_access(&out, "b2", 2), TOKEN_ACCESS_RO, "b2 ro");
	is_int(token_access(&out, "c3", 2), TOKEN_ACCESS_RW, "c3 rw");
	is_int(token_access(&out, "d4", 2), TOKEN_ACCESS_NONE, "d4 none");
	free(t);

	/* One grant in p form comes back as a single-tenant token. */
	c.ngrants = 1;
	c.exp = 0;
	is_int(token_sign(key, &c, &t), 0, "one-grant p token signed");
	ok(token_verify(key, t, strlen(t), NOW, &out, &why) == 0 &&
	    out.kind == TOKEN_TENANT_RW && strcmp(out.tenant, "a1") == 0,
	    "one-grant p token reads as TOKEN_TENANT_RW a1");
	free(t);

	/* Claims token_sign refuses. */
	t = NULL;
	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RW;
	strcpy(c.tenant, "../x");
	ok(token_sign(key, &c, &t) == -1 && t == NULL,
	    "sign refuses tenant ../x");
	c.tenant[0] = '\0';
	ok(token_sign(key, &c, &t) == -1, "sign refuses an empty tenant");
	memset(c.tenant, 'a', sizeof c.tenant);
	ok(token_sign(key, &c, &t) == -1, "sign refuses an unterminated id");
	strcpy(c.tenant, "alice");
	c.exp = -1;
	ok(token_sign(key, &c, &t) == -1, "sign refuses a negative exp");
	c.exp = 0;
	c.kind = 0;
	ok(token_sign(key, &c, &t) == -1, "sign refuses kind 0");
	c.kind = 99;
	ok(token_sign(key, &c, &t) == -1, "sign refuses kind 99");
	c.kind = TOKEN_TENANTS;
	c.ngrants = 0;
	ok(token_sign(key, &c, &t) == -1, "sign refuses zero grants");
	c.ngrants = TOKEN_GRANTS_MAX + 1;
	ok(token_sign(key, &c, &t) == -1, "sign refuses 17 grants");
	c.ngrants = 2;
	strcpy(c.grants[0].tenant, "x");
	strcpy(c.grants[1].tenant, "x");
	ok(token_sign(key, &c, &t) == -1, "sign refuses a repeated grant");
	ok(token_sign(NULL, &c, &t) == -1, "sign refuses a NULL key");
	ok(t == NULL, "nothing returned on failure");
}

static void
test_expiry(const struct token_key *key)
{
	struct token_claims	 c, out;
	const char		*why;
	char			*t;

	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RW;
	strcpy(c.tenant, "alice");
	c.exp = NOW;
	token_sign(key, &c, &t);
	ok(token_verify(key, t, strlen(t), NOW - 1, &out, &why) == 0,
	    "valid one second before exp");
	ok(token_verify(key, t, strlen(t), NOW, &out, &why) == -1 &&
	    strcmp(why, "expired") == 0, "expired at exp");
	ok(token_verify(key, t, strlen(t), NOW + 86400, &out, &why) == -1 &&
	    strcmp(why, "expired") == 0 && out.kind == 0 &&
	    out.tenant[0] == '\0', "expired a day later, claims zeroed");
	free(t);
	c.exp = 0;
	token_sign(key, &c, &t);
	ok(token_verify(key, t, strlen(t), INT64_MAX, &out, &why) == 0,
	    "no exp: valid forever");
	free(t);

	is_str(try(key, EDDSA, "{\"id\":\"a\",\"nbf\":1800000001}", NULL),
	    "not yet valid", "nbf in the future");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"nbf\":1800000000}", NULL),
	    NULL, "nbf now");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"exp\":0}", NULL),
	    "expired", "exp 0 is long past");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"exp\":-5}", NULL),
	    "bad claim", "negative exp");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"exp\":\"2030\"}", NULL),
	    "bad claim", "exp as a string");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"exp\":1900000000.5}", NULL),
	    "bad claim", "exp as a float");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"iat\":true}", NULL),
	    "bad claim", "iat as a boolean");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"exp\":1e400}", NULL),
	    "claims not JSON", "exp beyond a double");
	is_str(try(key, EDDSA,
	    "{\"id\":\"a\",\"exp\":99999999999999999999999}", NULL),
	    "claims not JSON", "exp beyond 64 bits");
}

/* Change byte i of a copy of t to ch and verify it. */
static const char *
mutate(const struct token_key *key, const char *t, size_t i, char ch)
{
	char		*m;
	const char	*why;

	m = strdup(t);
	m[i] = ch;
	why = vstr(key, m);
	free(m);
	return (why);
}

static void
test_tamper(const struct token_key *key, const struct token_key *other)
{
	struct token_claims	 c, out;
	const char		*why, *d1, *d2;
	char			*t, *u, buf[8192], big[4200];
	size_t			 len, i, n, rejected;
	int			 ch;

	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RO;
	strcpy(c.tenant, "alice");
	token_sign(key, &c, &t);
	len = strlen(t);
	d1 = strchr(t, '.');
	d2 = strchr(d1 + 1, '.');

	/* Payload swapped for a signed-looking "rw" one: bad signature. */
	c.kind = TOKEN_TENANT_RW;
	token_sign(other, &c, &u);
	snprintf(buf, sizeof buf, "%.*s%s", (int)(d2 - t),
	    t, strrchr(u, '.'));
	is_str(vstr(key, buf), "bad signature",
	    "signature from another key over our header.payload");
	is_str(vstr(key, u), "bad signature", "token signed by another key");
	snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(d1 - t), t,
	    (int)(strrchr(u, '.') - strchr(u, '.')), strchr(u, '.'), d2);
	is_str(vstr(key, buf), "bad signature",
	    "payload replaced (ro -> rw), signature kept");
	free(u);

	is_str(mutate(key, t, (size_t)(d1 - t) + 3,
	    t[(d1 - t) + 3] == 'A' ? 'B' : 'A'), "bad signature",
	    "one payload character changed");
	is_str(mutate(key, t, (size_t)(d2 - t) + 5,
	    t[(d2 - t) + 5] == 'A' ? 'B' : 'A'), "bad signature",
	    "one signature character changed");
	/* 64 bytes leave 4 unused low bits in the last character. */
	ch = ALPHA[(strchr(ALPHA, t[len - 1]) - ALPHA) | 1];
	is_str(mutate(key, t, len - 1, (char)ch), "bad base64",
	    "last signature character non-canonical");

	/* Every single-byte change anywhere is rejected, nothing crashes. */
	srandom(42);
	rejected = 0;
	for (i = 0; i < 3000; i++) {
		ch = (int)(random() % 255) + 1;
		n = (size_t)random() % len;
		if (t[n] == (char)ch)
			ch = ch == 'A' ? 'B' : 'A';
		if (mutate(key, t, n, (char)ch) != NULL)
			rejected++;
	}
	is_int(rejected, 3000, "3000 random one-byte changes all rejected");
	for (n = 1; n < len; n++) {
		if (token_verify(key, t, n, NOW, &out, &why) == 0)
			break;
	}
	is_int(n, len, "no proper prefix of a token verifies");

	/* Shape. */
	is_str(vstr(key, ""), "malformed token", "empty string");
	is_str(vstr(key, "abc"), "malformed token", "one segment");
	snprintf(buf, sizeof buf, "%.*s", (int)(d2 - t), t);
	is_str(vstr(key, buf), "malformed token", "two segments");
	snprintf(buf, sizeof buf, "%s.AAAA", t);
	is_str(vstr(key, buf), "malformed token", "four segments");
	snprintf(buf, sizeof buf, "%s.", t);
	is_str(vstr(key, buf), "malformed token", "trailing dot");
	is_str(vstr(key, ".."), "malformed token", "all segments empty");
	snprintf(buf, sizeof buf, "%.*s.%s", (int)(d1 - t), t, d2 + 1);
	is_str(vstr(key, buf), "malformed token", "empty payload");
	snprintf(buf, sizeof buf, "%.*s.", (int)(d2 - t), t);
	is_str(vstr(key, buf), "malformed token", "empty signature");
	snprintf(buf, sizeof buf, "%s", d1);
	is_str(vstr(key, buf), "malformed token", "empty header");
	ok(token_verify(key, NULL, 0, NOW, &out, &why) == -1 &&
	    strcmp(why, "malformed token") == 0, "NULL token");
	ok(token_verify(key, t, len, NOW, NULL, NULL) == 0,
	    "NULL out and why allowed");
	ok(token_verify(NULL, t, len, NOW, &out, &why) == -1 &&
	    strcmp(why, "bad signature") == 0, "NULL key verifies nothing");

	/* Encoding. */
	snprintf(buf, sizeof buf, "%s=", t);
	is_str(vstr(key, buf), "bad base64", "padding '=' on the signature");
	snprintf(buf, sizeof buf, "%.*s==%s", (int)(d1 - t), t, d1);
	is_str(vstr(key, buf), "bad base64", "padding '==' on the header");
	is_str(mutate(key, t, 2, '+'), "bad base64", "'+' (standard b64)");
	is_str(mutate(key, t, 2, '/'), "bad base64", "'/' (standard b64)");
	is_str(mutate(key, t, 2, '*'), "bad base64", "'*'");
	is_str(mutate(key, t, 2, ' '), "bad base64", "space inside");
	is_str(mutate(key, t, 2, '\x80'), "bad base64", "byte 0x80");
	/* Our header is 36 characters: one more 'A' adds only zero bits. */
	snprintf(buf, sizeof buf, "%.*sA%s", (int)(d1 - t), t, d1);
	is_str(vstr(key, buf), "bad base64", "header of length 4n+1");
	memcpy(buf, t, len);
	buf[1] = '\0';
	ok(token_verify(key, buf, len, NOW, &out, &why) == -1 &&
	    strcmp(why, "bad base64") == 0, "NUL byte inside the length");
	snprintf(buf, sizeof buf, "%.*s.AAAA", (int)(d2 - t), t);
	is_str(vstr(key, buf), "bad signature", "3-byte signature");
	free(t);

	/* Size. */
	memset(big, 'A', sizeof big);
	memcpy(big, "e.e.", 4);
	ok(token_verify(key, big, TOKEN_MAX + 1, NOW, &out, &why) == -1 &&
	    strcmp(why, "token too long") == 0, "4097 bytes: too long");
	ok(token_verify(key, big, SIZE_MAX, NOW, &out, &why) == -1 &&
	    strcmp(why, "token too long") == 0, "SIZE_MAX length: too long");
	ok(token_verify(key, big, TOKEN_MAX, NOW, &out, &why) == -1 &&
	    strcmp(why, "token too long") != 0,
	    "4096 bytes are read (and rejected: %s)", why);

	/* A correctly signed token of exactly TOKEN_MAX bytes is fine... */
	n = 2979 - strlen("{\"id\":\"alice\",\"pad\":\"\"}");
	snprintf(buf, sizeof buf, "{\"id\":\"alice\",\"pad\":\"%0*d\"}",
	    (int)n, 0);
	t = forge(raw, EDDSA, buf);
	is_int(strlen(t), TOKEN_MAX, "forged a %d-byte token", TOKEN_MAX);
	ok(token_verify(key, t, strlen(t), NOW, &out, &why) == 0,
	    "a valid 4096-byte token verifies");
	free(t);
	/* ... and one a few bytes longer is refused before any parsing. */
	snprintf(buf, sizeof buf, "{\"id\":\"alice\",\"pad\":\"%0*d\"}",
	    (int)n + 1, 0);
	t = forge(raw, EDDSA, buf);
	ok(strlen(t) > TOKEN_MAX && token_verify(key, t, strlen(t), NOW,
	    &out, &why) == -1 && strcmp(why, "token too long") == 0,
	    "a valid %zu-byte token is too long", strlen(t));
	free(t);
}

static void
test_header(const struct token_key *key)
{
	const char	*idc = "{\"id\":\"alice\",\"a\":\"rw\"}";
	char		 buf[256], h[64];

	is_str(try(key, EDDSA, idc, NULL), NULL, "forged baseline verifies");
	is_str(try(key, "{\"alg\":\"EdDSA\"}", idc, NULL), NULL,
	    "no typ is fine");
	is_str(try(key, "{ \"typ\" : \"JWT\" , \"alg\" : \"EdDSA\" }", idc,
	    NULL), NULL, "spaces and key order do not matter");
	is_str(try(key, "{\"alg\":\"none\",\"typ\":\"JWT\"}", idc, NULL),
	    "wrong alg", "alg none (with a signature)");
	b64url("{\"alg\":\"none\"}", 14, h);
	snprintf(buf, sizeof buf, "%s.eyJhZG0iOnRydWV9.", h);
	is_str(vstr(key, buf), "malformed token",
	    "alg none, admin claims, empty signature");
	snprintf(buf, sizeof buf, "%s.eyJhZG0iOnRydWV9.AAAA", h);
	is_str(vstr(key, buf), "wrong alg",
	    "alg none, admin claims, junk signature");
	is_str(try(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", idc, NULL),
	    "wrong alg", "alg HS256");
	is_str(try(key, "{\"alg\":\"ES256\"}", idc, NULL), "wrong alg",
	    "alg ES256");
	is_str(try(key, "{\"alg\":\"eddsa\"}", idc, NULL), "wrong alg",
	    "alg is case-sensitive");
	is_str(try(key, "{\"alg\":\"EdDSA \"}", idc, NULL), "wrong alg",
	    "alg with a trailing space");
	is_str(try(key, "{\"alg\":[\"EdDSA\"]}", idc, NULL), "wrong alg",
	    "alg as an array");
	is_str(try(key, "{\"typ\":\"JWT\"}", idc, NULL), "wrong alg",
	    "no alg");
	is_str(try(key, "{\"alg\":\"EdDSA\",\"crit\":[\"b64\"],\"b64\":false}",
	    idc, NULL), "wrong alg", "crit header (unencoded payload)");
	is_str(try(key, "{\"alg\":\"HS256\",\"alg\":\"EdDSA\"}", idc, NULL),
	    "header not JSON", "duplicate alg");
	is_str(try(key, "not json", idc, NULL), "header not JSON",
	    "header not JSON");
	is_str(try(key, "[\"EdDSA\"]", idc, NULL), "header not JSON",
	    "header an array");
	is_str(try(key, "{\"alg\":\"EdDSA\"} x", idc, NULL), "header not JSON",
	    "header with trailing junk");
	is_str(try(key, "{\"alg\":\"EdDSA\"", idc, NULL), "header not JSON",
	    "header cut short");
}

static void
test_claims(const struct token_key *key)
{
	struct token_claims	 c;
	char			 buf[2048];
	size_t			 i;

	/* Legacy libSQL form. */
	ok(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"ro\"}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RO && strcmp(c.tenant, "alice") == 0,
	    "libSQL {id, a: ro}");
	ok(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"rw\"}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RW, "libSQL {id, a: rw}");
	ok(try(key, EDDSA, "{\"id\":\"alice\"}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RW, "libSQL {id} alone is rw");
	ok(try(key, EDDSA, "{\"id\":\"alice\",\"a\":null,\"exp\":null}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RW && c.exp == 0,
	    "null claims count as absent");
	is_str(try(key, EDDSA, "{\"a\":\"rw\"}", NULL), "no usable claim",
	    "{a} without id grants nothing (libSQL: the key's namespace)");
	is_str(try(key, EDDSA, "{}", NULL), "no usable claim",
	    "{} grants nothing (libSQL: full access)");
	is_str(try(key, EDDSA, "{\"sub\":\"x\",\"iat\":1}", NULL),
	    "no usable claim", "only unknown claims");
	is_str(try(key, EDDSA, "{\"adm\":false}", NULL), "no usable claim",
	    "adm false");
	is_str(try(key, EDDSA, "{\"id\":\"../x\",\"a\":\"rw\"}", NULL),
	    "tenant id invalid", "tenant ../x");
	is_str(try(key, EDDSA, "{\"id\":\".hidden\"}", NULL),
	    "tenant id invalid", "tenant starting with '.'");
	is_str(try(key, EDDSA, "{\"id\":\"\"}", NULL), "tenant id invalid",
	    "empty tenant");
	is_str(try(key, EDDSA, "{\"id\":\"a/b\"}", NULL), "tenant id invalid",
	    "tenant with '/'");
	is_str(try(key, EDDSA, "{\"id\":\"caf\\u00e9\"}", NULL),
	    "tenant id invalid", "tenant with non-ASCII");
	is_str(try(key, EDDSA, "{\"id\":\"a\\u0000b\"}", NULL),
	    "claims not JSON", "tenant with an escaped NUL");
	snprintf(buf, sizeof buf, "{\"id\":\"%0*d\"}", TOKEN_TID_MAX + 1, 0);
	is_str(try(key, EDDSA, buf, NULL), "tenant id invalid",
	    "65-char tenant");
	snprintf(buf, sizeof buf, "{\"id\":\"%0*d\"}", TOKEN_TID_MAX, 0);
	ok(try(key, EDDSA, buf, &c) == NULL && strlen(c.tenant) == 64,
	    "64-char tenant");
	is_str(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"admin\"}", NULL),
	    "unknown access level", "a: admin");
	is_str(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"RW\"}", NULL),
	    "unknown access level", "a: RW");
	is_str(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"rwa\"}", NULL),
	    "unknown access level", "a: rwa");
	is_str(try(key, EDDSA, "{\"id\":\"alice\",\"a\":\"\"}", NULL),
	    "unknown access level", "a: empty");
	is_str(try(key, EDDSA, "{\"id\":\"alice\",\"a\":1}", NULL),
	    "bad claim", "a: 1");
	is_str(try(key, EDDSA, "{\"id\":5}", NULL), "bad claim", "id: 5");
	is_str(try(key, EDDSA, "{\"id\":\"a\",\"id\":\"b\"}", NULL),
	    "claims not JSON", "duplicate id");
	is_str(try(key, EDDSA, "[{\"id\":\"a\"}]", NULL), "claims not JSON",
	    "claims an array");
	is_str(try(key, EDDSA, "{\"id\":\"a\"", NULL), "claims not JSON",
	    "claims cut short");
	is_str(try(key, EDDSA, "\xff\xfe", NULL), "claims not JSON",
	    "claims not UTF-8");

	/* Admin. */
	ok(try(key, EDDSA, "{\"adm\":true}", &c) == NULL &&
	    c.kind == TOKEN_ADMIN, "adm true");
	ok(try(key, EDDSA, "{\"adm\":true,\"id\":\"alice\",\"a\":\"ro\"}",
	    &c) == NULL && c.kind == TOKEN_ADMIN, "adm wins over id");
	is_str(try(key, EDDSA, "{\"adm\":\"true\"}", NULL), "bad claim",
	    "adm as a string");
	is_str(try(key, EDDSA, "{\"adm\":1}", NULL), "bad claim",
	    "adm as a number");

	/* libSQL fine-grained form. */
	ok(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[\"alice\"]}}}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RW &&
	    strcmp(c.tenant, "alice") == 0, "p.rw one tenant");
	ok(try(key, EDDSA, "{\"p\":{\"ro\":{\"ns\":[\"alice\"]}}}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RO, "p.ro one tenant");
	ok(try(key, EDDSA, "{\"p\":{\"roa\":{\"ns\":[\"alice\"]}}}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RO, "p.roa is ro");
	ok(try(key, EDDSA, "{\"p\":{\"rwa\":{\"ns\":[\"alice\"]}}}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RW, "p.rwa is rw");
	ok(try(key, EDDSA, "{\"p\":{\"ddl\":{\"ns\":[\"alice\"]}}}", &c) ==
	    NULL && c.kind == TOKEN_TENANT_RW, "p.ddl is rw");
	ok(try(key, EDDSA, "{\"p\":{\"ro\":{\"ns\":[\"a\",\"a\"]},"
	    "\"rw\":{\"ns\":[\"a\"]}}}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RW && c.ngrants == 1,
	    "same tenant in ro and rw merges to rw");
	ok(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[\"a\"]},"
	    "\"roa\":{\"ns\":[\"a\"]}}}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RW, "rw then roa on one tenant stays rw");
	ok(try(key, EDDSA, "{\"p\":{\"ro\":{\"ns\":[\"a\",\"b\"]},"
	    "\"rwa\":{\"ns\":[\"c\"]},\"roa\":{\"ns\":[\"d\"]},"
	    "\"ddl\":{\"ns\":[\"e\"]}}}", &c) == NULL &&
	    c.kind == TOKEN_TENANTS && c.ngrants == 5 &&
	    c.tenant[0] == '\0', "five tenants across all permissions");
	is_int(token_access(&c, "a", 1), TOKEN_ACCESS_RO, "p: a ro");
	is_int(token_access(&c, "c", 1), TOKEN_ACCESS_RW, "p: c rw");
	is_int(token_access(&c, "d", 1), TOKEN_ACCESS_RO, "p: d ro");
	is_int(token_access(&c, "e", 1), TOKEN_ACCESS_RW, "p: e rw");
	is_int(token_access(&c, "f", 1), TOKEN_ACCESS_NONE, "p: f none");
	ok(try(key, EDDSA, "{\"id\":\"x\",\"a\":\"rw\","
	    "\"p\":{\"ro\":{\"ns\":[\"y\"]}}}", &c) == NULL &&
	    c.kind == TOKEN_TENANT_RO && strcmp(c.tenant, "y") == 0,
	    "p wins over id/a, as in libSQL");
	ok(try(key, EDDSA, "{\"id\":\"x\",\"p\":null}", &c) == NULL &&
	    strcmp(c.tenant, "x") == 0, "p null falls back to id");
	ok(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[\"a\"],\"tags\":[1]},"
	    "\"xyz\":{\"ns\":[\"b\"]}}}", &c) == NULL && c.ngrants == 1,
	    "unknown keys in p are ignored");
	is_str(try(key, EDDSA, "{\"p\":{}}", NULL), "no usable claim",
	    "p empty");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":{}}}", NULL), "no usable claim",
	    "p.rw without ns");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[]}}}", NULL),
	    "no usable claim", "p.rw.ns empty");
	is_str(try(key, EDDSA, "{\"p\":[]}", NULL), "bad claim", "p an array");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":[\"a\"]}}", NULL), "bad claim",
	    "p.rw an array");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":\"alice\"}}}", NULL),
	    "bad claim", "p.rw.ns a string");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[5]}}}", NULL),
	    "bad claim", "p.rw.ns holds a number");
	is_str(try(key, EDDSA, "{\"p\":{\"rw\":{\"ns\":[\"../x\"]}}}", NULL),
	    "tenant id invalid", "p.rw.ns holds ../x");
	strcpy(buf, "{\"p\":{\"rw\":{\"ns\":[");
	for (i = 0; i <= TOKEN_GRANTS_MAX; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
		    "%s\"t%zu\"", i ? "," : "", i);
	strcat(buf, "]}}}");
	is_str(try(key, EDDSA, buf, NULL), "too many tenants", "17 tenants");
	strcpy(buf, "{\"p\":{\"rw\":{\"ns\":[");
	for (i = 0; i < TOKEN_GRANTS_MAX; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
		    "%s\"t%zu\",\"t%zu\"", i ? "," : "", i, i);
	strcat(buf, "]}}}");
	ok(try(key, EDDSA, buf, &c) == NULL && c.ngrants == TOKEN_GRANTS_MAX,
	    "16 tenants, each listed twice");
}

/*
 * Made once with Python's cryptography package (not OpenSSL-in-C, not our
 * base64 or JSON): a key pair, and tokens with JSON as Python writes it.
 */
static const char py_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAZNYOSUsh9se1Ejbhs9Tkv0pmEowjf14Igzr3Ztxtb1g=\n"
    "-----END PUBLIC KEY-----\n";
/* header {"typ": "JWT", "alg": "EdDSA"}, {"adm": true, "iat": 1700000000} */
static const char py_admin[] =
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJFZERTQSJ9."
    "eyJhZG0iOiB0cnVlLCAiaWF0IjogMTcwMDAwMDAwMH0."
    "X5Xm0E0W3nkHfVF94ygUltsHvkzDIAf2NvBrBtsWZqtVQhQhWUjSBhpehOaaRRdynAhPR7"
    "-576QBoY8udWjrCg";
/* {"id":"alice","a":"ro","iat":1700000000,"exp":4102444800} */
static const char py_ro[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
    "eyJpZCI6ImFsaWNlIiwiYSI6InJvIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0ND"
    "Q4MDB9."
    "NSUxVKOEzGRuh38d1uPmsnE065B_cGHNjxVeJlbCOev0EZfvZIBnb2Liln0KNdS5gic2UP"
    "78M1vNfgx__V2NCA";
/* {"p": {"rw": {"ns": ["alice"]}, "roa": {"ns": ["bob"]}}} */
static const char py_p[] =
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJFZERTQSJ9."
    "eyJwIjogeyJydyI6IHsibnMiOiBbImFsaWNlIl19LCAicm9hIjogeyJucyI6IFsiYm9iIl"
    "19fX0."
    "NJxt9AxxFquPJmYpMwRsYTaUpjIK0J66GSMPZNttz4FymHeS02nxylI_gAlIQahsziaEyt"
    "9JG9a4AokhneRsCg";
/* {"id":"alice","a":"rw","exp":1700000000} */
static const char py_expired[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
    "eyJpZCI6ImFsaWNlIiwiYSI6InJ3IiwiZXhwIjoxNzAwMDAwMDAwfQ."
    "EX4BSPoxr9ISWGMrHodQYsrxb7pDIS9MYa28tbEGBLqmT6XqE4NNHV60eaGz8XVK1K75SO"
    "LzNJ-CJMzfCfggCw";

static void
test_python(const struct token_key *ours)
{
	struct token_key	*py = NULL;
	struct token_claims	 c;
	const char		*why;
	char			 err[256];

	is_int(token_key_from_pem(py_pub, strlen(py_pub), &py, err,
	    sizeof err), 0, "Python's public key loads");
	ok(token_verify(py, py_admin, strlen(py_admin), NOW, &c, &why) == 0 &&
	    c.kind == TOKEN_ADMIN && c.iat == 1700000000,
	    "Python admin token verifies");
	ok(token_verify(py, py_ro, strlen(py_ro), NOW, &c, &why) == 0 &&
	    c.kind == TOKEN_TENANT_RO && strcmp(c.tenant, "alice") == 0 &&
	    c.exp == INT64_C(4102444800), "Python {id, a: ro} verifies");
	ok(token_verify(py, py_p, strlen(py_p), NOW, &c, &why) == 0 &&
	    c.kind == TOKEN_TENANTS &&
	    token_access(&c, "alice", 5) == TOKEN_ACCESS_RW &&
	    token_access(&c, "bob", 3) == TOKEN_ACCESS_RO,
	    "Python fine-grained token verifies");
	ok(token_verify(py, py_expired, strlen(py_expired), NOW, &c,
	    &why) == -1 && strcmp(why, "expired") == 0,
	    "Python expired token: expired");
	ok(token_verify(py, py_expired, strlen(py_expired), 1699999999, &c,
	    &why) == 0, "... but valid a second before exp");
	ok(token_verify(ours, py_ro, strlen(py_ro), NOW, &c, &why) == -1 &&
	    strcmp(why, "bad signature") == 0,
	    "Python token does not verify with our key");
	token_key_free(py);
}

static int
slurp(const char *path, char *buf, size_t size)
{
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return (-1);
	n = fread(buf, 1, size, f);
	fclose(f);
	return ((int)n);
}

#define CLI_CLAIMS	"{\"id\":\"cli\",\"a\":\"rw\"}"

/* The openssl command signs our tokens and checks ours, if we have it. */
static void
test_openssl_cli(const struct token_key *key)
{
	struct token_claims	 c;
	const char		*why;
	char			 keyf[256], pubf[256], in[256], sigf[256];
	char			 cmd[2048], tbs[512], tok[1024], sig[128], *t;
	char			*pub, *d2;
	unsigned char		 sigb[128];
	FILE			*f;
	int			 n, i;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		for (i = 0; i < 3; i++)
			printf("ok %d # skip no openssl command\n", ++tap_n);
		return;
	}
	snprintf(keyf, sizeof keyf, "%s/key.pem", dir);
	snprintf(pubf, sizeof pubf, "%s/pub.pem", dir);
	snprintf(in, sizeof in, "%s/tbs", dir);
	snprintf(sigf, sizeof sigf, "%s/sig", dir);

	/* openssl signs a header.payload we built: we verify it. */
	b64url(EDDSA, strlen(EDDSA), tbs);
	strcat(tbs, ".");
	b64url(CLI_CLAIMS, strlen(CLI_CLAIMS), tbs + strlen(tbs));
	write_file(in, tbs, 0600);
	snprintf(cmd, sizeof cmd, "openssl pkeyutl -sign -rawin -inkey %s "
	    "-in %s -out %s 2>/dev/null", keyf, in, sigf);
	n = system(cmd) == 0 ? slurp(sigf, (char *)sigb, sizeof sigb) : -1;
	is_int(n, 64, "openssl pkeyutl made a 64-byte signature");
	b64url(sigb, n > 0 ? (size_t)n : 0, sig);
	snprintf(tok, sizeof tok, "%s.%s", tbs, sig);
	ok(token_verify(key, tok, strlen(tok), NOW, &c, &why) == 0 &&
	    strcmp(c.tenant, "cli") == 0, "token signed by openssl verifies");

	/* We sign, openssl verifies. */
	memset(&c, 0, sizeof c);
	c.kind = TOKEN_TENANT_RO;
	strcpy(c.tenant, "cli");
	token_sign(key, &c, &t);
	pub = token_key_public_pem(key);
	write_file(pubf, pub, 0600);
	free(pub);
	d2 = strrchr(t, '.');
	*d2 = '\0';
	write_file(in, t, 0600);
	/* Decode our signature with OpenSSL's base64 to stay independent. */
	snprintf(tok, sizeof tok, "%s", d2 + 1);
	for (i = 0; tok[i] != '\0'; i++)
		tok[i] = tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i];
	strcat(tok, "==");
	n = EVP_DecodeBlock(sigb, (unsigned char *)tok, (int)strlen(tok));
	unlink(sigf);
	if (n >= 64 && (f = fopen(sigf, "wb")) != NULL) {
		fwrite(sigb, 1, 64, f);
		fclose(f);
	}
	snprintf(cmd, sizeof cmd, "openssl pkeyutl -verify -pubin -inkey %s "
	    "-rawin -in %s -sigfile %s >/dev/null 2>&1", pubf, in, sigf);
	is_int(system(cmd), 0, "openssl verifies our token's signature");
	free(t);
}

static void
test_bearer(void)
{
	const char	*t;
	size_t		 n;

	ok(token_bearer("Bearer abc.def", &t, &n) == 0 && n == 7 &&
	    memcmp(t, "abc.def", 7) == 0, "Bearer abc.def");
	ok(token_bearer("bearer x", &t, &n) == 0 && n == 1 && *t == 'x',
	    "lower-case scheme");
	ok(token_bearer("BEARER x", &t, &n) == 0, "upper-case scheme");
	ok(token_bearer("  \tBeArEr \t x.y.z \t ", &t, &n) == 0 && n == 5 &&
	    memcmp(t, "x.y.z", 5) == 0, "blanks around are trimmed");
	ok(token_bearer("Basic abc", &t, &n) == -1, "Basic is not bearer");
	ok(token_bearer("Bearer", &t, &n) == -1, "no token");
	ok(token_bearer("Bearer   ", &t, &n) == -1, "blank token");
	ok(token_bearer("Bearerabc", &t, &n) == -1, "no space after scheme");
	ok(token_bearer("Bearer a b", &t, &n) == -1, "space inside token");
	ok(token_bearer("Bearer a\rb", &t, &n) == -1, "CR inside token");
	ok(token_bearer("", &t, &n) == -1, "empty header");
	ok(token_bearer(NULL, &t, &n) == -1, "NULL header");
}

static void
cleanup(void)
{
	const char	*names[] = { "key.pem", "empty.pem", "other.pem",
			    "pub.pem", "tbs", "sig", "link.pem", "target.pem" };
	char		 path[256];
	size_t		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int
main(void)
{
	struct token_key	*key = NULL, *other = NULL;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	test_keyfile(&key, &other);
	test_roundtrip(key);
	test_expiry(key);
	test_tamper(key, other);
	test_header(key);
	test_claims(key);
	test_python(key);
	test_openssl_cli(key);
	test_bearer();

	token_key_free(key);
	token_key_free(other);
	EVP_PKEY_free(raw);
	cleanup();
	return (tap_done());
}
