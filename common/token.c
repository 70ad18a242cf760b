/*
 * token.c: bearer tokens, EdDSA (Ed25519) JWTs as libSQL's server takes
 * them, signed and checked with one key that tenantd keeps in a file.
 *
 * It owns the key file (PKCS#8 PEM, mode 0600, made on first start) and
 * the token format; callers own what a token allows.  A struct token_key
 * holds one EVP_PKEY parsed at load time and never changed after, so
 * verification is one Ed25519 check plus two small jansson parses, with
 * no lookups; any thread may use a key, several at once.
 *
 * Tokens are untrusted input.  The verifier reads at most TOKEN_MAX
 * bytes, decodes into one stack buffer of that size, parses JSON with
 * duplicate keys refused (two "alg" or two "id" could mean different
 * things to different readers), accepts only alg "EdDSA" (never "none",
 * never HMAC: the key is not a shared secret), checks the signature
 * before it looks at the claims, and never asserts.  Signature checking
 * is OpenSSL's, which is constant-time; no other secret is compared here.
 *
 * Claims follow libsql-server (src/auth/user_auth_strategies/jwt.rs and
 * authorized.rs): "p" wins over "id"/"a"; "id" without "a" is read-write;
 * JSON null counts as absent; unknown keys are ignored.  Two deliberate
 * differences, because tenantd signs every tenant's tokens with one key
 * where libSQL has a key per namespace: a token with no claims, or with
 * "a" but no "id", grants nothing here (libSQL: full access to the
 * namespace the key guards), and admin needs an explicit "adm": true.
 * exp is checked without leeway (libSQL's jsonwebtoken allows 60s); nbf
 * is honoured when present.
 *
 * This file stands alone (its own base64url and tenant id check, the
 * same rules as b64.c and tid.c) so tenantctl and tests can link it with
 * only libcrypto and jansson.  Library code: returns codes, never logs,
 * never exits; out-of-memory is an error return, not fatal().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common.h"
#include "token.h"

#define TOKEN_KEYFILE_MAX	16384	/* a PEM Ed25519 key is ~120 bytes */
#define TOKEN_SIG_LEN		64

struct token_key {
	EVP_PKEY	*pkey;
	int		 private;	/* 1 if it can sign */
};

static void	token_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
token_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Decode unpadded canonical base64url (RFC 7515 section 2: no '=') into
 * out: b64.c's decoder, which would also accept padding, minus padding.
 */
static int
token_b64_decode(const char *in, size_t n, unsigned char *out,
    size_t outsize, size_t *outlen)
{
	if (memchr(in, '=', n) != NULL)
		return (-1);
	return (b64url_decode(in, n, out, outsize, outlen));
}

/* Never ask for a pass phrase: a daemon has no terminal to ask on. */
static int
token_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return (-1);
}

/*
 * Parse a PEM Ed25519 key, private (PKCS#8) or public (SPKI).  Returns 0
 * with a new key in *kp, or -1 with a static reason in *why.
 */
static int
token_key_parse(const char *pem, size_t len, struct token_key **kp,
    const char **why)
{
	struct token_key	*key;
	BIO			*bio;
	EVP_PKEY		*pkey;
	int			 private = 1;

	if (len == 0 || len > TOKEN_KEYFILE_MAX) {
		*why = "not a PEM key";
		return (-1);
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto nomem;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, token_nopass, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		private = 0;
		if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
			goto nomem;
		pkey = PEM_read_bio_PUBKEY(bio, NULL, token_nopass, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (pkey == NULL) {
		*why = "not a PEM private or public key (or encrypted)";
		return (-1);
	}
	if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		*why = "not an Ed25519 key";
		return (-1);
	}
	if ((key = calloc(1, sizeof *key)) == NULL) {
		EVP_PKEY_free(pkey);
		goto nomem;
	}
	key->pkey = pkey;
	key->private = private;
	*kp = key;
	return (0);

nomem:
	ERR_clear_error();
	*why = "out of memory";
	return (-1);
}

int
token_key_from_pem(const char *pem, size_t len, struct token_key **kp,
    char *err, size_t errlen)
{
	const char	*why;

	if (pem == NULL || token_key_parse(pem, len, kp, &why) != 0) {
		token_err(err, errlen, "key: %s",
		    pem == NULL ? "no key" : why);
		return (-1);
	}
	return (0);
}

/*
 * Read and parse the private key file at path.  Returns 0 with a new key,
 * 1 if the file does not exist, -1 with a message in err.
 */
static int
token_key_read(const char *path, struct token_key **kp, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	const char	*why;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return (1);
		token_err(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		token_err(err, errlen, "%s: fstat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		token_err(err, errlen, "%s: key file is not a regular file",
		    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		token_err(err, errlen, "%s: key file mode %04o lets group or "
		    "others read it; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size == 0) {
		token_err(err, errlen, "%s: key file is empty (creation "
		    "interrupted?); remove it to make a new key", path);
		goto out;
	}
	if (st.st_size > TOKEN_KEYFILE_MAX) {
		token_err(err, errlen, "%s: key file is too large", path);
		goto out;
	}
	if ((buf = malloc(TOKEN_KEYFILE_MAX + 1)) == NULL) {
		token_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + off, TOKEN_KEYFILE_MAX + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			token_err(err, errlen, "%s: read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > TOKEN_KEYFILE_MAX) {
			token_err(err, errlen, "%s: key file is too large",
			    path);
			goto out;
		}
	}
	if (token_key_parse(buf, off, kp, &why) != 0) {
		token_err(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (!(*kp)->private) {
		token_key_free(*kp);
		*kp = NULL;
		token_err(err, errlen, "%s: a public key cannot sign; the key "
		    "file needs the private key", path);
		goto out;
	}
	rv = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, TOKEN_KEYFILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return (rv);
}

/* fsync the folder holding path, so a new file's name is durable. */
static int
token_fsync_dir(const char *path)
{
	char		*dir;
	const char	*slash;
	int		 fd, rv = -1, saved;

	if ((slash = strrchr(path, '/')) == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return (-1);
	if ((fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY)) != -1) {
		rv = fsync(fd);
		saved = errno;
		close(fd);
		errno = saved;
	}
	free(dir);
	return (rv);
}

/*
 * Make a new key and write it to path, which must not exist.  Returns 0
 * with the new key, 1 if path appeared meanwhile, -1 with a message.
 * Any failure after the file is created removes it again.
 */
static int
token_key_create(const char *path, struct token_key **kp, char *err,
    size_t errlen)
{
	struct token_key	*key = NULL;
	EVP_PKEY_CTX		*pctx = NULL;
	EVP_PKEY		*pkey = NULL;
	BIO			*bio = NULL;
	char			*pem;
	long			 pemlen;
	size_t			 off = 0;
	ssize_t			 n;
	int			 fd = -1, rv = -1;

	if ((pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(pctx) != 1 ||
	    EVP_PKEY_keygen(pctx, &pkey) != 1) {
		token_err(err, errlen, "%s: cannot generate an Ed25519 key",
		    path);
		goto fail;
	}
	/* Secure heap memory BIO: wiped when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
		token_err(err, errlen, "%s: cannot encode the new key", path);
		goto fail;
	}

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST) {
			rv = 1;
			goto fail;
		}
		token_err(err, errlen, "%s: create: %s", path,
		    strerror(errno));
		goto fail;
	}
	while (off < (size_t)pemlen) {
		n = write(fd, pem + off, (size_t)pemlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			token_err(err, errlen, "%s: write: %s", path,
			    strerror(errno));
			goto unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		token_err(err, errlen, "%s: fsync: %s", path, strerror(errno));
		goto unlink;
	}
	if (close(fd) == -1) {
		fd = -1;
		token_err(err, errlen, "%s: close: %s", path, strerror(errno));
		goto unlink;
	}
	fd = -1;
	if (token_fsync_dir(path) == -1) {
		token_err(err, errlen, "%s: fsync of its folder: %s", path,
		    strerror(errno));
		goto unlink;
	}
	if ((key = calloc(1, sizeof *key)) == NULL) {
		token_err(err, errlen, "%s: out of memory", path);
		goto unlink;
	}
	key->pkey = pkey;
	key->private = 1;
	pkey = NULL;
	*kp = key;
	rv = 0;
	goto fail;

unlink:
	if (fd != -1)
		close(fd);
	fd = -1;
	unlink(path);
fail:
	if (fd != -1)
		close(fd);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return (rv);
}

int
token_key_load(const char *path, struct token_key **kp, char *err,
    size_t errlen)
{
	int	rv;

	if ((rv = token_key_read(path, kp, err, errlen)) == 1) {
		token_err(err, errlen, "%s: %s", path, strerror(ENOENT));
		return (-1);
	}
	return (rv);
}

int
token_key_load_or_create(const char *path, struct token_key **kp,
    char *err, size_t errlen)
{
	int	rv;

	if ((rv = token_key_read(path, kp, err, errlen)) != 1)
		return (rv);
	if ((rv = token_key_create(path, kp, err, errlen)) != 1)
		return (rv);
	/* Someone else created it first: use theirs. */
	if ((rv = token_key_read(path, kp, err, errlen)) == 1) {
		token_err(err, errlen, "%s: exists but cannot be opened "
		    "(a dangling symlink?)", path);
		return (-1);
	}
	return (rv);
}

char *
token_key_public_pem(const struct token_key *key)
{
	BIO	*bio;
	char	*data, *out = NULL;
	long	 len;

	if (key == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return (NULL);
	if (PEM_write_bio_PUBKEY(bio, key->pkey) == 1 &&
	    (len = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)len + 1)) != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(bio);
	ERR_clear_error();
	return (out);
}

void
token_key_free(struct token_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

/* Add tenant (validated) to the grants, merging repeats; -1 if full. */
static int
token_grant_add(struct token_claims *c, const char *tenant, size_t len,
    int rw)
{
	size_t	i;

	for (i = 0; i < c->ngrants; i++) {
		if (strlen(c->grants[i].tenant) == len &&
		    memcmp(c->grants[i].tenant, tenant, len) == 0) {
			c->grants[i].rw |= rw;
			return (0);
		}
	}
	if (c->ngrants == TOKEN_GRANTS_MAX)
		return (-1);
	memcpy(c->grants[c->ngrants].tenant, tenant, len);
	c->grants[c->ngrants].tenant[len] = '\0';
	c->grants[c->ngrants].rw = rw;
	c->ngrants++;
	return (0);
}

/* Build the claims object for c; NULL if c is invalid or out of memory. */
static json_t *
token_claims_json(const struct token_claims *c)
{
	json_t	*o, *p = NULL, *rw = NULL, *ro = NULL;
	size_t	 i, j, len;
	int	 bad = 0;

	if (c->iat < 0 || c->exp < 0)
		return (NULL);
	if ((o = json_object()) == NULL)
		return (NULL);
	switch (c->kind) {
	case TOKEN_ADMIN:
		bad |= json_object_set_new(o, "adm", json_true());
		break;
	case TOKEN_TENANT_RO:
	case TOKEN_TENANT_RW:
		len = strnlen(c->tenant, sizeof c->tenant);
		if (!tid_valid(c->tenant, len))
			goto fail;
		bad |= json_object_set_new(o, "id", json_stringn(c->tenant,
		    len));
		bad |= json_object_set_new(o, "a",
		    json_string(c->kind == TOKEN_TENANT_RW ? "rw" : "ro"));
		break;
	case TOKEN_TENANTS:
		if (c->ngrants == 0 || c->ngrants > TOKEN_GRANTS_MAX)
			goto fail;
		if ((rw = json_array()) == NULL || (ro = json_array()) == NULL)
			goto fail;
		for (i = 0; i < c->ngrants; i++) {
			len = strnlen(c->grants[i].tenant,
			    sizeof c->grants[i].tenant);
			if (!tid_valid(c->grants[i].tenant, len))
				goto fail;
			for (j = 0; j < i; j++) {
				if (strcmp(c->grants[i].tenant,
				    c->grants[j].tenant) == 0)
					goto fail;
			}
			bad |= json_array_append_new(c->grants[i].rw ? rw : ro,
			    json_stringn(c->grants[i].tenant, len));
		}
		if ((p = json_object()) == NULL)
			goto fail;
		if (json_array_size(rw) > 0)
			bad |= json_object_set_new(p, "rw",
			    json_pack("{sO}", "ns", rw));
		if (json_array_size(ro) > 0)
			bad |= json_object_set_new(p, "ro",
			    json_pack("{sO}", "ns", ro));
		bad |= json_object_set_new(o, "p", p);
		p = NULL;
		break;
	default:
		goto fail;
	}
	if (c->iat > 0)
		bad |= json_object_set_new(o, "iat", json_integer(c->iat));
	if (c->exp > 0)
		bad |= json_object_set_new(o, "exp", json_integer(c->exp));
	if (bad)
		goto fail;
	json_decref(rw);
	json_decref(ro);
	return (o);

fail:
	json_decref(p);
	json_decref(rw);
	json_decref(ro);
	json_decref(o);
	return (NULL);
}

int
token_sign(const struct token_key *key, const struct token_claims *c,
    char **out)
{
	static const char	 header[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
	EVP_MD_CTX		*ctx = NULL;
	json_t			*o = NULL;
	char			*payload = NULL, *buf = NULL;
	unsigned char		 sig[TOKEN_SIG_LEN];
	size_t			 plen, size, n, siglen = sizeof sig;
	int			 rv = -1;

	if (key == NULL || !key->private || c == NULL || out == NULL)
		return (-1);
	if ((o = token_claims_json(c)) == NULL)
		goto out;
	if ((payload = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	plen = strlen(payload);
	if (plen > TOKEN_MAX)
		goto out;
	size = ((sizeof header - 1 + 2) / 3 + (plen + 2) / 3 +
	    (sizeof sig + 2) / 3) * 4 + 3;
	if ((buf = malloc(size)) == NULL)
		goto out;
	n = b64url_encode((const unsigned char *)header, sizeof header - 1,
	    buf);
	buf[n++] = '.';
	n += b64url_encode((const unsigned char *)payload, plen, buf + n);

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)buf, n) != 1 ||
	    siglen != sizeof sig)
		goto out;
	buf[n++] = '.';
	n += b64url_encode(sig, sizeof sig, buf + n);
	if (n > TOKEN_MAX)
		goto out;
	*out = buf;
	buf = NULL;
	rv = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	free(payload);
	json_decref(o);
	ERR_clear_error();
	return (rv);
}

/* Object member, with JSON null read as absent (serde's Option). */
static json_t *
token_get(json_t *o, const char *name)
{
	json_t	*v = json_object_get(o, name);

	return (json_is_null(v) ? NULL : v);
}

/* A time claim: -1 bad type or negative, 0 absent, 1 present in *t. */
static int
token_time(json_t *o, const char *name, int64_t *t)
{
	json_t	*v;

	*t = 0;
	if ((v = token_get(o, name)) == NULL)
		return (0);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return (-1);
	*t = json_integer_value(v);
	return (1);
}

/* Read the fine-grained "p" object into c's grants; NULL or a reason. */
static const char *
token_claims_p(json_t *p, struct token_claims *c)
{
	static const struct {
		const char	*name;
		int		 rw;
	} perms[] = {
		{ "ro", 0 }, { "rw", 1 }, { "roa", 0 }, { "rwa", 1 },
		{ "ddl", 1 },
	};
	json_t		*scope, *ns, *v;
	const char	*s;
	size_t		 i, j, len;

	if (!json_is_object(p))
		return ("bad claim");
	for (i = 0; i < sizeof perms / sizeof perms[0]; i++) {
		if ((scope = token_get(p, perms[i].name)) == NULL)
			continue;
		if (!json_is_object(scope))
			return ("bad claim");
		if ((ns = token_get(scope, "ns")) == NULL)
			continue;
		if (!json_is_array(ns))
			return ("bad claim");
		json_array_foreach(ns, j, v) {
			if (!json_is_string(v))
				return ("bad claim");
			s = json_string_value(v);
			len = json_string_length(v);
			if (!tid_valid(s, len))
				return ("tenant id invalid");
			if (token_grant_add(c, s, len, perms[i].rw) != 0)
				return ("too many tenants");
		}
	}
	return (NULL);
}

/* Read the legacy "id"/"a" pair into c's grants; NULL or a reason. */
static const char *
token_claims_legacy(json_t *o, struct token_claims *c)
{
	json_t		*id, *a;
	const char	*s;
	int		 rw = 1;

	id = token_get(o, "id");
	a = token_get(o, "a");
	if (id != NULL && !json_is_string(id))
		return ("bad claim");
	if (a != NULL) {
		if (!json_is_string(a))
			return ("bad claim");
		s = json_string_value(a);
		if (strcmp(s, "ro") == 0 && json_string_length(a) == 2)
			rw = 0;
		else if (strcmp(s, "rw") != 0 || json_string_length(a) != 2)
			return ("unknown access level");
	}
	if (id == NULL)
		return (NULL);		/* no grant: "no usable claim" */
	if (!tid_valid(json_string_value(id), json_string_length(id)))
		return ("tenant id invalid");
	(void)token_grant_add(c, json_string_value(id),
	    json_string_length(id), rw);
	return (NULL);
}

/* Turn verified claims JSON into c at time now; NULL or a reason. */
static const char *
token_claims_read(json_t *o, int64_t now, struct token_claims *c)
{
	json_t		*adm, *p;
	const char	*why;
	int64_t		 nbf;
	int		 hasexp, hasnbf;

	if (token_time(o, "iat", &c->iat) < 0 ||
	    (hasexp = token_time(o, "exp", &c->exp)) < 0 ||
	    (hasnbf = token_time(o, "nbf", &nbf)) < 0)
		return ("bad claim");
	if ((adm = token_get(o, "adm")) != NULL && !json_is_boolean(adm))
		return ("bad claim");
	if (hasexp && now >= c->exp)
		return ("expired");
	if (hasnbf && now < nbf)
		return ("not yet valid");

	if (json_is_true(adm)) {
		c->kind = TOKEN_ADMIN;
		return (NULL);
	}
	if ((p = token_get(o, "p")) != NULL)
		why = token_claims_p(p, c);
	else
		why = token_claims_legacy(o, c);
	if (why != NULL)
		return (why);
	if (c->ngrants == 0)
		return ("no usable claim");
	if (c->ngrants == 1) {
		c->kind = c->grants[0].rw ? TOKEN_TENANT_RW : TOKEN_TENANT_RO;
		memcpy(c->tenant, c->grants[0].tenant, sizeof c->tenant);
	} else
		c->kind = TOKEN_TENANTS;
	return (NULL);
}

/* Parse a decoded JSON part: a new object, or NULL. */
static json_t *
token_json(const unsigned char *buf, size_t len)
{
	json_t	*o;

	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return (o);
}

int
token_verify(const struct token_key *key, const char *tok, size_t len,
    int64_t now, struct token_claims *out, const char **why)
{
	struct token_claims	 c;
	unsigned char		 buf[TOKEN_MAX];
	const char		*d1, *d2, *reason = NULL;
	size_t			 hl, pl, sl, hn, pn, sn;
	unsigned char		*h, *pay, *sig;
	EVP_MD_CTX		*ctx = NULL;
	json_t			*hdr = NULL, *claims = NULL, *alg;

	memset(&c, 0, sizeof c);
	if (out != NULL)
		memset(out, 0, sizeof *out);

	if (tok == NULL || len == 0) {
		reason = "malformed token";
		goto out;
	}
	if (len > TOKEN_MAX) {
		reason = "token too long";
		goto out;
	}
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL) {
		reason = "malformed token";
		goto out;
	}
	hl = (size_t)(d1 - tok);
	pl = (size_t)(d2 - d1 - 1);
	sl = len - (size_t)(d2 + 1 - tok);
	if (hl == 0 || pl == 0 || sl == 0) {
		reason = "malformed token";
		goto out;
	}

	/* Decoded parts are shorter than encoded ones: they all fit. */
	h = buf;
	if (token_b64_decode(tok, hl, h, sizeof buf, &hn) != 0)
		goto bad64;
	pay = h + hn;
	if (token_b64_decode(d1 + 1, pl, pay, sizeof buf - hn, &pn) != 0)
		goto bad64;
	sig = pay + pn;
	if (token_b64_decode(d2 + 1, sl, sig, sizeof buf - hn - pn, &sn) != 0)
		goto bad64;

	if ((hdr = token_json(h, hn)) == NULL) {
		reason = "header not JSON";
		goto out;
	}
	alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg) || json_string_length(alg) != 5 ||
	    strcmp(json_string_value(alg), "EdDSA") != 0 ||
	    json_object_get(hdr, "crit") != NULL) {
		reason = "wrong alg";
		goto out;
	}

	if (key == NULL || sn != TOKEN_SIG_LEN) {
		reason = "bad signature";
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) != 1) {
		reason = "internal error";
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, sn, (const unsigned char *)tok,
	    (size_t)(d2 - tok)) != 1) {
		reason = "bad signature";
		goto out;
	}

	if ((claims = token_json(pay, pn)) == NULL) {
		reason = "claims not JSON";
		goto out;
	}
	if ((reason = token_claims_read(claims, now, &c)) != NULL)
		goto out;
	if (out != NULL)
		memcpy(out, &c, sizeof *out);
	goto out;

bad64:
	reason = "bad base64";
out:
	EVP_MD_CTX_free(ctx);
	json_decref(claims);
	json_decref(hdr);
	ERR_clear_error();
	if (why != NULL)
		*why = reason;
	return (reason == NULL ? 0 : -1);
}

int
token_access(const struct token_claims *c, const char *tenant, size_t len)
{
	size_t	i;

	if (c == NULL)
		return (TOKEN_ACCESS_NONE);
	if (c->kind == TOKEN_ADMIN)
		return (TOKEN_ACCESS_RW);
	if (c->kind != TOKEN_TENANT_RO && c->kind != TOKEN_TENANT_RW &&
	    c->kind != TOKEN_TENANTS)
		return (TOKEN_ACCESS_NONE);
	if (tenant == NULL || len == 0 || len > TOKEN_TID_MAX)
		return (TOKEN_ACCESS_NONE);
	for (i = 0; i < c->ngrants && i < TOKEN_GRANTS_MAX; i++) {
		if (strnlen(c->grants[i].tenant, sizeof c->grants[i].tenant) ==
		    len && memcmp(c->grants[i].tenant, tenant, len) == 0)
			return (c->grants[i].rw ? TOKEN_ACCESS_RW :
			    TOKEN_ACCESS_RO);
	}
	return (TOKEN_ACCESS_NONE);
}

int
token_bearer(const char *value, const char **tok, size_t *len)
{
	const char	*p, *q, *end;

	if (value == NULL)
		return (-1);
	for (p = value; *p == ' ' || *p == '\t'; p++)
		;
	if (strncasecmp(p, "bearer", 6) != 0)
		return (-1);
	p += 6;
	if (*p != ' ' && *p != '\t')
		return (-1);
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == p)
		return (-1);
	for (q = p; q < end; q++) {
		if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f)
			return (-1);
	}
	*tok = p;
	*len = (size_t)(end - p);
	return (0);
}
