// The LRU handle cache and parallel tenants, seen from outside.
import { readdirSync, readlinkSync } from 'node:fs';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

// Tenant database files tenantd holds open right now (from /proc).
function openTenantFiles(pid) {
  const files = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /\/tenants\/[0-9a-f]{2}\/(.+)\.db$/.exec(target);
    if (m) files.add(m[1]);
  }
  return files;
}

await run(async (t, keep) => {
  const d = await startDaemon(['--max-open', '4']);
  keep(d);

  const N = 50;
  const ids = Array.from({ length: N }, (_, i) => `lru-${String(i).padStart(2, '0')}`);
  for (const id of ids) {
    const r = await d.admin('POST', '/v1/tenants', { id });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
  }
  const clients = ids.map((id) => createClient({ url: `${d.url}/t/${id}/` }));
  for (let i = 0; i < N; i++) {
    await clients[i].execute('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)');
    await clients[i].execute({ sql: 'INSERT INTO kv VALUES (1, ?)', args: [ids[i]] });
  }

  // A miss answers before the handle it evicted has closed: a loop that
  // opened the file itself holds the victim until it runs out of events
  // or holds 4 (then a worker closes them), and a worker closes its own
  // misses' victims after their answers; cache.c lets at most 8 be
  // closing (CACHE_LATE_CLOSES) when it opens another file, so the files
  // open may pass the cap of 4 by up to 8 for a moment, and come back to
  // it once the closes are done.
  let wrong = 0, maxOpen = 0, maxGauge = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < N; i++) {
      const rs = await clients[i].execute('SELECT v FROM kv WHERE k = 1');
      if (rs.rows[0].v !== ids[i]) wrong++;
      maxOpen = Math.max(maxOpen, openTenantFiles(d.pid).size);
    }
    maxGauge = Math.max(maxGauge, (await d.metrics()).tenantd_open_handles);
  }
  t.is(wrong, 0, '150 round-robin reads over 50 tenants all return their own tenant\'s row');
  t.ok(maxOpen <= 12 && maxOpen >= 1, `never more than 4 + 8 closing tenant files open in /proc (max seen ${maxOpen})`);
  t.ok(maxGauge <= 12, `tenantd_open_handles never over 4 + 8 closing (max seen ${maxGauge})`);
  let m, files;
  for (let i = 0; i < 200; i++) {
    m = await d.metrics();
    files = openTenantFiles(d.pid).size;
    if (m.tenantd_open_handles <= 4 && files <= 4) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(m.tenantd_open_handles <= 4 && files <= 4,
    `once the evicted handles have closed, 4 handles and 4 files are open (${m.tenantd_open_handles} handles, ${files} files)`);
  t.ok(m.tenantd_cache_evictions_total >= 3 * N - 4,
    `round robin over 50 with cap 4 evicts on nearly every request (${m.tenantd_cache_evictions_total})`);
  t.ok(m.tenantd_cache_misses_total >= 3 * N, `misses counted (${m.tenantd_cache_misses_total})`);

  // Hits: the same tenant again and again stays open.
  await clients[7].execute('SELECT 1'); // opens it (a miss)
  const before = (await d.metrics()).tenantd_cache_hits_total;
  for (let i = 0; i < 10; i++) await clients[7].execute('SELECT 1');
  t.is((await d.metrics()).tenantd_cache_hits_total - before, 10, 'repeated requests to one tenant are cache hits');

  // A handle holding a transaction is never evicted; others still get served.
  const tx = await clients[0].transaction('write');
  await tx.execute("UPDATE kv SET v = 'held' WHERE k = 1");
  for (let i = 1; i < 20; i++) await clients[i].execute('SELECT v FROM kv');
  t.ok(openTenantFiles(d.pid).has('lru-00'), 'the tenant holding a transaction stays open while 19 others pass through');
  await tx.commit();
  const rs0 = await clients[0].execute('SELECT v FROM kv WHERE k = 1');
  t.is(rs0.rows[0].v, 'held', 'the transaction committed on the same connection');

  // A request stuck behind another client's long transaction is bounded.
  const d3 = await startDaemon(['--queue-wait-ms', '300']);
  try {
    await d3.admin('POST', '/v1/tenants', { id: 'q', schema: null });
    const q1 = createClient({ url: `${d3.url}/t/q/` });
    const q2 = createClient({ url: `${d3.url}/t/q/` });
    await q1.execute('CREATE TABLE t (x)');
    const tx3 = await q1.transaction('write');
    await tx3.execute('INSERT INTO t VALUES (1)');
    let got;
    try { await q2.execute('SELECT count(*) FROM t'); got = 'ran'; } catch (e) { got = e.code || e.message; }
    t.ok(/UNAVAILABLE|503/.test(got), `a request queued behind a transaction past --queue-wait-ms gets 503 (${got})`);
    await tx3.commit();
    t.is((await q2.execute('SELECT count(*) AS n FROM t')).rows[0].n, 1, 'and the next one runs once the transaction ends');
    q1.close(); q2.close();
  } finally {
    await d3.cleanup(t.failed > 0);
  }

  // Many concurrent requests across tenants: every answer belongs to its tenant.
  const d2 = await startDaemon(['--max-open', '32']);
  try {
    const M = 100;
    const ids2 = Array.from({ length: M }, (_, i) => `par-${i}`);
    await Promise.all(ids2.map((id) => d2.admin('POST', '/v1/tenants', { id })));
    const cl = ids2.map((id) => createClient({ url: `${d2.url}/t/${id}/`, concurrency: 50 }));
    await Promise.all(cl.map((c, i) => c.execute('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)')));
    const writes = [];
    for (let r = 0; r < 10; r++)
      for (let i = 0; i < M; i++)
        writes.push(cl[i].execute({ sql: 'INSERT INTO kv (v) VALUES (?)', args: [`${ids2[i]}:${r}`] }));
    await Promise.all(writes);
    const reads = await Promise.all(cl.map((c) => c.execute('SELECT v FROM kv ORDER BY k')));
    let bad = 0;
    reads.forEach((rs, i) => {
      const want = Array.from({ length: 10 }, (_, r) => `${ids2[i]}:${r}`).sort().join(',');
      const got = rs.rows.map((row) => row.v).sort().join(',');
      if (got !== want) bad++;
    });
    t.is(bad, 0, '1000 concurrent inserts over 100 tenants (cap 32): each tenant has exactly its own 10 rows');
    // The last misses' victims close once their loops are idle.
    let m2;
    for (let i = 0; i < 200; i++) {
      m2 = await d2.metrics();
      if (m2.tenantd_open_handles <= 32) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(m2.tenantd_open_handles <= 32, `open handles come back within the cap of 32 (${m2.tenantd_open_handles})`);
    cl.forEach((c) => c.close());
  } finally {
    await d2.cleanup(t.failed > 0);
  }
  clients.forEach((c) => c.close());
});
