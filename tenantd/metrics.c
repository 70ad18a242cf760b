/*
 * metrics.c: request counters and latency histograms, rendered in the
 * Prometheus text format.  Labels are route templates, never raw paths,
 * so the series count stays fixed.  Requests are counted on every loop,
 * without the state lock, so the request statistics have a mutex of
 * their own; the rest is read under the state lock.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "tenantd.h"

#define NBUCKETS	14
#define NCODES		16

static const double bucket_le[NBUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001,
    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30 };

struct route_stats {
	struct {
		int		code;
		uint64_t	n;
	}		codes[NCODES];
	uint64_t	buckets[NBUCKETS];
	uint64_t	count;
	double		sum;
};

static struct route_stats	stats[ROUTE__MAX];
static pthread_mutex_t		stats_mtx = PTHREAD_MUTEX_INITIALIZER;

const char *
metrics_route_name(int r)
{
	static const char *names[ROUTE__MAX] = { "other", "health", "metrics",
	    "status", "schemas", "tenants_create", "tenants_list",
	    "tenants_get", "tenants_delete", "pipeline", "version", "export",
	    "migrations", "tokens", "import", "backups" };

	return (r >= 0 && r < ROUTE__MAX ? names[r] : "other");
}

/* Count one answered request: route, HTTP status, latency in us. */
void
metrics_request(int route, int code, uint64_t us)
{
	struct route_stats	*s;
	double			 secs = (double)us / 1e6;
	int			 i;

	if (route < 0 || route >= ROUTE__MAX)
		route = ROUTE_OTHER;
	s = &stats[route];
	pthread_mutex_lock(&stats_mtx);
	for (i = 0; i < NCODES; i++) {
		if (s->codes[i].code == code || s->codes[i].code == 0) {
			s->codes[i].code = code;
			s->codes[i].n++;
			break;
		}
	}
	for (i = 0; i < NBUCKETS; i++)
		if (secs <= bucket_le[i])
			s->buckets[i]++;
	s->count++;
	s->sum += secs;
	pthread_mutex_unlock(&stats_mtx);
}

/* The handle cache's counters (struct cache_stats). */
static const struct {
	const char	*name;
	const char	*help;
	const uint64_t	*v;
} counters[] = {
	{ "tenantd_cache_hits_total", "Requests that found their tenant "
	    "open.", &cache_stats.hits },
	{ "tenantd_cache_misses_total", "Requests that had to open their "
	    "tenant.", &cache_stats.misses },
	{ "tenantd_cache_evictions_total", "Idle handles closed to make "
	    "room.", &cache_stats.evictions },
	{ "tenantd_cache_wait_timeouts_total", "Requests refused because no "
	    "handle freed up in time.", &cache_stats.wait_timeouts },
	{ "tenantd_batched_requests_total", "Requests that ran right behind "
	    "another one of the same tenant, on the same worker, without a "
	    "hand-off of their own.", &cache_stats.batched },
	{ "tenantd_inline_requests_total", "Requests run on the event loop "
	    "that read them (fast path: the tenant was open and idle), "
	    "without a worker.", &cache_stats.inline_runs },
	{ "tenantd_inline_handoffs_total", "Fast-path requests handed to a "
	    "worker before they had any effect (a write where none may run "
	    "on the loop, or past the step budget of the loop).",
	    &cache_stats.inline_handoffs },
	{ "tenantd_inline_opens_total", "Requests for a tenant that was not "
	    "open whose file the event loop opened itself (it had no other "
	    "request in hand).", &cache_stats.inline_opens },
	{ "tenantd_inline_open_waits_total", "Of those, opens handed to a "
	    "worker because they would have waited for the disk.",
	    &cache_stats.inline_open_waits },
	{ "tenantd_handed_checkpoints_total", "WAL checkpoints that commits "
	    "on a loop left to a worker.", &cache_stats.checkpoints },
	{ "tenantd_cache_trims_total", "Idle handles that gave their page "
	    "cache back.", &cache_stats.trims },
};

/* Group commit's counters (struct durable_stats), at --synchronous full. */
static const struct {
	const char		*name;
	const char		*help;
	const _Atomic uint64_t	*v;
} sync_counters[] = {
	{ "tenantd_sync_rounds_total", "rounds run (one commit log block "
	    "written and synced).", &durable_stats.rounds },
	{ "tenantd_sync_commits_total", "commits that took a ticket for a "
	    "round.", &durable_stats.commits },
	{ "tenantd_sync_held_answers_total", "answers held until their "
	    "round was done.", &durable_stats.held },
	{ "tenantd_sync_log_bytes_total", "bytes written to the commit log.",
	    &durable_stats.bytes },
	{ "tenantd_sync_log_resets_total", "full commit logs emptied after "
	    "a syncfs.", &durable_stats.resets },
};

void
metrics_render(struct buf *b)
{
	struct exclvfs_kept	ks;
	uint64_t		spins, hits, spun_us;
	int			r, i;

	buf_addf(b, "# HELP tenantd_open_handles SQLite files open now.\n"
	    "# TYPE tenantd_open_handles gauge\ntenantd_open_handles %ld\n",
	    (long)cache_open_handles);
	buf_addf(b, "# HELP tenantd_cached_handles Tenant handles in the "
	    "cache (open or opening).\n# TYPE tenantd_cached_handles gauge\n"
	    "tenantd_cached_handles %zu\n", cache_count());
	buf_addf(b, "# HELP tenantd_max_open_handles The handle cap "
	    "(--max-open).\n# TYPE tenantd_max_open_handles gauge\n"
	    "tenantd_max_open_handles %zu\n", cache_cap());
	for (i = 0; i < (int)(sizeof counters / sizeof counters[0]); i++)
		buf_addf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		    counters[i].name, counters[i].help, counters[i].name,
		    counters[i].name, (unsigned long long)*counters[i].v);
	if (durable_active()) {
		for (i = 0; i < (int)(sizeof sync_counters /
		    sizeof sync_counters[0]); i++)
			buf_addf(b, "# HELP %s Group commit: %s\n# TYPE %s "
			    "counter\n%s %llu\n", sync_counters[i].name,
			    sync_counters[i].help, sync_counters[i].name,
			    sync_counters[i].name,
			    (unsigned long long)*sync_counters[i].v);
		buf_addf(b, "# HELP tenantd_sync_seconds_total Group commit: "
		    "time spent writing and syncing the commit log.\n# TYPE "
		    "tenantd_sync_seconds_total counter\n"
		    "tenantd_sync_seconds_total %.6f\n",
		    (double)durable_stats.sync_us / 1e6);
	}
	if (flush_active())
		buf_addf(b, "# HELP tenantd_flush_passes_total --flush-ms: "
		    "syncs of the file system of the data dir done.\n# TYPE "
		    "tenantd_flush_passes_total counter\n"
		    "tenantd_flush_passes_total %llu\n"
		    "# HELP tenantd_flush_failed_total --flush-ms: syncs that "
		    "failed.\n# TYPE tenantd_flush_failed_total counter\n"
		    "tenantd_flush_failed_total %llu\n"
		    "# HELP tenantd_flush_seconds_total --flush-ms: time spent "
		    "in those syncs.\n# TYPE tenantd_flush_seconds_total "
		    "counter\ntenantd_flush_seconds_total %.6f\n",
		    (unsigned long long)flush_stats.passes,
		    (unsigned long long)flush_stats.failed,
		    (double)flush_stats.us / 1e6);
	buf_addf(b, "# HELP tenantd_tenants_total Tenants in the catalog.\n"
	    "# TYPE tenantd_tenants_total gauge\ntenantd_tenants_total %zu\n",
	    catalog_count(server_catalog));
	buf_addf(b, "# HELP tenantd_streams Live Hrana streams.\n"
	    "# TYPE tenantd_streams gauge\ntenantd_streams %zu\n",
	    stream_count());
	buf_addf(b, "# HELP tenantd_connections Open client connections.\n"
	    "# TYPE tenantd_connections gauge\ntenantd_connections %zu\n",
	    http_conn_count());
	buf_addf(b, "# HELP tenantd_requests_in_flight Requests read and not "
	    "answered yet (this one included).\n# TYPE "
	    "tenantd_requests_in_flight gauge\ntenantd_requests_in_flight "
	    "%zu\n", http_inflight());
	buf_addf(b, "# HELP tenantd_jobs_in_flight Work handed to the worker "
	    "threads and not done yet (requests, opens, checkpoints, idle "
	    "releases).\n# TYPE tenantd_jobs_in_flight gauge\n"
	    "tenantd_jobs_in_flight %zu\n", worker_inflight());
	loop_spin_stats(&spins, &hits, &spun_us);
	buf_addf(b, "# HELP tenantd_loop_spins_total Times an idle event loop "
	    "polled before sleeping (--spin-us).\n# TYPE "
	    "tenantd_loop_spins_total counter\ntenantd_loop_spins_total "
	    "%llu\n", (unsigned long long)spins);
	buf_addf(b, "# HELP tenantd_loop_spin_hits_total Of those, polls that "
	    "found a request or an answer before they ended.\n# TYPE "
	    "tenantd_loop_spin_hits_total counter\n"
	    "tenantd_loop_spin_hits_total %llu\n", (unsigned long long)hits);
	buf_addf(b, "# HELP tenantd_loop_spin_seconds_total CPU time event "
	    "loops spent polling.\n# TYPE tenantd_loop_spin_seconds_total "
	    "counter\ntenantd_loop_spin_seconds_total %.6f\n",
	    (double)spun_us / 1e6);
	exclvfs_kept_stats(&ks);
	buf_addf(b, "# HELP tenantd_wal_index_kept WAL indexes kept for "
	    "tenants closed with frames in their WAL, for a reopen to take "
	    "over instead of reading the WAL back.\n# TYPE "
	    "tenantd_wal_index_kept gauge\ntenantd_wal_index_kept %zu\n",
	    ks.count);
	buf_addf(b, "# HELP tenantd_wal_index_kept_bytes Memory of the kept "
	    "WAL indexes.\n# TYPE tenantd_wal_index_kept_bytes gauge\n"
	    "tenantd_wal_index_kept_bytes %zu\n", ks.bytes);
	buf_addf(b, "# HELP tenantd_wal_index_reused_total Opens that took "
	    "over a kept WAL index (no WAL read back).\n# TYPE "
	    "tenantd_wal_index_reused_total counter\n"
	    "tenantd_wal_index_reused_total %llu\n", ks.reused);
	buf_addf(b, "# HELP tenantd_wal_index_stale_total Kept WAL indexes "
	    "dropped at an open because the database file or the WAL had "
	    "changed since.\n# TYPE tenantd_wal_index_stale_total counter\n"
	    "tenantd_wal_index_stale_total %llu\n", ks.stale);
	pthread_mutex_lock(&stats_mtx);
	buf_adds(b, "# HELP tenantd_requests_total Requests by route and "
	    "status.\n# TYPE tenantd_requests_total counter\n");
	for (r = 0; r < ROUTE__MAX; r++)
		for (i = 0; i < NCODES && stats[r].codes[i].code != 0; i++)
			buf_addf(b, "tenantd_requests_total{route=\"%s\","
			    "code=\"%d\"} %llu\n", metrics_route_name(r),
			    stats[r].codes[i].code,
			    (unsigned long long)stats[r].codes[i].n);
	buf_adds(b, "# HELP tenantd_request_duration_seconds Request latency "
	    "by route.\n# TYPE tenantd_request_duration_seconds histogram\n");
	for (r = 0; r < ROUTE__MAX; r++) {
		if (stats[r].count == 0)
			continue;
		for (i = 0; i < NBUCKETS; i++)
			buf_addf(b, "tenantd_request_duration_seconds_bucket{"
			    "route=\"%s\",le=\"%g\"} %llu\n",
			    metrics_route_name(r), bucket_le[i],
			    (unsigned long long)stats[r].buckets[i]);
		buf_addf(b, "tenantd_request_duration_seconds_bucket{route="
		    "\"%s\",le=\"+Inf\"} %llu\n", metrics_route_name(r),
		    (unsigned long long)stats[r].count);
		buf_addf(b, "tenantd_request_duration_seconds_sum{route=\"%s\"} "
		    "%.6f\n", metrics_route_name(r), stats[r].sum);
		buf_addf(b, "tenantd_request_duration_seconds_count{route=\"%s\"}"
		    " %llu\n", metrics_route_name(r),
		    (unsigned long long)stats[r].count);
	}
	pthread_mutex_unlock(&stats_mtx);
}
