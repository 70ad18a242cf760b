// Online backup of the whole data dir under write load, restore into a new
// data dir, start tenantd on it: every tenant answers with its data.
import { join } from 'node:path';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { run, startDaemon, loadClient, TENANTD } from './lib.mjs';

const { createClient } = await loadClient();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes']);
  keep(d);
  const N = 40;
  const ids = Array.from({ length: N }, (_, i) => `b${i}`);
  await Promise.all(ids.map((id) => d.admin('POST', '/v1/tenants', { id, schema: null })));
  const cl = ids.map((id) => createClient({ url: `${d.url}/t/${id}/` }));
  // Each tenant keeps an invariant: two accounts whose balances sum to 100.
  await Promise.all(cl.map((c) => c.batch(['CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER)',
    'INSERT INTO acct VALUES (1, 100), (2, 0)', 'CREATE TABLE log (n INTEGER)'], 'write')));
  const acked = new Array(N).fill(0);
  let stop = false;
  const writer = (async () => {
    for (let n = 1; !stop; n++) {
      await Promise.all(cl.map(async (c, i) => {
        await c.batch([
          { sql: 'UPDATE acct SET bal = bal - 1 WHERE id = 1', args: [] },
          { sql: 'UPDATE acct SET bal = bal + 1 WHERE id = 2', args: [] },
          { sql: 'INSERT INTO log VALUES (?)', args: [n] }], 'write');
        acked[i] = n;
      }));
    }
  })();
  while (acked[0] < 3) await sleep(10);
  const before = [...acked];
  const dir = join(d.tmp, 'backup');
  let r = await d.admin('POST', '/v1/backups', { dir });
  t.is(r.status, 202, 'a backup starts while writers run (202)');
  let b;
  for (let i = 0; i < 1200; i++) {
    b = (await d.admin('GET', `/v1/backups/${r.body.id}`)).body;
    if (b.state !== 'running') break;
    await sleep(50);
  }
  stop = true;
  await writer;
  t.is(b.state, 'succeeded', 'the backup succeeded', JSON.stringify(b));
  t.is([b.done, b.total], [N, N], 'it copied every tenant');
  t.ok(acked[0] > before[0], 'the writers kept committing during the backup');
  t.is((await d.admin('POST', '/v1/backups', { dir })).status, 409, 'a backup into a non-empty folder is refused');
  t.is((await d.admin('POST', '/v1/backups', { dir: 'relative/path' })).status, 400, 'a relative path is refused');

  // Restore into a new data dir and serve it.
  const data2 = join(d.tmp, 'restored');
  let res = spawnSync(TENANTD, ['--restore', dir, '-D', data2], { encoding: 'utf8' });
  t.ok(res.status === 0 && /every file verified/.test(res.stdout), 'tenantd --restore builds and verifies a new data dir', res.stderr);
  res = spawnSync(TENANTD, ['--restore', dir, '-D', data2], { encoding: 'utf8' });
  t.ok(res.status === 1 && /exists/.test(res.stderr), 'restore refuses an existing data dir');
  const d2 = await startDaemon(['-D', data2, '--default-schema', 'notes']);
  try {
    let ok = 0;
    for (let i = 0; i < N; i++) {
      const c = createClient({ url: `${d2.url}/t/${ids[i]}/` });
      const rs = await c.execute('SELECT (SELECT sum(bal) FROM acct) AS total, (SELECT max(n) FROM log) AS last, (SELECT count(*) FROM log) AS cnt');
      const row = rs.rows[0];
      if (row.total === 100 && row.last >= before[i] && row.last <= acked[i] && row.cnt === row.last) ok++;
      else console.log(`# ${ids[i]}: ${JSON.stringify(row)} before ${before[i]} acked ${acked[i]}`);
      c.close();
    }
    t.is(ok, N, 'every restored tenant answers with a consistent snapshot taken during the backup');
    const list = (await d2.admin('GET', '/v1/tenants?limit=1000')).body.tenants;
    t.is(list.length, N, 'the restored catalog lists every tenant');
  } finally {
    await d2.cleanup(t.failed > 0);
  }

  // A damaged backup does not restore.
  const f = execFileSync('find', [join(dir, 'tenants'), '-name', 'b7.db'], { encoding: 'utf8' }).trim();
  const bytes = readFileSync(f);
  bytes[5000] ^= 0xff;
  writeFileSync(f, bytes);
  const data3 = join(d.tmp, 'restored3');
  res = spawnSync(TENANTD, ['--restore', dir, '-D', data3], { encoding: 'utf8' });
  t.ok(res.status === 1 && /b7/.test(res.stderr) && !existsSync(data3), 'a damaged file fails the restore loudly and leaves nothing half-built', res.stderr);
  cl.forEach((c) => c.close());
});
