/*
 * token.h: bearer tokens (EdDSA JWTs) for tenantd and tenantctl.
 *
 * Self-contained: include it after config.h, with or without common.h.
 * Link with -lcrypto -ljansson.  See token.c for the design.
 *
 * A token is a compact JWT, base64url(header).base64url(claims).
 * base64url(signature), header {"alg":"EdDSA","typ":"JWT"}, signed with
 * Ed25519 over "header.claims".  The claims it understands:
 *
 *	{"adm": true}				admin: every tenant
 *	{"id": "alice", "a": "ro"}		libSQL legacy, one tenant
 *						("a" missing means "rw")
 *	{"p": {"rw": {"ns": ["a", "b"]},	libSQL fine-grained, up to
 *	       "ro": {"ns": ["c"]}}}		TOKEN_GRANTS_MAX tenants
 *
 * plus optional "iat", "exp" and "nbf" (seconds since the epoch).
 *
 * Thread safety: a struct token_key never changes once loaded, so any
 * number of threads may sign and verify with one key at the same time.
 * Nothing here logs, exits or keeps global state.
 */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_MAX		4096	/* longest token text accepted */
#define TOKEN_TID_MAX		64	/* longest tenant id, as TID_MAX */
#define TOKEN_GRANTS_MAX	16	/* tenants named by one token */

/* Opaque: an Ed25519 key pair, or a public key alone (verify only). */
struct token_key;

/* struct token_claims kind. */
#define TOKEN_ADMIN		1	/* every tenant, and the admin API */
#define TOKEN_TENANT_RO		2	/* reads one tenant, .tenant */
#define TOKEN_TENANT_RW		3	/* reads and writes one tenant */
#define TOKEN_TENANTS		4	/* several tenants: .grants */

/* token_access() results. */
#define TOKEN_ACCESS_NONE	0
#define TOKEN_ACCESS_RO		1
#define TOKEN_ACCESS_RW		2

struct token_grant {
	char		 tenant[TOKEN_TID_MAX + 1];
	int		 rw;		/* 1 read-write, 0 read-only */
};

/*
 * What a token says.  For TOKEN_TENANT_* .tenant names the tenant and
 * .ngrants is 1 with .grants[0] the same grant; for TOKEN_TENANTS .tenant
 * is "" and .grants[0 .. ngrants - 1] lists 2 to TOKEN_GRANTS_MAX distinct
 * tenants; for TOKEN_ADMIN .tenant is "" and .ngrants 0.  So code that
 * checks only kind and .tenant fails closed on a multi-tenant token;
 * token_access() handles every kind and is the way to authorize.
 * iat and exp are seconds since the epoch, 0 when absent.
 */
struct token_claims {
	int		 kind;
	char		 tenant[TOKEN_TID_MAX + 1];
	int64_t		 iat;
	int64_t		 exp;
	size_t		 ngrants;
	struct token_grant grants[TOKEN_GRANTS_MAX];
};

/*
 * Keys.  The loaders return 0 and a new key in *kp (token_key_free() it),
 * or -1 with a message in err (which may be NULL) and *kp untouched.
 * Messages name the file, never key material.
 *
 * token_key_load_or_create: the private key file at path (PKCS#8 PEM,
 * Ed25519).  If it does not exist, a new key is generated and written
 * with mode 0600 (O_CREAT|O_EXCL, fsync of the file and its folder).  A
 * file that is not a regular file or whose mode lets group or others in
 * (mode & 077) is refused, never replaced.  If another process creates
 * the file first, its key is loaded instead.
 * token_key_load: the same for an existing file only.
 * token_key_from_pem: a private (PKCS#8) or public (SubjectPublicKeyInfo)
 * Ed25519 key in PEM held in memory; a public key can only verify.
 */
int		 token_key_load_or_create(const char *, struct token_key **,
		     char *, size_t);
int		 token_key_load(const char *, struct token_key **, char *,
		     size_t);
int		 token_key_from_pem(const char *, size_t, struct token_key **,
		     char *, size_t);
/* The public key as SubjectPublicKeyInfo PEM: new string (free()), or NULL. */
char		*token_key_public_pem(const struct token_key *);
void		 token_key_free(struct token_key *);

/*
 * token_sign: a new token (NUL-terminated, free() it) in *out; returns 0,
 * or -1 if the key has no private half, the claims are invalid (bad
 * kind, tenant id, grant count, duplicate grant, negative time) or memory
 * or OpenSSL fails.  TOKEN_TENANT_* writes the legacy {"id","a"} form
 * from .tenant; TOKEN_TENANTS the fine-grained {"p"} form from .grants (1
 * to TOKEN_GRANTS_MAX distinct tenants); other fields are ignored.  iat
 * and exp are written when not 0; the caller picks them.
 */
int		 token_sign(const struct token_key *,
		     const struct token_claims *, char **);

/*
 * token_verify: check tok (len bytes, untrusted, need not be
 * NUL-terminated) against key at time now (seconds since the epoch).
 * Returns 0 and fills *out, or -1 with *why (may be NULL) set to one of
 * these static strings and *out zeroed:
 *	"token too long"	more than TOKEN_MAX bytes
 *	"malformed token"	not three non-empty dot-separated parts
 *	"bad base64"		a part is not unpadded canonical base64url
 *	"header not JSON"	or not an object, or a duplicate key
 *	"wrong alg"		alg is not "EdDSA", or crit is present
 *	"bad signature"
 *	"claims not JSON"	or not an object, or a duplicate key
 *	"bad claim"		a known claim has the wrong type
 *	"expired"		exp <= now
 *	"not yet valid"		nbf > now
 *	"tenant id invalid"	1..64 of [A-Za-z0-9_.-], not leading '.'
 *	"unknown access level"	a is not "ro" or "rw"
 *	"too many tenants"	more than TOKEN_GRANTS_MAX
 *	"no usable claim"	none of adm, id, p grants anything
 *	"internal error"	OpenSSL could not allocate
 * Costs one Ed25519 verification and two small JSON parses.
 */
int		 token_verify(const struct token_key *, const char *, size_t,
		     int64_t, struct token_claims *, const char **);

/* TOKEN_ACCESS_NONE, _RO or _RW: what verified claims allow on a tenant. */
int		 token_access(const struct token_claims *, const char *,
		     size_t);

/*
 * token_bearer: split an Authorization header value "Bearer <token>"
 * (scheme case-insensitive, spaces and tabs around trimmed).  Returns 0
 * with *tok pointing into the value and *len its length, or -1 if the
 * value is NULL, another scheme, or the token is empty or has blanks.
 */
int		 token_bearer(const char *, const char **, size_t *);

#endif /* TOKEN_H */
