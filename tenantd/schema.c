/*
 * schema.c: the registry of migration sets found under cfg.schemas_dir.
 *
 * Each sub-folder is one schema, loaded and validated by the migrate
 * library.  Sets are refcounted: a job that uses one (creating a tenant)
 * holds a reference, so a reload (SIGHUP) can swap the registry while the
 * job runs.  A set that fails to load is logged with every problem, and
 * on reload its previous good version stays in service.
 *
 * The registry is loop-owned; loading runs on a worker during reload (it
 * executes the migrations on a scratch in-memory database).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

static struct schema	**schemas;
static size_t		  nschemas;

static int
schema_cmp(const void *a, const void *b)
{
	return (strcmp((*(struct schema *const *)a)->name,
	    (*(struct schema *const *)b)->name));
}

static struct schema *
schema_find_in(struct schema **list, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i]->name, name) == 0)
			return (list[i]);
	return (NULL);
}

/*
 * Load every set under dir into a new array.  Sets that fail are logged
 * and, if old has a set of that name, the old one is kept (a new ref).
 * Thread-safe apart from reading old, which must not change meanwhile.
 */
static int
schema_load_dir(const char *dir, struct schema **old, size_t nold,
    struct schema ***outp, size_t *noutp, char *err, size_t errlen)
{
	struct migrate_problems	  probs;
	struct migrate_set	 *set;
	struct schema		**out = NULL, *s, *prev;
	struct dirent		 *de;
	struct stat		  sb;
	DIR			 *d;
	size_t			  n = 0, i;
	char			  path[1024];

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "schemas folder %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
			continue;
		memset(&probs, 0, sizeof probs);
		if (migrate_set_load(path, &set, &probs) != MIGRATE_OK) {
			for (i = 0; i < probs.count; i++)
				log_warnx("schema %s: %s", de->d_name,
				    probs.items[i].message);
			migrate_problems_free(&probs);
			if ((prev = schema_find_in(old, nold, de->d_name)) ==
			    NULL)
				continue;
			log_warnx("schema %s: keeping the version loaded "
			    "before", de->d_name);
			prev->refs++;
			out = xreallocarray(out, n + 1, sizeof *out);
			out[n++] = prev;
			continue;
		}
		migrate_problems_free(&probs);
		s = xcalloc(1, sizeof *s);
		s->refs = 1;
		strlcpy_x(s->name, migrate_set_name(set), sizeof s->name);
		s->set = set;
		if (server_catalog != NULL) {
			int recorded = 0;
			if (catalog_applied_check(server_catalog, set, &recorded,
			    s->edited, sizeof s->edited) != 0)
				log_warnx("schema %s: %s; rollouts, creates and "
				    "migrations on open are refused", s->name,
				    s->edited);
			s->recorded = recorded;
		}
		out = xreallocarray(out, n + 1, sizeof *out);
		out[n++] = s;
	}
	closedir(d);
	if (n > 0)
		qsort(out, n, sizeof *out, schema_cmp);
	*outp = out;
	*noutp = n;
	return (0);
}

static void
schema_swap(struct schema **list, size_t n)
{
	size_t	i;

	for (i = 0; i < nschemas; i++)
		schema_unref(schemas[i]);
	free(schemas);
	schemas = list;
	nschemas = n;
	for (i = 0; i < n; i++)
		log_info("schema %s: version %d", list[i]->name,
		    migrate_set_latest(list[i]->set));
}

/* Initial load at start (before the loop runs).  -1 if dir unreadable. */
int
schema_load_all(const char *dir, char *err, size_t errlen)
{
	struct schema	**list;
	size_t		  n;

	if (schema_load_dir(dir, NULL, 0, &list, &n, err, errlen) != 0)
		return (-1);
	schema_swap(list, n);
	return (0);
}

struct reload {
	struct schema	**list;
	size_t		  n;
	int		  failed;
	char		  err[256];
	void		(*cb)(void *);
	void		 *cbarg;
};

static void
reload_run(struct job *j)
{
	struct reload	*r = j->arg;

	/* Old sets to keep are chosen and referenced in reload_done, on
	 * the loop, so this job reads nothing the loop may change. */
	r->failed = schema_load_dir(cfg.schemas_dir, NULL, 0, &r->list, &r->n,
	    r->err, sizeof r->err) != 0;
}

static void
reload_done(struct job *j)
{
	struct reload	*r = j->arg;
	struct schema	*prev;
	size_t		 i;

	if (r->failed)
		log_warnx("schema reload: %s; keeping the loaded sets", r->err);
	else {
		/* Keep the old set of any schema that failed to load now
		 * (a folder that was removed is dropped). */
		for (i = 0; i < nschemas; i++) {
			char		path[1024];
			struct stat	sb;

			if (schema_find_in(r->list, r->n, schemas[i]->name))
				continue;
			snprintf(path, sizeof path, "%s/%s", cfg.schemas_dir,
			    schemas[i]->name);
			if (stat(path, &sb) == -1)
				continue;
			prev = schemas[i];
			prev->refs++;
			r->list = xreallocarray(r->list, r->n + 1,
			    sizeof *r->list);
			r->list[r->n++] = prev;
			log_warnx("schema %s: keeping the version loaded before",
			    prev->name);
		}
		if (r->n > 0)
			qsort(r->list, r->n, sizeof *r->list, schema_cmp);
		schema_swap(r->list, r->n);
	}
	if (r->cb != NULL)
		r->cb(r->cbarg);
	free(r);
	free(j);
}

/* Reload every set from disk on a worker (SIGHUP, rollout start); then
 * cb(arg) on the loop, if cb is not NULL. */
void
schema_reload(void (*cb)(void *), void *arg)
{
	struct job	*j = xcalloc(1, sizeof *j);
	struct reload	*r = xcalloc(1, sizeof *r);

	r->cb = cb;
	r->cbarg = arg;
	j->arg = r;
	j->run = reload_run;
	j->done = reload_done;
	worker_push(j);
}

/*
 * A tenant has applied s up to version v: remember the files' checksums
 * the first time a version is applied.  Worker.
 */
void
schema_applied(struct schema *s, int v)
{
	if (s == NULL || v <= s->recorded || s->edited[0] != '\0')
		return;
	if (catalog_applied_record(server_catalog, s->set, v) == CATALOG_OK)
		s->recorded = v;
	else
		log_warnx("%s", catalog_strerror(server_catalog));
}

/* A new reference to schema name, or NULL. */
struct schema *
schema_get(const char *name)
{
	struct schema	*s = schema_find_in(schemas, nschemas, name);

	if (s != NULL)
		s->refs++;
	return (s);
}

void
schema_unref(struct schema *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	migrate_set_free(s->set);
	free(s);
}

/* Borrowed. */
struct schema *
schema_at(size_t i)
{
	return (i < nschemas ? schemas[i] : NULL);
}

void
schema_shutdown(void)
{
	schema_swap(NULL, 0);
}
