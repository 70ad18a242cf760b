/*
 * backup.c: online backup of the whole data dir, and offline restore.
 *
 * Backup (POST /v1/backups {"dir": "/abs/path"}) runs on one worker while
 * the daemon keeps serving:
 *   1. a compacted, consistent copy of the catalog (mdb_env_copy2);
 *   2. every tenant listed in that copy is copied with SQLite's backup API
 *      from a connection of its own (one read transaction per tenant, so
 *      each file is a consistent snapshot and writers are not blocked);
 *      the copies are in rollback-journal mode and stand alone;
 *   3. MANIFEST.json lists every file with its size and SHA-256, the
 *      tenants whose file was never made ("unmaterialized": created, never
 *      opened; their record in the catalog copy is all there is), and the
 *      tenants deleted between steps 1 and 2 ("skipped").
 * Each tenant file is consistent in itself; tenants are copied one after
 * another, so the set is not one instant (documented).
 *
 * Restore (tenantd --restore DIR -D NEWDIR, daemon stopped) builds a data
 * dir from a backup: copies the catalog and files, checks each file's
 * SHA-256 and PRAGMA integrity_check, drops the skipped tenants from the
 * catalog, puts the files back in WAL mode, and fails loudly (exit 1, the
 * half-built dir removed) if anything does not verify.  Unmaterialized
 * tenants come back as they were: records whose file the first open
 * makes.  A tenant whose file was made after the catalog copy was taken
 * has its file in the backup and its record marked materialized at the
 * file's version on restore.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tenantd.h"

struct backup {
	struct job		 job;
	uint64_t		 id;
	char			 dir[1024];
	struct http_req		*req;
	_Atomic size_t		 total;
	_Atomic size_t		 done;
	_Atomic size_t		 skipped;
	_Atomic size_t		 unmade;
	_Atomic uint64_t	 bytes;
	int			 running;
	int			 failed;
	char			 error[2048];
	int64_t			 created_ms;
	int64_t			 finished_ms;
};

static struct backup	*last_backup;
static uint64_t		 backup_next_id;

/* What became of each tenant of the catalog copy. */
enum { BK_SKIPPED, BK_COPIED, BK_UNMADE };

struct idlist {
	char	(*ids)[TID_MAX + 1];
	int	 *unmade;	/* the copy says: no file yet */
	int	 *fate;		/* BK_* */
	size_t	  n;
};

static int
collect_cb(void *arg, const struct tenant_rec *r)
{
	struct idlist	*l = arg;

	if (r->state != TENANT_ACTIVE && r->state != TENANT_FAILED)
		return (0);
	l->ids = xreallocarray(l->ids, l->n + 1, sizeof *l->ids);
	l->unmade = xreallocarray(l->unmade, l->n + 1, sizeof *l->unmade);
	l->unmade[l->n] = !r->materialized;
	strlcpy_x(l->ids[l->n++], r->id, sizeof l->ids[0]);
	return (0);
}

/* An unmaterialized tenant of the copy without a file: still there? */
static int
backup_still_unmade(const char *id)
{
	struct tenant_rec	rec;

	if (catalog_get(server_catalog, id, strlen(id), &rec) != CATALOG_OK)
		return (0);
	return (rec.state == TENANT_ACTIVE || rec.state == TENANT_FAILED);
}

/* Write the ids whose fate is fate as a JSON array of strings. */
static void
manifest_ids(FILE *mf, const struct idlist *l, int fate)
{
	size_t	i;
	int	n = 0;

	fputc('[', mf);
	for (i = 0; i < l->n; i++)
		if (l->fate[i] == fate)
			fprintf(mf, "%s\"%s\"", n++ ? "," : "", l->ids[i]);
	fputc(']', mf);
}

/* SHA-256 of a file as 64 hex chars; -1 on a read error. */
static int
file_sha256(const char *path, char *hex, uint64_t *size)
{
	unsigned char	 buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	EVP_MD_CTX	*ctx;
	ssize_t		 n;
	int		 fd, rc = -1;

	*size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	if (n == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1) {
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		rc = 0;
	}
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return (rc);
}

static int
mkdir_p_shard(const char *path)
{
	char	dir[1100], *slash;

	strlcpy_x(dir, path, sizeof dir);
	if ((slash = strrchr(dir, '/')) == NULL)
		return (0);
	*slash = '\0';
	return (mkdir(dir, 0700) == -1 && errno != EEXIST ? -1 : 0);
}

/* Copy one live tenant file with the backup API.  1 copied, 0 gone, -1. */
static int
backup_one(const char *src, const char *dst, char *err, size_t errlen)
{
	sqlite3		*s = NULL;
	struct stat	 sb;
	int		 rc;

	if (stat(src, &sb) == -1 && errno == ENOENT)
		return (0);
	rc = sqlite3_open_v2(src, &s, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, TENANT_VFS);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%.300s: %s", src, s ? sqlite3_errmsg(s) :
		    sqlite3_errstr(rc));
		sqlite3_close(s);
		return (-1);
	}
	sqlite3_busy_timeout(s, cfg.busy_timeout_ms);
	if (mkdir_p_shard(dst) == -1) {
		snprintf(err, errlen, "%.300s: %s", dst, strerror(errno));
		rc = -1;
	} else
		rc = export_copy_db(s, dst, err, errlen) == 0 ? 1 : -1;
	sqlite3_close(s);
	return (rc);
}

static void
backup_run(struct job *j)
{
	struct backup	*b = (struct backup *)j;
	struct catalog	*copy = NULL;
	struct idlist	 l = { NULL, NULL, NULL, 0 };
	char		 path[1200], src[1024], err[512], hex[65];
	uint64_t	 size;
	FILE		*mf = NULL;
	size_t		 i, nfiles = 0;
	int		 rc, dfd = -1;

	snprintf(path, sizeof path, "%s/catalog", b->dir);
	if (mkdir(path, 0700) == -1) {
		snprintf(b->error, sizeof b->error, "%s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (catalog_copy(server_catalog, path) != CATALOG_OK) {
		strlcpy_x(b->error, catalog_strerror(server_catalog),
		    sizeof b->error);
		goto fail;
	}
	if (catalog_open(path, &copy, err, sizeof err) != 0 ||
	    catalog_each(copy, collect_cb, &l) != CATALOG_OK) {
		snprintf(b->error, sizeof b->error, "the catalog copy: %s", err);
		goto fail;
	}
	catalog_close(copy);
	copy = NULL;
	b->total = l.n;
	l.fate = xcalloc(l.n ? l.n : 1, sizeof *l.fate);
	snprintf(path, sizeof path, "%s/MANIFEST.json.tmp", b->dir);
	if ((mf = fopen(path, "w")) == NULL) {
		snprintf(b->error, sizeof b->error, "%s: %s", path,
		    strerror(errno));
		goto fail;
	}
	fprintf(mf, "{\"format\":1,\"tenantd\":\"%s\",\"created_ms\":%lld,"
	    "\"files\":[", TENANTD_VERSION, (long long)time_now_ms());
	for (i = 0; i < l.n; i++) {
		handle_path(l.ids[i], strlen(l.ids[i]), src, sizeof src);
		snprintf(path, sizeof path, "%s/tenants/%02x/%s.db", b->dir,
		    tid_shard(l.ids[i], strlen(l.ids[i])), l.ids[i]);
		rc = backup_one(src, path, err, sizeof err);
		if (rc < 0) {
			snprintf(b->error, sizeof b->error, "tenant %s: %s",
			    l.ids[i], err);
			goto fail;
		}
		if (rc == 0) {
			/* No file: never made (and not deleted since), or
			 * deleted between the catalog copy and now. */
			if (l.unmade[i] && backup_still_unmade(l.ids[i])) {
				l.fate[i] = BK_UNMADE;
				b->unmade++;
				b->done++;
			} else
				b->skipped++;
			continue;
		}
		l.fate[i] = BK_COPIED;
		if (file_sha256(path, hex, &size) != 0) {
			snprintf(b->error, sizeof b->error, "%s: cannot read "
			    "back", path);
			goto fail;
		}
		fprintf(mf, "%s{\"id\":\"%s\",\"bytes\":%llu,\"sha256\":\"%s\"}",
		    nfiles++ ? "," : "", l.ids[i], (unsigned long long)size,
		    hex);
		b->bytes += size;
		b->done++;
	}
	/* Created but never opened: the record is the whole tenant. */
	fprintf(mf, "],\"unmaterialized\":");
	manifest_ids(mf, &l, BK_UNMADE);
	/* Tenants gone between the catalog copy and their file copy. */
	fprintf(mf, ",\"skipped\":");
	manifest_ids(mf, &l, BK_SKIPPED);
	fprintf(mf, "}\n");
	/*
	 * Every copy, the catalog's and the folders naming them on disk
	 * before MANIFEST.json says the backup is whole: one syncfs (the
	 * copies were written without syncs of their own), then the manifest,
	 * its rename and the folders above it.
	 */
	if ((dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    syncfs(dfd) == -1) {
		snprintf(b->error, sizeof b->error, "syncing %s: %s", b->dir,
		    strerror(errno));
		goto fail;
	}
	if (fflush(mf) != 0 || fsync(fileno(mf)) != 0) {
		snprintf(b->error, sizeof b->error, "MANIFEST.json: %s",
		    strerror(errno));
		goto fail;
	}
	fclose(mf);
	mf = NULL;
	{
		char	from[1200], to[1200];
		snprintf(from, sizeof from, "%s/MANIFEST.json.tmp", b->dir);
		snprintf(to, sizeof to, "%s/MANIFEST.json", b->dir);
		if (rename(from, to) == -1) {
			snprintf(b->error, sizeof b->error, "MANIFEST.json: %s",
			    strerror(errno));
			goto fail;
		}
	}
	if (fsync(dfd) == -1 || fsync_parent(b->dir) == -1) {
		snprintf(b->error, sizeof b->error, "syncing %s: %s", b->dir,
		    strerror(errno));
		goto fail;
	}
	close(dfd);
	free(l.ids);
	free(l.unmade);
	free(l.fate);
	return;

fail:
	b->failed = 1;
	if (dfd != -1)
		close(dfd);
	if (mf != NULL)
		fclose(mf);
	if (copy != NULL)
		catalog_close(copy);
	free(l.ids);
	free(l.unmade);
	free(l.fate);
}

static json_t *
backup_json(struct backup *b)
{
	char	ts[40];
	json_t	*o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)b->id));
	json_object_set_new(o, "dir", json_string(b->dir));
	json_object_set_new(o, "state", json_string(b->running ? "running" :
	    b->failed ? "failed" : "succeeded"));
	json_object_set_new(o, "total", json_integer((json_int_t)b->total));
	json_object_set_new(o, "done", json_integer((json_int_t)b->done));
	json_object_set_new(o, "skipped", json_integer((json_int_t)b->skipped));
	json_object_set_new(o, "unmaterialized", json_integer((json_int_t)
	    b->unmade));
	json_object_set_new(o, "bytes", json_integer((json_int_t)b->bytes));
	json_object_set_new(o, "error", b->failed ? json_string(b->error) :
	    json_null());
	time_format_iso(b->created_ms, ts, sizeof ts);
	json_object_set_new(o, "created", json_string(ts));
	if (b->finished_ms) {
		time_format_iso(b->finished_ms, ts, sizeof ts);
		json_object_set_new(o, "finished", json_string(ts));
	} else
		json_object_set_new(o, "finished", json_null());
	return (o);
}

static void
backup_done(struct job *j)
{
	struct backup	*b = (struct backup *)j;

	b->running = 0;
	b->finished_ms = (int64_t)time_now_ms();
	if (b->failed)
		log_warnx("backup %llu to %s failed: %s",
		    (unsigned long long)b->id, b->dir, b->error);
	else
		log_info("backup %llu to %s: %zu tenants (%zu never opened, "
		    "no file), %llu bytes%s", (unsigned long long)b->id, b->dir,
		    (size_t)b->done, (size_t)b->unmade,
		    (unsigned long long)b->bytes, b->skipped ? " (some "
		    "deleted meanwhile)" : "");
}

static void
backup_create(struct http_req *req)
{
	struct backup	*b;
	json_error_t	 jerr;
	json_t		*body;
	const char	*dir;
	char		 path[1100];
	DIR		*d;
	struct dirent	*de;
	int		 empty = 1;

	body = json_loadb(req->body, req->body_len, 0, &jerr);
	dir = body ? json_string_value(json_object_get(body, "dir")) : NULL;
	if (dir == NULL || dir[0] != '/' || strlen(dir) > 900 ||
	    strstr(dir, "/../") != NULL) {
		if (body != NULL)
			json_decref(body);
		http_reply_error(req, 400, "BAD_REQUEST", "body must be "
		    "{\"dir\": \"/absolute/path\"} (a new or empty folder)");
		return;
	}
	if (last_backup != NULL && last_backup->running) {
		json_decref(body);
		http_reply_error(req, 409, "BACKUP_RUNNING", "backup %llu is "
		    "still running", (unsigned long long)last_backup->id);
		return;
	}
	if (mkdir(dir, 0700) == -1) {
		if (errno != EEXIST || (d = opendir(dir)) == NULL) {
			http_reply_error(req, 400, "BAD_REQUEST", "cannot create "
			    "%s: %s", dir, strerror(errno));
			json_decref(body);
			return;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(d);
		if (!empty) {
			http_reply_error(req, 409, "BACKUP_DIR_NOT_EMPTY", "%s is "
			    "not empty", dir);
			json_decref(body);
			return;
		}
	}
	snprintf(path, sizeof path, "%s/tenants", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		http_reply_error(req, 500, "BACKUP_FAILED", "%s: %s", path,
		    strerror(errno));
		json_decref(body);
		return;
	}
	b = xcalloc(1, sizeof *b);
	b->id = ++backup_next_id;
	strlcpy_x(b->dir, dir, sizeof b->dir);
	json_decref(body);
	b->running = 1;
	b->created_ms = (int64_t)time_now_ms();
	b->job.run = backup_run;
	b->job.done = backup_done;
	free(last_backup);
	last_backup = b;
	log_info("backup %llu to %s started", (unsigned long long)b->id,
	    b->dir);
	worker_push(&b->job);
	http_reply_json(req, 202, backup_json(b));
}

/* /v1/backups[/{id}] */
void
backup_route(struct http_req *req, const char *rest)
{
	char			*end;
	unsigned long long	 id;

	req->route = ROUTE_BACKUPS;
	if (*rest == '\0') {
		if (strcasecmp(req->method, "POST") == 0)
			backup_create(req);
		else
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use "
			    "POST to start a backup");
		return;
	}
	if (strcasecmp(req->method, "GET") != 0) {
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
		return;
	}
	id = strtoull(rest + 1, &end, 10);
	if (rest[1] == '\0' || *end != '\0' || last_backup == NULL ||
	    last_backup->id != id) {
		http_reply_error(req, 404, "BACKUP_NOT_FOUND", "no such backup "
		    "(the last one is kept)");
		return;
	}
	http_reply_json(req, 200, backup_json(last_backup));
}

void
backup_shutdown(void)
{
	free(last_backup);
	last_backup = NULL;
}

/* --- restore (offline) ---------------------------------------------------- */

static int
copy_file(const char *from, const char *to)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 in, out, rc = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1) {
		close(in);
		return (-1);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	if (n == 0 && fsync(out) == 0)
		rc = 0;
out:
	close(in);
	if (close(out) != 0)
		rc = -1;
	return (rc);
}

static int
rm_rf(const char *path)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	char		 p[1400];

	if (lstat(path, &sb) == -1)
		return (0);
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof p, "%s/%s", path, de->d_name);
			rm_rf(p);
		}
		closedir(d);
		return (rmdir(path));
	}
	return (unlink(path));
}

/* integrity_check, back to WAL mode, and the file's version in *version. */
static int
verify_db(const char *path, int *version, char *err, size_t errlen)
{
	struct migrate_error	 merr;
	sqlite3_stmt		*st = NULL;
	sqlite3			*db = NULL;
	const char		*res;
	int			 rc, ok = -1;

	*version = 0;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
		    NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    (res = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    strcmp(res, "ok") == 0)
		ok = 0;
	else
		snprintf(err, errlen, "integrity_check: %s", st &&
		    sqlite3_column_text(st, 0) ?
		    (const char *)sqlite3_column_text(st, 0) :
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_finalize(st);
	memset(&merr, 0, sizeof merr);
	if (ok == 0 && migrate_db_version(db, version, &merr) != MIGRATE_OK) {
		snprintf(err, errlen, "%s", merr.message);
		ok = -1;
	}
	if (ok == 0 && sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set WAL mode: %s",
		    sqlite3_errmsg(db));
		ok = -1;
	}
	sqlite3_close(db);
	return (ok);
}

/*
 * tenantd --restore DIR -D NEWDIR: build a data dir from a backup, with
 * the daemon stopped.  Prints a summary; returns the exit status.
 */
int
backup_restore(const char *from, const char *to)
{
	struct catalog		*c = NULL;
	struct tenant_rec	 rec;
	json_error_t		 jerr;
	json_t			*m = NULL, *files, *skipped, *unmade, *e;
	char			 src[1400], dst[1400], err[512], hex[65];
	uint64_t		 size;
	size_t			 i, nbad = 0, nok = 0;
	struct stat		 sb;
	int			*versions = NULL, v;

	snprintf(src, sizeof src, "%s/MANIFEST.json", from);
	if ((m = json_load_file(src, 0, &jerr)) == NULL ||
	    !json_is_array(files = json_object_get(m, "files"))) {
		fprintf(stderr, "tenantd: %s: not a tenantd backup (%s)\n", src,
		    jerr.text);
		goto fail_early;
	}
	/* Absent from backups made before lazy creates. */
	unmade = json_object_get(m, "unmaterialized");
	if (unmade != NULL && !json_is_array(unmade)) {
		fprintf(stderr, "tenantd: %s: \"unmaterialized\" is not a "
		    "list\n", src);
		goto fail_early;
	}
	versions = xcalloc(json_array_size(files) + 1, sizeof *versions);
	if (stat(to, &sb) == 0) {
		fprintf(stderr, "tenantd: %s exists; restore builds a new data "
		    "dir\n", to);
		goto fail_early;
	}
	if (mkdir(to, 0750) == -1) {
		fprintf(stderr, "tenantd: %s: %s\n", to, strerror(errno));
		goto fail_early;
	}
	snprintf(dst, sizeof dst, "%s/catalog", to);
	mkdir(dst, 0750);
	snprintf(dst, sizeof dst, "%s/tenants", to);
	mkdir(dst, 0750);
	snprintf(src, sizeof src, "%s/catalog/data.mdb", from);
	snprintf(dst, sizeof dst, "%s/catalog/data.mdb", to);
	if (copy_file(src, dst) != 0) {
		fprintf(stderr, "tenantd: cannot copy the catalog: %s\n",
		    strerror(errno));
		goto fail;
	}
	json_array_foreach(files, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *sum = json_string_value(json_object_get(e, "sha256"));
		if (id == NULL || sum == NULL || !tid_valid(id, strlen(id))) {
			fprintf(stderr, "tenantd: MANIFEST.json: bad entry %zu\n",
			    i);
			nbad++;
			continue;
		}
		snprintf(src, sizeof src, "%s/tenants/%02x/%s.db", from,
		    tid_shard(id, strlen(id)), id);
		snprintf(dst, sizeof dst, "%s/tenants/%02x", to,
		    tid_shard(id, strlen(id)));
		mkdir(dst, 0750);
		snprintf(dst, sizeof dst, "%s/tenants/%02x/%s.db", to,
		    tid_shard(id, strlen(id)), id);
		if (file_sha256(src, hex, &size) != 0 || strcmp(hex, sum) != 0) {
			fprintf(stderr, "tenantd: tenant %s: the backup file is "
			    "missing or its SHA-256 differs from the manifest\n",
			    id);
			nbad++;
			continue;
		}
		err[0] = '\0';
		if (copy_file(src, dst) != 0 ||
		    verify_db(dst, &versions[i], err, sizeof err) != 0) {
			fprintf(stderr, "tenantd: tenant %s: %s\n", id,
			    err[0] ? err : strerror(errno));
			nbad++;
			continue;
		}
		nok++;
	}
	if (nbad > 0) {
		fprintf(stderr, "tenantd: restore failed: %zu of %zu files did "
		    "not verify; %s removed\n", nbad, json_array_size(files), to);
		goto fail;
	}
	snprintf(dst, sizeof dst, "%s/catalog", to);
	if (catalog_open(dst, &c, err, sizeof err) != 0) {
		fprintf(stderr, "tenantd: %s\n", err);
		goto fail;
	}
	/* Never opened when backed up: the record must say so. */
	json_array_foreach(unmade, i, e) {
		const char *id = json_string_value(e);
		if (id == NULL || catalog_get(c, id, strlen(id), &rec) !=
		    CATALOG_OK || rec.materialized) {
			fprintf(stderr, "tenantd: tenant %s: listed as never "
			    "opened, but the catalog has no such record\n",
			    id ? id : "(not a string)");
			nbad++;
		}
	}
	/* Made after the catalog copy was taken: the file says where. */
	json_array_foreach(files, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		if (catalog_get(c, id, strlen(id), &rec) != CATALOG_OK ||
		    rec.materialized)
			continue;
		v = versions[i];
		if (catalog_set_materialized(c, id, v) != CATALOG_OK) {
			fprintf(stderr, "tenantd: tenant %s: %s\n", id,
			    catalog_strerror(c));
			nbad++;
		}
	}
	if (nbad > 0) {
		fprintf(stderr, "tenantd: restore failed: the catalog and the "
		    "manifest disagree; %s removed\n", to);
		catalog_close(c);
		goto fail;
	}
	skipped = json_object_get(m, "skipped");
	json_array_foreach(skipped, i, e)
		if (json_is_string(e))
			catalog_del(c, json_string_value(e));
	catalog_close(c);
	printf("restored %zu tenants from %s into %s; every file verified%s\n",
	    nok + json_array_size(unmade), from, to, json_array_size(unmade) ?
	    " (tenants never opened come back without a file, as they were)" :
	    "");
	json_decref(m);
	free(versions);
	return (0);

fail:
	rm_rf(to);
fail_early:
	if (m != NULL)
		json_decref(m);
	free(versions);
	return (1);
}
