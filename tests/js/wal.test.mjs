// Closing a handle does not checkpoint (exec_open: an LRU eviction would
// otherwise pay two fsyncs on every miss).  What that must not cost: an
// evicted tenant's committed writes stay in its WAL and come back on the
// next open, after a crash too, and the sqlite3 shell reads them; a clean
// shutdown leaves the cached tenants' files complete, and an import never
// lets the old WAL into the new file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon } from './lib.mjs';

// handle_path() in cache.c: DATA/tenants/<shard>/<id>.db, the shard from
// tid_shard() in common/tid.c (FNV-1a, folded to 8 bits).
const shard = (id) => {
  let h = 2166136261;
  for (const c of Buffer.from(id)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return ((h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & 0xff) >>> 0;
};
const pathOf = (data, id) => join(data, 'tenants', shard(id).toString(16).padStart(2, '0'), `${id}.db`);
const walSize = (data, id) => {
  const p = `${pathOf(data, id)}-wal`;
  return existsSync(p) ? statSync(p).size : 0;
};


await run(async (t, keep) => {
  const d = await startDaemon(['--max-open', '2']);
  keep(d);
  const p = d.sql;
  const count = async (id) => Number((await p(id, 'SELECT count(*) FROM t')).rows[0][0].value);

  for (const id of ['wa', 'wb', 'wc']) {
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    await p(id, 'CREATE TABLE t (x INTEGER)');
  }
  for (let i = 0; i < 50; i++) await p('wa', `INSERT INTO t VALUES (${i})`);

  // Two handles at most: opening wb and wc evicts wa.
  const e0 = (await d.metrics()).tenantd_cache_evictions_total;
  await p('wb', 'SELECT 1');
  await p('wc', 'SELECT 1');
  t.ok((await d.metrics()).tenantd_cache_evictions_total > e0, 'wa was evicted (closed) to make room');
  t.ok(walSize(d.data, 'wa') > 0,
    `its close did not checkpoint: the WAL still holds its commits (${walSize(d.data, 'wa')} bytes)`);
  t.is(await count('wa'), 50, 'reopened, wa has all 50 rows (read back from its WAL)');

  // A crash right after another eviction: the WAL is the only copy of the
  // last commits, and the next daemon reads them.
  for (let i = 50; i < 60; i++) await p('wa', `INSERT INTO t VALUES (${i})`);
  await p('wb', 'SELECT 1');
  await p('wc', 'SELECT 1');
  await d.kill9();
  await d.start();
  t.is(await count('wa'), 60, 'after kill -9 the evicted tenant still has all 60 rows');

  // A clean shutdown checkpoints what is cached: wb (written last, open)
  // is complete in its file.  wa was evicted again: its WAL still holds
  // commits, and the sqlite3 shell reads them with the file.
  for (let i = 0; i < 20; i++) await p('wb', `INSERT INTO t VALUES (${i})`);
  t.ok(walSize(d.data, 'wb') > 0, 'wb, open, has commits in its WAL');
  const ex = await d.stop();
  t.is(ex.code, 0, 'tenantd stopped cleanly');
  t.is(walSize(d.data, 'wb'), 0, 'after a clean shutdown the open tenant wb has no WAL bytes left');
  const sh = (id) => execFileSync('sqlite3', [pathOf(d.data, id), 'SELECT count(*) FROM t'],
    { encoding: 'utf8' }).trim();
  t.is(sh('wb'), '20', 'the sqlite3 shell reads all 20 rows of wb');
  t.is(sh('wa'), '60', 'and all 60 of wa, evicted, from its file and WAL');

  // An import over a tenant whose WAL holds commits: the new file is what
  // the tenant has afterwards (the old WAL is never replayed into it).
  await d.start();
  for (let i = 0; i < 5; i++) await p('wb', `INSERT INTO t VALUES (${100 + i})`);
  await p('wa', 'SELECT 1');
  await p('wc', 'SELECT 1');	// wb evicted with WAL frames
  t.ok(walSize(d.data, 'wb') > 0, 'wb was closed with commits in its WAL');
  const exp = await fetch(`${d.url}/v1/tenants/wc/export`);
  if (exp.status !== 200) throw new Error(`export: ${exp.status}`);
  const file = Buffer.from(await exp.arrayBuffer());
  const imp = await fetch(`${d.url}/v1/tenants/wb/import?replace=true`, { method: 'PUT', body: file });
  t.is(imp.status, 200, `import over wb answers 200 (${imp.status})`);
  t.is(await count('wb'), 0, "wb now has wc's (empty) table, nothing of its old WAL");

  // An import that dies before its rename leaves the old tenant whole,
  // with the commits its WAL held when the import closed it.
  for (let i = 0; i < 30; i++) await p('wa', `INSERT INTO t VALUES (${200 + i})`);
  const before = await count('wa');
  t.ok(walSize(d.data, 'wa') > 0, 'wa, open, has commits in its WAL before the import');
  await d.stop();
  process.env.TENANTD_CRASH_AT = 'import-before-rename';
  await d.start();
  delete process.env.TENANTD_CRASH_AT;
  await p('wa', 'INSERT INTO t VALUES (999)');
  await fetch(`${d.url}/v1/tenants/wa/import?replace=true`, { method: 'PUT', body: file })
    .catch(() => null);
  const died = await d.exited;
  t.is(died.code, 137, 'the daemon died inside the import, before the rename');
  await d.start();
  t.is(await count('wa'), before + 1, `wa still has every row it had (${before + 1}), none lost with its WAL`);
});
