/*
 * auth.c: bearer tokens on TCP.
 *
 * Tokens are Ed25519-signed JWTs (common/token.c), the form libSQL clients
 * already send (authToken -> Authorization: Bearer).  The daemon's key
 * lives in DATA/keys/tenantd.key (mode 0600, created on first start).
 * Checking a token needs no database lookup; a signature check costs tens
 * of microseconds, so verified tokens are kept in a small direct-mapped
 * cache (compared in constant time) until they expire.  Tokens are never
 * logged.  The unix socket needs no token: its file mode guards it.
 *
 * Loop thread only.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenantd.h"
#include "token.h"

#define AUTH_CACHE	1024

struct auth_slot {
	char			*tok;
	size_t			 len;
	struct token_claims	 claims;
};

static struct token_key	*auth_key;
static struct auth_slot	 auth_cache[AUTH_CACHE];

/* Load or create the key.  At start; -1 (logged) on failure. */
int
auth_init(void)
{
	char	dir[1024], path[1100], err[256];

	snprintf(dir, sizeof dir, "%s/keys", cfg.data_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", dir);
		return (-1);
	}
	snprintf(path, sizeof path, "%s/tenantd.key", dir);
	if (token_key_load_or_create(path, &auth_key, err, sizeof err) != 0) {
		log_warnx("token key: %s", err);
		return (-1);
	}
	return (0);
}

void
auth_shutdown(void)
{
	size_t	i;

	for (i = 0; i < AUTH_CACHE; i++) {
		if (auth_cache[i].tok != NULL) {
			OPENSSL_cleanse(auth_cache[i].tok, auth_cache[i].len);
			free(auth_cache[i].tok);
		}
		auth_cache[i].tok = NULL;
	}
	token_key_free(auth_key);
	auth_key = NULL;
}

/*
 * Check the request's bearer token.  Returns 0 with *claims, or an HTTP
 * status (401) with a static reason.
 */
int
auth_check(struct http_req *req, struct token_claims *claims,
    const char **why)
{
	struct auth_slot	*slot;
	const char		*hdr, *tok;
	size_t			 len;
	int64_t			 now = (int64_t)time(NULL);
	uint32_t		 h;

	if ((hdr = http_header(req, "Authorization")) == NULL ||
	    token_bearer(hdr, &tok, &len) != 0) {
		*why = "a bearer token is required on TCP (Authorization: "
		    "Bearer <token>; see tenantctl token create)";
		return (401);
	}
	h = tid_hash(tok, len) & (AUTH_CACHE - 1);
	slot = &auth_cache[h];
	if (slot->tok != NULL && slot->len == len &&
	    CRYPTO_memcmp(slot->tok, tok, len) == 0) {
		if (slot->claims.exp == 0 || now < slot->claims.exp) {
			*claims = slot->claims;
			return (0);
		}
		*why = "the token has expired";
		return (401);
	}
	if (token_verify(auth_key, tok, len, now, claims, why) != 0)
		return (401);
	if (slot->tok != NULL) {
		OPENSSL_cleanse(slot->tok, slot->len);
		free(slot->tok);
	}
	slot->tok = xmalloc(len);
	memcpy(slot->tok, tok, len);
	slot->len = len;
	slot->claims = *claims;
	return (0);
}

/* A new token (free()) for claims, or NULL. */
char *
auth_sign(const struct token_claims *claims)
{
	char	*out = NULL;

	if (token_sign(auth_key, claims, &out) != 0)
		return (NULL);
	return (out);
}
