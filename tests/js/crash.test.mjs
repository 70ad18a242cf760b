// kill -9 under a mixed write load over 200 tenants, then restart: every
// acknowledged write is there, every tenant passes integrity_check, and
// catalog and files agree.  CRASH_ROUNDS rounds (default 3; the soak script
// runs 20).  The kill comes at a random moment; nothing asserted depends on
// when.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ROUNDS = Number(process.env.CRASH_ROUNDS || 3);
const N = Number(process.env.CRASH_TENANTS || 200);

await run(async (t, keep) => {
  const d = await startDaemon(['--max-open', '64']);
  keep(d);
  const ids = Array.from({ length: N }, (_, i) => `c${i}`);
  for (let i = 0; i < N; i += 50)
    await Promise.all(ids.slice(i, i + 50).map((id) => d.admin('POST', '/v1/tenants', { id, schema: null })));
  let clients = ids.map((id) => createClient({ url: `${d.url}/t/${id}/` }));
  await Promise.all(clients.map((c) => c.execute('CREATE TABLE w (n INTEGER PRIMARY KEY, v TEXT)')));
  const acked = ids.map(() => new Set());   // every write the daemon acknowledged
  let next = 1;

  for (let round = 1; round <= ROUNDS; round++) {
    let stop = false;
    const workers = Array.from({ length: 16 }, async () => {
      while (!stop) {
        const i = Math.floor(Math.random() * N);
        const n = next++;
        try {
          if (n % 5 === 0) {
            // A multi-statement batch: all or nothing.
            await clients[i].batch([{ sql: 'INSERT INTO w VALUES (?, ?)', args: [n, 'a'] },
              { sql: 'INSERT INTO w VALUES (?, ?)', args: [-n, 'b'] }], 'write');
            acked[i].add(n); acked[i].add(-n);
          } else {
            await clients[i].execute({ sql: 'INSERT INTO w VALUES (?, ?)', args: [n, 'x'.repeat(n % 300)] });
            acked[i].add(n);
          }
        } catch { /* the daemon died under us: not acknowledged */ }
      }
    });
    await sleep(100 + Math.floor(Math.random() * 400));
    await d.kill9();
    stop = true;
    await Promise.all(workers);
    clients.forEach((c) => c.close());
    await d.start();
    clients = ids.map((id) => createClient({ url: `${d.url}/t/${id}/` }));

    let lost = 0, halfBatches = 0, corrupt = 0;
    for (let i = 0; i < N; i++) {
      const rs = await clients[i].execute('SELECT n FROM w');
      const have = new Set(rs.rows.map((r) => Number(r.n)));
      for (const n of acked[i]) if (!have.has(n)) lost++;
      for (const n of have) if (n > 0 && n % 5 === 0 && !have.has(-n)) halfBatches++;
      const ic = await clients[i].execute('PRAGMA integrity_check');
      if (ic.rows[0][0] !== 'ok') corrupt++;
      // What is there now counts as acknowledged from here on.
      for (const n of have) acked[i].add(n);
    }
    const total = acked.reduce((s, a) => s + a.size, 0);
    t.is(lost, 0, `round ${round}: every acknowledged write survived kill -9 (${total} writes so far)`);
    t.is(halfBatches, 0, `round ${round}: no batch is half applied`);
    t.is(corrupt, 0, `round ${round}: every tenant passes integrity_check`);
    const listed = (await d.admin('GET', '/v1/tenants?limit=1000')).body.tenants.map((x) => x.id).sort();
    const files = [];
    for (const shard of readdirSync(join(d.data, 'tenants')))
      for (const f of readdirSync(join(d.data, 'tenants', shard)))
        if (f.endsWith('.db')) files.push(f.slice(0, -3));
    t.is(files.sort().join(','), listed.join(','), `round ${round}: catalog and files agree`);
  }
  clients.forEach((c) => c.close());
});
