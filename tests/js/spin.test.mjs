// An idle event loop polls before it sleeps (--spin-us, loop.c loop_spin),
// and a loop that runs out of events closes the handles its cold opens
// evicted (cache.c cache_idle).  What a user can rely on: the switch, the
// limits of the option, answers that stay right while loops poll and
// close between requests, the counters, and a stop that is not held up
// by a poll.  Whether a poll finds the next request in time depends on
// the machine's timing and load, so no test asserts that it does.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { run, startDaemon, TENANTD } from './lib.mjs';

const delta = (m1, m0, k) => (m1[k] || 0) - (m0[k] || 0);

async function tenants(d, n, prefix) {
  for (let i = 0; i < n; i++) {
    const id = `${prefix}${i}`;
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    await d.sql(id, 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)');
    await d.sql(id, `INSERT INTO kv VALUES (1, '${id}')`);
  }
}

// Round robin over n tenants, one request at a time: how many answered
// their own tenant's row.
async function rounds(d, n, prefix, times) {
  let right = 0;
  for (let r = 0; r < times; r++)
    for (let i = 0; i < n; i++) {
      const res = await d.sql(`${prefix}${i}`, 'SELECT v FROM kv WHERE k = 1');
      if (res.rows[0][0].value === `${prefix}${i}`) right++;
    }
  return right;
}

await run(async (t, keep) => {
  // 1. The option's limits: refused with a clear error, nothing started.
  for (const bad of ['-1', '1001', '5x', '']) {
    const res = spawnSync(TENANTD, ['--spin-us', bad, '-D', join('/nonexistent', 'never')],
      { encoding: 'utf8' });
    t.ok(res.status === 2 && /--spin-us: expected a number from 0 to 1000/.test(res.stderr),
      `--spin-us "${bad}" is refused (exit ${res.status}: ${res.stderr.split('\n')[0]})`);
  }

  // 2. --spin-us 0: no loop ever polls; answers are right.  Cap 3 over 6
  // tenants: every request evicts, and the loops close the victims.
  const d0 = await startDaemon(['--spin-us', '0', '--max-open', '3', '--loops', '2']);
  keep(d0);
  await tenants(d0, 6, 's');
  let m0 = await d0.metrics();
  t.is(await rounds(d0, 6, 's', 5), 30, '--spin-us 0: 30 round-robin reads over 6 tenants at cap 3 answer their own rows');
  let m1 = await d0.metrics();
  t.ok(delta(m1, m0, 'tenantd_cache_evictions_total') >= 24, `and they evicted (${delta(m1, m0, 'tenantd_cache_evictions_total')})`);
  t.is(m1.tenantd_loop_spins_total, 0, '--spin-us 0: tenantd_loop_spins_total stays 0');
  t.is(m1.tenantd_loop_spin_seconds_total, 0, '--spin-us 0: no time spent polling');
  let ex = await d0.stop();
  t.is(ex.code, 0, `--spin-us 0: SIGTERM stops tenantd cleanly (exit ${ex.code})`);

  // 3. Long polls (--spin-us 1000): the same reads, a write and a
  // transaction through a worker in between, all answered right; the
  // counters are there and agree with each other.
  const d1 = await startDaemon(['--spin-us', '1000', '--max-open', '3', '--loops', '2']);
  keep(d1);
  await tenants(d1, 6, 'p');
  m0 = await d1.metrics();
  t.is(await rounds(d1, 6, 'p', 5), 30, '--spin-us 1000: 30 round-robin reads over 6 tenants at cap 3 answer their own rows');
  await d1.sql('p0', "UPDATE kv SET v = 'p0-new' WHERE k = 1");
  const res = await fetch(`${d1.url}/t/p1/v2/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests: [
      { type: 'execute', stmt: { sql: 'BEGIN' } },
      { type: 'execute', stmt: { sql: "INSERT INTO kv VALUES (2, 'two')" } },
      { type: 'execute', stmt: { sql: 'COMMIT' } },
      { type: 'close' }] }),
  });
  t.is(res.status, 200, 'a transaction runs while the loops poll between requests');
  t.is((await d1.sql('p0', 'SELECT v FROM kv WHERE k = 1')).rows[0][0].value, 'p0-new', 'the update is read back');
  t.is((await d1.sql('p1', 'SELECT count(*) FROM kv')).rows[0][0].value, '2', 'the transaction\'s row is there');
  m1 = await d1.metrics();
  t.ok('tenantd_loop_spins_total' in m1 && 'tenantd_loop_spin_hits_total' in m1 &&
    'tenantd_loop_spin_seconds_total' in m1, 'the three polling counters are exported');
  t.ok(m1.tenantd_loop_spin_hits_total <= m1.tenantd_loop_spins_total,
    `polls that found work are among the polls (${m1.tenantd_loop_spin_hits_total} of ${m1.tenantd_loop_spins_total})`);
  // The handles the reads evicted are closed once the loops are idle.
  let open;
  for (let i = 0; i < 200; i++) {
    open = (await d1.metrics()).tenantd_open_handles;
    if (open <= 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(open <= 3, `the evicted handles close: ${open} open at cap 3`);
  // A stop while a loop may be polling: exits cleanly, and quickly.
  const t0 = Date.now();
  ex = await d1.stop();
  t.is(ex.code, 0, `--spin-us 1000: SIGTERM stops tenantd cleanly (exit ${ex.code}, ${Date.now() - t0} ms)`);
});
