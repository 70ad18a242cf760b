// Closing a handle does not checkpoint (exec_open: an LRU eviction would
// otherwise pay two fsyncs on every miss).  What that must not cost: an
// evicted tenant's committed writes stay in its WAL and come back on the
// next open, after a crash too, and the sqlite3 shell reads them (unless
// the WAL holds 256 frames or more: then the eviction checkpoints), the
// reopen takes over the WAL index kept at the close unless the sqlite3
// shell wrote the file in between (then it reads the WAL back); a clean
// shutdown leaves the cached tenants' files complete, and an import never
// lets the old WAL into the new file.  With many tenants open the shutdown
// copies every WAL first, syncs once, and only then empties the WALs
// (cache_shutdown): a daemon killed between those steps loses nothing.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  // Two handles at most: opening wb and wc evicts wa.  Its connection is
  // closed by a worker after the answer that evicted it: wait for that
  // (until then a reopen shares the open connection's WAL index).
  const evictWa = async () => {
    await p('wb', 'SELECT 1');
    await p('wc', 'SELECT 1');
    for (let i = 0; i < 500 && (await d.metrics()).tenantd_open_handles > 2; i++)
      await new Promise((res) => setTimeout(res, 10));
  };
  const e0 = (await d.metrics()).tenantd_cache_evictions_total;
  await evictWa();
  t.ok((await d.metrics()).tenantd_cache_evictions_total > e0, 'wa was evicted (closed) to make room');
  t.ok(walSize(d.data, 'wa') > 0,
    `its close did not checkpoint: the WAL still holds its commits (${walSize(d.data, 'wa')} bytes)`);
  const k0 = await d.metrics();
  t.is(await count('wa'), 50, 'reopened, wa has all 50 rows (its commits in its WAL)');
  const k1 = await d.metrics();
  t.is(k1.tenantd_wal_index_reused_total - k0.tenantd_wal_index_reused_total, 1,
    'the reopen took over the WAL index kept at the eviction (the WAL was not read back)');

  // A kept WAL index is only taken over if nothing wrote the files since.
  // The sqlite3 shell writes to wa while tenantd has it closed: once
  // appending to its WAL only (no checkpoint at its close), once with a
  // checkpoint into the database file (and the WAL emptied).
  const shell = (id, ...cmds) => execFileSync('sqlite3', [...cmds.flatMap((c) => ['-cmd', c]),
    pathOf(d.data, id), '.quit'], { encoding: 'utf8' });
  await evictWa();
  const w0 = walSize(d.data, 'wa');
  shell('wa', '.dbconfig no_ckpt_on_close on', 'INSERT INTO t VALUES (1000)');
  t.ok(walSize(d.data, 'wa') > w0, `the shell appended a commit to wa's WAL (${w0} -> ${walSize(d.data, 'wa')} bytes)`);
  const k2 = await d.metrics();
  t.is(await count('wa'), 51, "reopened, wa has the shell's row too (51)");
  const k3 = await d.metrics();
  t.is(k3.tenantd_wal_index_stale_total - k2.tenantd_wal_index_stale_total, 1,
    'the kept index was dropped as stale, the WAL read back');
  t.is(k3.tenantd_wal_index_reused_total, k2.tenantd_wal_index_reused_total, 'and not taken over');
  for (let i = 0; i < 5; i++) await p('wa', `INSERT INTO t VALUES (${2000 + i})`);
  await evictWa();
  shell('wa', 'INSERT INTO t VALUES (1001)', 'PRAGMA wal_checkpoint(TRUNCATE)');
  t.is(walSize(d.data, 'wa'), 0, "the shell put wa's WAL into its file and emptied it");
  t.is(await count('wa'), 57, "reopened, wa has tenantd's 5 rows and the shell's second (57)");
  t.is((await d.metrics()).tenantd_wal_index_stale_total - k3.tenantd_wal_index_stale_total, 1,
    'the kept index was dropped again');
  const ic = await p('wa', 'PRAGMA integrity_check');
  t.is(ic.rows[0][0].value, 'ok', 'integrity_check: ok');
  // Writes after a taken-over index land where the index says.
  for (let i = 0; i < 3; i++) await p('wa', `INSERT INTO t VALUES (${3000 + i})`);
  await evictWa();
  const k4 = await d.metrics();
  t.is(await count('wa'), 60, 'evicted with 3 new commits and reopened: 60 rows');
  t.is((await d.metrics()).tenantd_wal_index_reused_total - k4.tenantd_wal_index_reused_total, 1,
    'through its kept index');
  for (let i = 0; i < 4; i++) await p('wa', `INSERT INTO t VALUES (${4000 + i})`);
  await evictWa();
  t.is(shell('wa', 'SELECT count(*) FROM t').trim(), '64',
    'the sqlite3 shell reads all 64 rows from the file and the WAL tenantd left');
  t.is(await count('wa'), 64, 'and tenantd too, after the shell read it');

  // A WAL of 256 frames or more is put into the file before an eviction
  // closes it: each later open would read all of it back.
  const r = await d.admin('POST', '/v1/tenants', { id: 'wbig', schema: null });
  if (r.status !== 201) throw new Error(`create wbig: ${r.status} ${r.text}`);
  await p('wbig', 'CREATE TABLE t (x INTEGER)');
  const requests = [];
  for (let i = 0; i < 300; i++) requests.push({ type: 'execute', stmt: { sql: `INSERT INTO t VALUES (${i})` } });
  requests.push({ type: 'close' });
  const big = await fetch(`${d.url}/t/wbig/v2/pipeline`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }),
  });
  t.is(big.status, 200, '300 commits to wbig, one pipeline');
  t.ok(walSize(d.data, 'wbig') >= 300 * 4096, `wbig's WAL holds 300 frames or more (${walSize(d.data, 'wbig')} bytes)`);
  // Three other tenants through a cache of two evict wbig.  A victim is
  // closed after the answer that evicted it is sent: wait until no more
  // than the cap's two files are open.
  const evictBig = async () => {
    for (const id of ['wa', 'wb', 'wc']) await p(id, 'SELECT 1');
    for (let i = 0; i < 500 && (await d.metrics()).tenantd_open_handles > 2; i++)
      await new Promise((res) => setTimeout(res, 10));
  };
  await evictBig();
  t.is(walSize(d.data, 'wbig'), 0, 'evicted with 300 frames, its WAL was put into the file and emptied');
  t.is(await count('wbig'), 300, 'reopened, wbig has all 300 rows');
  // The same WAL left by a crash, and the tenant only read after it: the
  // frames it had before its open count too.
  const again = await fetch(`${d.url}/t/wbig/v2/pipeline`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }),
  });
  t.is(again.status, 200, '300 more commits to wbig');
  await d.kill9();
  await d.start();
  t.is(await count('wbig'), 600, 'after kill -9 wbig has all 600 rows (read back from its WAL)');
  t.ok(walSize(d.data, 'wbig') >= 300 * 4096, 'its WAL still holds the frames');
  await evictBig();
  t.is(walSize(d.data, 'wbig'), 0, 'evicted without a commit since its open, its WAL was still put into the file');
  t.is(await count('wbig'), 600, 'reopened, wbig has all 600 rows');

  // A crash right after another eviction: the WAL is the only copy of the
  // last commits, and the next daemon reads them.
  for (let i = 50; i < 60; i++) await p('wa', `INSERT INTO t VALUES (${i})`);
  await p('wb', 'SELECT 1');
  await p('wc', 'SELECT 1');
  await d.kill9();
  await d.start();
  t.is(await count('wa'), 74, 'after kill -9 the evicted tenant still has all 74 rows');

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
  t.is(sh('wa'), '74', 'and all 74 of wa, evicted, from its file and WAL');

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

  // Many open tenants (the shutdown closes them on several threads): 200,
  // each with its own number of rows in its WAL.
  const m = await startDaemon([]);
  keep(m);
  const N = 200;
  const ids = Array.from({ length: N }, (_, i) => `many${i}`);
  const want = new Map();
  const write = async (id, rows) => {
    const requests = [];
    for (let k = 0; k < rows; k++)
      requests.push({ type: 'execute', stmt: { sql: `INSERT INTO t VALUES (${k})` } });
    requests.push({ type: 'close' });
    const res = await fetch(`${m.url}/t/${id}/v2/pipeline`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.results.some((r) => r.type !== 'ok'))
      throw new Error(`${id}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    want.set(id, (want.get(id) || 0) + rows);
  };
  for (let i = 0; i < N; i++) {
    const r = await m.admin('POST', '/v1/tenants', { id: ids[i], schema: null });
    if (r.status !== 201) throw new Error(`create ${ids[i]}: ${r.status} ${r.text}`);
    await m.sql(ids[i], 'CREATE TABLE t (x INTEGER)');
    await write(ids[i], 1 + (i % 7));
  }
  const allThere = async (what) => {
    let bad = 0;
    for (const id of ids) {
      const n = Number((await m.sql(id, 'SELECT count(*) FROM t')).rows[0][0].value);
      if (n !== want.get(id)) bad++;
    }
    t.is(bad, 0, `${what}: every one of the ${N} tenants has all its rows`);
  };
  const walsWithFrames = () => ids.filter((id) => walSize(m.data, id) > 0).length;

  // Killed after the WALs were copied into the files, before the sync and
  // before any WAL was emptied: the next start reads every WAL back.
  await m.stop();
  process.env.TENANTD_CRASH_AT = 'shutdown-after-copy';
  await m.start();
  delete process.env.TENANTD_CRASH_AT;
  for (const id of ids) await write(id, 2);
  t.is(walsWithFrames(), N, `all ${N} WALs hold commits before the shutdown`);
  t.is((await m.stop()).code, 137, 'the shutdown died after copying the WALs');
  t.is(walsWithFrames(), N, 'no WAL was emptied before the files were synced');
  await m.start();
  await allThere('after a shutdown killed between the copy and the sync');

  // Killed while emptying the WALs, 50 tenants into it: each tenant has
  // all its rows, from its file or from its WAL.
  for (const id of ids) await write(id, 1);
  await m.stop();
  process.env.TENANTD_CRASH_AT = 'shutdown-close:50';
  await m.start();
  delete process.env.TENANTD_CRASH_AT;
  for (const id of ids) await write(id, 3);
  t.is((await m.stop()).code, 137, 'the shutdown died with WALs half emptied');
  const left = walsWithFrames();
  t.ok(left > 0 && left < N, `some WALs were emptied, not all (${left} of ${N} left)`);
  await m.start();
  await allThere('after a shutdown killed while emptying the WALs');

  // A clean shutdown: every WAL empty, and each database file alone (no
  // WAL beside it) has every row.
  for (const id of ids) await write(id, 1);
  t.is((await m.stop()).code, 0, 'tenantd stopped cleanly');
  t.is(walsWithFrames(), 0, `after a clean shutdown none of the ${N} WALs has bytes left`);
  const alone = mkdtempSync(join(tmpdir(), 'tenantd-alone.'));
  let script = '';
  for (const id of ids) {
    copyFileSync(pathOf(m.data, id), join(alone, `${id}.db`));
    script += `ATTACH '${join(alone, `${id}.db`)}' AS a;\nSELECT '${id}', count(*) FROM a.t;\nDETACH a;\n`;
  }
  const out = execFileSync('sqlite3', [':memory:'], { input: script, encoding: 'utf8' });
  rmSync(alone, { recursive: true, force: true });
  const got = new Map(out.trim().split('\n').map((l) => { const [id, n] = l.split('|'); return [id, Number(n)]; }));
  t.is(ids.filter((id) => got.get(id) === want.get(id)).length, N,
    `the sqlite3 shell finds every row in each of the ${N} database files copied without their WAL`);
});
