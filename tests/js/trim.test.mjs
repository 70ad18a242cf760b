// Idle handles give their page cache back (cache_trim_idle): a tenant that
// read a lot keeps its connection open but not its cached pages, and its
// WAL file is emptied (the disk space an idle tenant holds).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon } from './lib.mjs';

// Bytes in every tenant's -wal file under the data dir.
const walBytes = (data) => readdirSync(join(data, 'tenants'), { recursive: true })
  .filter((f) => f.endsWith('.db-wal'))
  .reduce((n, f) => n + statSync(join(data, 'tenants', f)).size, 0);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

await run(async (t, keep) => {
  const d = await startDaemon(['--cache-kib', '1024', '--idle-release', '1']);
  keep(d);
  const pipeline = d.sql;

  // 16 tenants of about 1 MiB each, every page read once: ~16 MiB of
  // page cache held by idle handles.
  const N = 16;
  const ids = Array.from({ length: N }, (_, i) => `big${i}`);
  for (const id of ids) {
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    await pipeline(id, `CREATE TABLE b AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL
      SELECT i + 1 FROM c WHERE i < 1000) SELECT i, randomblob(900) AS x FROM c`);
  }
  const trims0 = (await d.metrics()).tenantd_cache_trims_total;
  for (const id of ids) await pipeline(id, 'SELECT sum(length(x)) FROM b');
  const wal = walBytes(d.data);
  t.ok(wal > N * 900 * 1000, `the open tenants' WAL files hold what they wrote (${wal} bytes)`);
  const full = rssKiB(d.pid);

  // Wait on the counter (not a clock) until every one has been trimmed.
  for (let i = 0; (await d.metrics()).tenantd_cache_trims_total < trims0 + N; i++) {
    if (i > 6000) throw new Error('idle handles were never trimmed');
    await new Promise((res) => setTimeout(res, 20));
  }
  // The heap is returned by a job queued after the last trim (malloc_trim).
  // Under AddressSanitizer (tests/extra.sh asan) malloc is ASan's, which
  // quarantines what is freed (ThreadSanitizer's keeps it too): RSS says
  // nothing there.
  if (process.env.ASAN_OPTIONS !== undefined || process.env.TSAN_OPTIONS !== undefined) {
    console.log('# skipped under ASan: the RSS check (ASan replaces malloc)');
  } else {
    // malloc_trim runs at most every 10 s (cache.c), so when the trims
    // span two ticks the heap comes back up to 10 s after the first one:
    // look for up to 30 s (a watchdog; the loop ends as soon as it drops).
    let after = rssKiB(d.pid);
    for (let i = 0; full - after < 8 * 1024 && i < 1500; i++) {
      await new Promise((res) => setTimeout(res, 20));
      after = rssKiB(d.pid);
    }
    t.ok(full - after >= 8 * 1024,
      `RSS fell by ${full - after} KiB once the ${N} idle handles gave their page cache back (${full} -> ${after} KiB)`);
  }
  t.is(walBytes(d.data), 0, 'the idle release emptied every WAL file (checkpointed into the database)');
  const m = await d.metrics();
  t.is(m.tenantd_open_handles, N, 'the trimmed handles stay open (no reopen on the next request)');
  let ok = 0;
  const inline0 = m.tenantd_inline_requests_total;
  for (const id of ids) {
    const r = await pipeline(id, 'SELECT count(*), sum(length(x)) FROM b');
    if (Number(r.rows[0][0].value) === 1000 && Number(r.rows[0][1].value) === 900000) ok++;
  }
  t.is(ok, N, 'every trimmed tenant still answers with all its data');
  t.is((await d.metrics()).tenantd_inline_requests_total - inline0, 0,
    'the first read after the release ran on a worker, not on a loop (it may wait on the disk)');
  t.is((await d.metrics()).tenantd_cache_misses_total, m.tenantd_cache_misses_total,
    'reading them again is a cache hit');

  // A stop does not wait for the idle release.  The exit waits for the
  // jobs in flight, and the tick that checks them used to queue the next
  // trims first: a stop that found a job running, with more idle handles
  // than a tick trims (16), sat out the 30 s grace ("stopping anyway").
  const e = await startDaemon(['--idle-release', '1', '--statement-timeout', '3000']);
  keep(e);
  const M = 2500;
  const many = Array.from({ length: M }, (_, i) => `idle${i}`);
  for (let i = 0; i < M; i += 50) {
    await Promise.all(many.slice(i, i + 50).map(async (id) => {
      const r = await e.admin('POST', '/v1/tenants', { id, schema: null });
      if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
      await e.sql(id, 'SELECT 1');
    }));
  }
  t.is((await e.metrics()).tenantd_open_handles, M, `${M} tenants open`);
  // Trims under way: the handles have been idle past --idle-release.
  for (let i = 0; (await e.metrics()).tenantd_cache_trims_total < 32; i++) {
    if (i > 6000) throw new Error('idle handles were never trimmed');
    await new Promise((res) => setTimeout(res, 20));
  }
  // A request in flight at the SIGTERM: a statement that runs until the
  // statement timeout (3 s).  Seen in flight by the gauge (which counts
  // the /metrics request asking too).
  const slow = e.sql('idle0', 'WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) ' +
    'SELECT count(*) FROM c').then(() => 'answered', (err) => String(err));
  for (let i = 0; (await e.metrics()).tenantd_requests_in_flight < 2; i++) {
    if (i > 6000) throw new Error('the slow statement was never in flight');
    await new Promise((res) => setTimeout(res, 5));
  }
  const ex = await e.stop();
  const log = readFileSync(e.log, 'utf8');
  t.ok(/timeout|interrupt/i.test(await slow), `the statement running at the SIGTERM got its answer (${(await slow).slice(0, 120)})`);
  t.is(ex.code, 0, 'tenantd exits 0');
  t.ok(!/stopping anyway/.test(log), 'the stop did not run out its 30 s grace waiting on the idle release');
  t.ok(/tenantd: stopped/.test(log), 'tenantd logged its clean stop');
});
