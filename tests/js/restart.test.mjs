// Data and catalog survive a clean stop and a kill -9.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

function tenantFiles(data) {
  const out = [];
  const root = join(data, 'tenants');
  for (const shard of readdirSync(root))
    for (const f of readdirSync(join(root, shard)))
      if (f.endsWith('.db')) out.push(f.slice(0, -3));
  return out.sort();
}

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes']);
  keep(d);
  const ids = ['r1', 'r2', 'r3', 'r4', 'r5'];
  for (const id of ids) await d.admin('POST', '/v1/tenants', { id });
  const write = async (id, title) => {
    const c = createClient({ url: `${d.url}/t/${id}/` });
    await c.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: [title] });
    c.close();
  };
  const titles = async (id) => {
    const c = createClient({ url: `${d.url}/t/${id}/` });
    const rs = await c.execute('SELECT title FROM notes ORDER BY id');
    c.close();
    return rs.rows.map((r) => r.title);
  };
  for (const id of ids) await write(id, `${id}-a`);
  await d.admin('DELETE', '/v1/tenants/r5');

  const ex = await d.stop();
  t.is(ex.code, 0, 'SIGTERM: tenantd exits 0');
  t.ok(!existsSync(join(d.data, 'tenantd.sock')), 'the unix socket is removed on a clean stop');
  await d.start();
  let list = (await d.admin('GET', '/v1/tenants')).body.tenants.map((x) => x.id);
  t.is(list, ['r1', 'r2', 'r3', 'r4'], 'catalog survives a clean stop');
  t.is(await titles('r3'), ['r3-a'], 'data survives a clean stop');

  for (const id of ids.slice(0, 4)) await write(id, `${id}-b`);
  await d.admin('POST', '/v1/tenants', { id: 'r6' });
  await write('r6', 'r6-a');
  await d.admin('DELETE', '/v1/tenants/r1');
  await d.kill9();
  await d.start();
  list = (await d.admin('GET', '/v1/tenants')).body.tenants.map((x) => x.id);
  t.is(list, ['r2', 'r3', 'r4', 'r6'], 'catalog after kill -9 holds every acknowledged create and delete');
  t.is(await titles('r2'), ['r2-a', 'r2-b'], 'acknowledged writes survive kill -9');
  t.is(await titles('r6'), ['r6-a'], 'a tenant created just before kill -9 has its data');
  t.is(tenantFiles(d.data), ['r2', 'r3', 'r4', 'r6'], 'files on disk agree with the catalog');

  const stop = await d.stop();
  t.is(stop.code, 0, 'clean stop after recovery');
});
