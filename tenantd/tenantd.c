/*
 * tenantd.c: the daemon's start, signals and shutdown.
 *
 * Start: options -> data dir lock -> catalog -> crash recovery -> schemas
 * -> loops -> workers -> listeners -> ready file -> the main event loop.  SIGTERM and
 * SIGINT stop accepting, let in-flight requests finish (bounded), then stop
 * the workers, close every handle and sync the catalog.  SIGHUP reloads
 * the schema folders.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

#define TICK_MS			250
#define SHUTDOWN_GRACE_S	30

static struct event	*tick_ev;
static uint64_t		 shutdown_started;

static void
raise_fd_limit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

static void
maybe_exit_loop(void)
{
	if (!server_shutting_down())
		return;
	if ((worker_inflight() == 0 && http_inflight() == 0) ||
	    time_mono_us() - shutdown_started >
	    (uint64_t)SHUTDOWN_GRACE_S * 1000000) {
		if (worker_inflight() > 0 || http_inflight() > 0)
			log_warnx("shutdown: %zu requests and %zu worker jobs "
			    "still running after %d s; stopping anyway",
			    http_inflight(), worker_inflight(),
			    SHUTDOWN_GRACE_S);
		event_base_loopexit(server_base, NULL);
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	state_lock();
	stream_expire_tick();
	cache_tick();
	rollout_tick();
	maybe_exit_loop();
	state_unlock();
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	state_lock();
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading schemas from %s", cfg.schemas_dir);
		schema_reload(NULL, NULL);
		break;
	case SIGTERM:
	case SIGINT:
		if (server_shutting_down())
			break;
		log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" :
		    "SIGINT");
		server_set_shutdown();
		cache_stop_upkeep();
		shutdown_started = time_mono_us();
		http_stop_listening();
		maybe_exit_loop();
		break;
	}
	state_unlock();
}

static int
lock_data_dir(void)
{
	char	*path;
	int	 fd;

	xasprintf(&path, "%s/tenantd.lock", cfg.data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("%s", path);
		free(path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("data dir %s is in use by another tenantd",
		    cfg.data_dir);
		close(fd);
		free(path);
		return (-1);
	}
	free(path);
	return (fd);	/* held until exit */
}

static void
write_ready_file(const char *tcp_bound)
{
	char	*tmp;
	FILE	*f;

	if (cfg.ready_file == NULL)
		return;
	xasprintf(&tmp, "%s.tmp", cfg.ready_file);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		free(tmp);
		return;
	}
	fprintf(f, "pid %ld\nunix %s\n", (long)getpid(), cfg.socket_path);
	if (tcp_bound != NULL)
		fprintf(f, "tcp %s\n", tcp_bound);
	if (fclose(f) != 0 || rename(tmp, cfg.ready_file) == -1)
		log_warn("%s", cfg.ready_file);
	free(tmp);
}

int
main(int argc, char **argv)
{
	struct event	*sigs[4];
	struct timeval	 tv = { 0, TICK_MS * 1000 };
	struct schema	*def;
	char		 err[512], bound[300], *dir, *abs;
	size_t		 probe;
	int		 rc, lockfd, i, made;
	const int	 signos[4] = { SIGTERM, SIGINT, SIGHUP, 0 };

	config_defaults();
	if ((rc = config_parse(argc, argv)) != 0)
		return (rc > 0 ? 0 : 2);
	log_init(cfg.foreground, cfg.verbose, "tenantd");
	if (cfg.restore_from != NULL)
		return (backup_restore(cfg.restore_from, cfg.data_dir));
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (cfg.max_open == 0)
		cfg.max_open = config_default_max_open();

	if (!(made = mkdir(cfg.data_dir, 0750) == 0) && errno != EEXIST) {
		log_warn("data dir %s", cfg.data_dir);
		return (1);
	}
	/* Tenant paths are built from it and handed to SQLite as full
	 * paths (vfs.c): absolute, without symlinks. */
	if ((abs = realpath(cfg.data_dir, NULL)) == NULL) {
		log_warn("data dir %s", cfg.data_dir);
		return (1);
	}
	free(cfg.data_dir);
	cfg.data_dir = abs;
	xasprintf(&dir, "%s/tenants", cfg.data_dir);
	if (mkdir(dir, 0750) == 0)
		made = 1;
	else if (errno != EEXIST) {
		log_warn("%s", dir);
		return (1);
	}
	/* The folders made here survive a power cut before anything is
	 * put in them (catalog_open does the same for its own). */
	if (made && (fsync_parent(dir) == -1 ||
	    fsync_parent(cfg.data_dir) == -1)) {
		log_warn("fsync %s", cfg.data_dir);
		return (1);
	}
	free(dir);
	if (!cfg.foreground && daemon(1, 0) == -1) {
		log_warn("daemon");
		return (1);
	}
	if ((lockfd = lock_data_dir()) == -1)
		return (1);
	/* Before any tenant file is opened: commits a crash left only in
	 * the commit log (group commit, durable.c) go back into the WALs. */
	if (durable_recover(err, sizeof err) != 0) {
		log_warnx("commit log: %s", err);
		return (1);
	}
	if (auth_init() != 0)
		return (1);

	if (sqlmem_init() != 0) {
		log_warnx("cannot install SQLite's allocator");
		return (1);
	}
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* No page-cache preallocation per connection: an idle handle then
	 * costs about half the memory (bench/RESULTS.md, floor: 132 -> 60
	 * KiB per open connection); pages are allocated as they are used. */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	if (sqlite3_initialize() != SQLITE_OK) {
		log_warnx("sqlite3_initialize failed");
		return (1);
	}
	if (vfs_init() != 0) {
		log_warnx("cannot register the tenant VFS (SQLite without "
		    "its unix VFS?)");
		return (1);
	}

	xasprintf(&dir, "%s/catalog", cfg.data_dir);
	if (catalog_open(dir, &server_catalog, err, sizeof err) != 0) {
		log_warnx("%s", err);
		return (1);
	}
	free(dir);
	if (tenant_recover(server_catalog) != 0 || export_init() != 0)
		return (1);
	/* Only SQLite's unix VFS (--shared-files) keeps a list of open
	 * files to pool; exclvfs.c finds a file's record by its inode. */
	if (cfg.shared_files) {
		xasprintf(&dir, "%s/tmp", cfg.data_dir);
		if ((probe = sqlmem_probe(dir)) != 0)
			log_info("sqlite: the VFS's inode records (%zu bytes) "
			    "come from one pool", probe);
		else
			log_warnx("sqlite: the VFS's inode record was not "
			    "found; opens walk a scattered list (slower "
			    "misses)");
		free(dir);
	}
	if (schema_load_all(cfg.schemas_dir, err, sizeof err) != 0)
		log_warnx("%s; serving without schemas", err);
	if (cfg.default_schema != NULL) {
		if ((def = schema_get(cfg.default_schema)) == NULL) {
			log_warnx("default schema %s: not found in %s",
			    cfg.default_schema, cfg.schemas_dir);
			return (1);
		}
		schema_unref(def);
	}

	if ((server_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	server_start_ms = time_now_ms();
	cache_init(server_catalog);
	stream_init();
	loops_init(server_base, cfg.loops);
	durable_init(http_durable_notify);
	flush_init();
	worker_start(cfg.workers);
	rollout_init();

	http_set_body_policy(server_body_policy);
	if (http_listen_unix(server_base, cfg.socket_path, cfg.socket_group,
	    server_handle) != 0)
		return (1);
	bound[0] = '\0';
	if (cfg.listen != NULL) {
		if (http_listen_tcp(server_base, cfg.listen, server_handle,
		    bound, sizeof bound) != 0)
			return (1);
		if (cfg.no_auth)
			log_warnx("TCP %s: --no-auth: no token needed, anyone "
			    "who can reach it has full access; for local "
			    "development only", bound);
		else
			log_info("TCP %s: bearer tokens required (tenantctl "
			    "token create)", bound);
	}
	for (i = 0; signos[i] != 0; i++) {
		sigs[i] = evsignal_new(server_base, signos[i], sig_cb, NULL);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot watch signal %d", signos[i]);
	}
	tick_ev = event_new(server_base, -1, EV_PERSIST, tick_cb, NULL);
	if (tick_ev == NULL || evtimer_add(tick_ev, &tv) == -1)
		fatalx("cannot start the timer");

	log_info("tenantd %s: serving unix %s%s%s (data %s, schemas %s, "
	    "%d loops, %d workers, max %d open, libevent %s, sqlite %s)",
	    TENANTD_VERSION, cfg.socket_path, bound[0] ? " and tcp " : "",
	    bound, cfg.data_dir, cfg.schemas_dir, cfg.loops, cfg.workers,
	    cfg.max_open,
	    event_get_version(), sqlite3_libversion());
	write_ready_file(bound[0] ? bound : NULL);

	loop_run(server_base);

	/* From here on the main thread is the only one touching state. */
	loops_stop();
	worker_stop();
	rollout_shutdown();
	backup_shutdown();
	durable_stop();		/* a last sync round for the answers held */
	flush_stop();
	loops_drain_all();
	http_stop_listening();
	http_close_all();
	stream_shutdown();
	cache_shutdown();
	exclvfs_kept_clear();
	durable_close();	/* tenant files closed cleanly: logs emptied */
	schema_shutdown();
	if (catalog_sync(server_catalog) != CATALOG_OK)
		log_warnx("%s", catalog_strerror(server_catalog));
	catalog_close(server_catalog);
	if (cfg.ready_file != NULL)
		unlink(cfg.ready_file);
	for (i = 0; signos[i] != 0; i++)
		event_free(sigs[i]);
	event_free(tick_ev);
	loops_free();
	event_base_free(server_base);
	auth_shutdown();
	close(lockfd);
	log_info("tenantd: stopped");
	return (0);
}
