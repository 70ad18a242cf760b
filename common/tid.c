/*
 * tid.c: tenant ids.
 *
 * A tenant id is 1 to TID_MAX bytes from [A-Za-z0-9_.-] and does not start
 * with '.'.  That keeps every id a safe single path component (no "/", no
 * "..", no NUL, no hidden files) and a safe LMDB key.  Ids are untrusted
 * input everywhere: the validators take an explicit length so embedded NUL
 * bytes are caught.  Pure functions; any thread.
 */
#include "config.h"

#include <string.h>

#include "common.h"

static int
tid_char_ok(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
}

/* Returns NULL if the id is valid, else a static message saying why not. */
const char *
tid_error(const char *id, size_t len)
{
	size_t	i;

	if (id == NULL || len == 0)
		return ("tenant id is empty");
	if (len > TID_MAX)
		return ("tenant id is longer than 64 characters");
	if (id[0] == '.')
		return ("tenant id must not start with '.'");
	for (i = 0; i < len; i++) {
		if (!tid_char_ok((unsigned char)id[i]))
			return ("tenant id may only contain A-Z, a-z, 0-9, "
			    "'_', '-' and '.'");
	}
	return (NULL);
}

/* Returns 1 if the id is valid, 0 if not. */
int
tid_valid(const char *id, size_t len)
{
	return (tid_error(id, len) == NULL);
}

/* FNV-1a over the id: stable across versions, it names shard folders. */
uint32_t
tid_hash(const char *id, size_t len)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 16777619u;
	}
	return (h);
}

/* The shard folder (0 .. TID_SHARDS-1) a tenant's files live in. */
int
tid_shard(const char *id, size_t len)
{
	uint32_t h = tid_hash(id, len);

	return ((int)((h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & (TID_SHARDS - 1)));
}
