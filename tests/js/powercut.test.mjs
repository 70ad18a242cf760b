// A power cut, simulated: tenantd runs with tests/powercut/powercut.so
// preloaded, which records what each fsync, fdatasync and syncfs made
// durable; after a kill -9 at a random moment the data dir is replaced by
// what a power cut would have left of it (pcimage: only synced bytes, only
// names whose folder was synced) and tenantd starts on that.  A kill -9
// alone (crash.test.mjs) keeps every write in the page cache, so only this
// shows that the syncs are where they must be.
//
// Under a write load over tenants being created and deleted:
// - at --synchronous full, with group commit and without: every write,
//   create and delete the daemon acknowledged is there;
// - at --synchronous normal --flush-ms 0: what a create or delete
//   acknowledged is there (the catalog syncs); writes may be lost (all of
//   them: only checkpoints sync a WAL then), but no tenant is damaged;
// - at normal with its flush thread (--flush-ms 200, the default): every
//   write answered before a flush pass that began after it
//   (tenantd_flush_passes_total) is there;
// - always: no batch half applied, integrity_check ok, catalog and files
//   agree.
// Then, at full and normal: an import as a new tenant, an import over one
// and a rollout, each answered just before the cut, are all there after it.
// POWERCUT_ROUNDS rounds per mode (default 2).
import { cpSync, existsSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { run, startDaemon, TENANTD, TOP_BUILDDIR, TOP_SRCDIR } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ROUNDS = Number(process.env.POWERCUT_ROUNDS || 2);
const SO = join(TOP_BUILDDIR, 'tests', 'powercut', 'powercut.so');
const IMAGE = join(TOP_BUILDDIR, 'tests', 'powercut', 'pcimage');

// The sanitizers' runtime wants to be first; the shim is preloaded before it.
const asan = (process.env.ASAN_OPTIONS ? process.env.ASAN_OPTIONS + ':' : '') +
  'verify_asan_link_order=0';

async function pipeline(d, id, stmts) {
  const requests = stmts.map((s) => ({ type: 'execute', stmt: typeof s === 'string' ? { sql: s } : s }));
  requests.push({ type: 'close' });
  const res = await fetch(`${d.url}/t/${id}/v2/pipeline`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.results.some((r) => r.type !== 'ok'))
    throw new Error(`${id}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body.results;
}

async function mode(t, keep, name, args, flush) {
  let logn = 0;
  // From the first start: the data dir is made under the shim too.
  const shim = (d) => ({ LD_PRELOAD: SO, PCUT_ROOT: join(realpathSync(d.tmp), 'data'),
    PCUT_LOG: join(d.tmp, `pcut-${++logn}.log`), ASAN_OPTIONS: asan });
  const d = await startDaemon(args, { env: shim });
  keep(d);
  const full = args.includes('full');

  const live = new Set();        // tenants with table w, writes going to them
  const acked = new Map();       // tenant -> Set of acknowledged n (once its table is)
  const created = new Set();     // creates acknowledged, no delete tried since
  const deleted = new Set();     // deletes acknowledged
  const text = (v) => ({ type: 'text', value: v });
  const int = (v) => ({ type: 'integer', value: String(v) });
  let seq = 0, next = 1;
  const create = async () => {
    const id = `p${seq++}`;
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    created.add(id);
    await pipeline(d, id, ['CREATE TABLE w (n INTEGER PRIMARY KEY, v TEXT)']);
    acked.set(id, new Set());
    live.add(id);
  };
  for (let i = 0; i < 40; i += 10)
    await Promise.all(Array.from({ length: 10 }, create));

  for (let round = 1; round <= ROUNDS; round++) {
    let stop = false;
    const workers = Array.from({ length: 16 }, async () => {
      while (!stop) {
        const ids = [...live];
        const roll = Math.random();
        try {
          if (roll < 0.04) {
            await create();
          } else if (roll < 0.06 && ids.length > 20) {
            // From here its writes and its create are no longer checked:
            // the delete may be done whether or not it is answered.
            const id = ids[Math.floor(Math.random() * ids.length)];
            live.delete(id);
            created.delete(id);
            acked.delete(id);
            const r = await d.admin('DELETE', `/v1/tenants/${id}`);
            if (r.status === 200) deleted.add(id);
          } else if (ids.length > 0) {
            const id = ids[Math.floor(Math.random() * ids.length)];
            const n = next++;
            if (n % 5 === 0) {
              // A batch: all or nothing.
              await pipeline(d, id, [{ sql: 'BEGIN' }, { sql: 'INSERT INTO w VALUES (?, ?)', args: [int(n), text('a')] },
                { sql: 'INSERT INTO w VALUES (?, ?)', args: [int(-n), text('b')] }, { sql: 'COMMIT' }]);
              if (acked.has(id)) { acked.get(id).add(n); acked.get(id).add(-n); }
            } else {
              await pipeline(d, id, [{ sql: 'INSERT INTO w VALUES (?, ?)', args: [int(n), text('x'.repeat(n % 700))] }]);
              if (acked.has(id)) acked.get(id).add(n);
            }
          }
        } catch { /* the daemon died under us: not acknowledged */ }
      }
    });
    await sleep(300 + Math.floor(Math.random() * 900));
    // With --flush-ms: what was answered before a flush pass that began
    // after it (the second pass to end from now) must survive.
    let proof = null;
    if (flush) {
      proof = new Map([...acked].map(([id, a]) => [id, new Set(a)]));
      // Passes of the flush thread, or with --flush-log the commit log's rounds.
      const passes = (m) => m.tenantd_flush_passes_total ?? m.tenantd_sync_rounds_total;
      const p0 = passes(await d.metrics());
      t.ok(Number.isFinite(p0), `${name}, round ${round}: /metrics counts the flush passes (${p0})`);
      while (passes(await d.metrics()) < p0 + 2) await sleep(20);
    }
    await d.kill9();
    stop = true;
    await Promise.all(workers);

    // The power cut: the data dir becomes what the syncs made durable.
    renameSync(d.data, `${d.data}.cut${round}`);
    const img = spawnSync(IMAGE, [d.env.PCUT_LOG, d.data], { encoding: 'utf8' });
    t.ok(img.status === 0 && existsSync(d.data), `${name}, round ${round}: pcimage rebuilt the data dir (${(img.stdout || img.stderr).trim()})`);
    d.env = round < ROUNDS ? shim(d) : {};
    await d.start();

    const listed = new Map();
    for (let after = ''; ;) {
      const r = await d.admin('GET', `/v1/tenants?limit=1000${after ? `&after=${after}` : ''}`);
      for (const x of r.body.tenants) listed.set(x.id, x);
      if (!r.body.next) break;
      after = r.body.next;
    }
    const missingCreates = [...created].filter((id) => !listed.has(id));
    t.is(missingCreates.join(','), '', `${name}, round ${round}: every acknowledged create survived (${created.size} tenants)`);
    const back = [...deleted].filter((id) => listed.has(id));
    t.is(back.join(','), '', `${name}, round ${round}: every acknowledged delete stayed done (${deleted.size})`);

    let lost = 0, lostTables = 0, half = 0, corrupt = 0, writes = 0, lostProof = 0, proofWrites = 0;
    live.clear();
    for (const id of listed.keys()) {
      try {
        const ic = await pipeline(d, id, ['PRAGMA integrity_check']);
        if (ic[0].response.result.rows[0][0].value !== 'ok') corrupt++;
      } catch (e) {
        corrupt++;
        console.log(`# ${String(e).slice(0, 300)}`);
        continue;
      }
      let have = new Set(), table = true;
      try {
        const rs = await pipeline(d, id, ['SELECT n FROM w']);
        have = new Set(rs[0].response.result.rows.map((r) => Number(r[0].value)));
      } catch (e) {
        if (!/no such table/.test(String(e))) throw e;
        // Its CREATE TABLE is gone (or was never answered): make it again.
        if (acked.has(id)) lostTables++;
        table = false;
        await pipeline(d, id, ['CREATE TABLE w (n INTEGER PRIMARY KEY, v TEXT)']);
      }
      for (const n of have) if (n > 0 && n % 5 === 0 && !have.has(-n)) half++;
      const a = acked.get(id);
      if (a) {
        for (const n of a) if (!have.has(n)) lost++;
        writes += a.size;
      }
      if (!created.has(id)) continue;   // a delete was tried: left alone
      const pr = proof && proof.get(id);
      if (pr) {
        for (const n of pr) if (!have.has(n)) lostProof++;
        if (!table) lostProof++;
        proofWrites += pr.size;
      }
      // What is there now is the next round's baseline.
      acked.set(id, have);
      live.add(id);
    }
    if (full) {
      t.is(lost, 0, `${name}, round ${round}: every acknowledged write survived the power cut (${writes} writes)`);
      t.is(lostTables, 0, `${name}, round ${round}: every acknowledged CREATE TABLE survived`);
    } else if (flush) {
      t.is(lostProof, 0, `${name}, round ${round}: every write answered before a completed flush pass survived (${proofWrites} writes)`);
      console.log(`# ${name}, round ${round}: ${lost} of ${writes} answered writes lost in all (the last ones may be)`);
    } else {
      console.log(`# ${name}, round ${round}: ${lost} of ${writes} acknowledged writes lost, ` +
        `${lostTables} tables (allowed at normal)`);
    }
    t.is(half, 0, `${name}, round ${round}: no batch is half applied`);
    t.is(corrupt, 0, `${name}, round ${round}: every tenant opens and passes integrity_check`);
    // A file made just before the cut may be there while its record still
    // says unmaterialized (exec_materialize): its next open marks it.
    const files = new Set();
    for (const shard of readdirSync(join(d.data, 'tenants')))
      for (const f of readdirSync(join(d.data, 'tenants', shard)))
        if (f.endsWith('.db')) files.add(f.slice(0, -3));
    const noFile = [...listed.values()].filter((x) => x.materialized && !files.has(x.id)).map((x) => x.id);
    const orphans = [...files].filter((id) => !listed.has(id));
    t.is(noFile.join(','), '', `${name}, round ${round}: every materialized tenant has its file`);
    t.is(orphans.join(','), '', `${name}, round ${round}: no file is left of a tenant the catalog does not list`);
  }
  return d;
}

// Admin operations acknowledged just before the cut: an import of a new
// tenant, an import over one, and a fleet rollout (notes v3 -> v4).
async function ops(t, keep, name, args) {
  const schemas = join(realpathSync(tmpdir()), `pcut-schemas-${process.pid}-${name.replace(/\W/g, '')}`);
  cpSync(join(TOP_SRCDIR, 'schemas'), schemas, { recursive: true });
  let logn = 0;
  // The root is the test's whole temp dir: the data dir and a backup's.
  const shim = (d) => ({ LD_PRELOAD: SO, PCUT_ROOT: realpathSync(d.tmp),
    PCUT_LOG: join(tmpdir(), `pcut-ops-${process.pid}-${++logn}.log`), ASAN_OPTIONS: asan });
  const d = await startDaemon([...args, '--schemas', schemas], { env: shim });
  keep(d);
  const ids = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
  for (const id of ids)
    t.is((await d.admin('POST', '/v1/tenants', { id, schema: 'notes' })).status, 201, `${name}: ${id} created`);
  t.is((await d.admin('POST', '/v1/tenants', { id: 'old', schema: null })).status, 201, `${name}: old created`);
  for (const id of ids) await pipeline(d, id, [`INSERT INTO notes (title) VALUES ('${id}')`]);
  await pipeline(d, 'old', ['CREATE TABLE notes (title TEXT)', "INSERT INTO notes (title) VALUES ('before the import')"]);
  const put = async (id, body, replace) => fetch(`${d.url}/v1/tenants/${id}/import${replace ? '?replace=true' : ''}`, { method: 'PUT', body });
  t.is((await put('imp', "CREATE TABLE fresh (y TEXT);\nINSERT INTO fresh VALUES ('imported');\n", false)).status, 201,
    `${name}: a SQL dump imported as a new tenant`);
  t.is((await put('old', "CREATE TABLE fresh (y TEXT);\nINSERT INTO fresh VALUES ('replaced');\n", true)).status, 200,
    `${name}: a SQL dump imported over a tenant`);
  writeFileSync(join(schemas, 'notes', '0004_pinned.sql'), 'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 7;\n');
  const job = await d.admin('POST', '/v1/migrations', { schema: 'notes', to: 4, tenants: ids });
  t.is(job.status, 202, `${name}: a rollout to notes v4 started`);
  let st;
  for (let i = 0; i < 3000; i++) {
    st = (await d.admin('GET', `/v1/migrations/${job.body.id}`)).body;
    if (!['planning', 'canary', 'running'].includes(st.state)) break;
    await sleep(20);
  }
  t.is(st.state, 'succeeded', `${name}: the rollout succeeded (${st.done} of ${st.total})`);
  const bk = await d.admin('POST', '/v1/backups', { dir: join(realpathSync(d.tmp), 'bk') });
  t.is(bk.status, 202, `${name}: a backup started`);
  let bs;
  for (let i = 0; i < 3000; i++) {
    bs = (await d.admin('GET', `/v1/backups/${bk.body.id}`)).body;
    if (bs.state !== 'running') break;
    await sleep(20);
  }
  t.is(bs.state, 'succeeded', `${name}: the backup succeeded (${bs.done} tenants)`);
  await d.kill9();

  // The cut: the temp dir's data dir and backup become what was synced.
  const img = `${d.tmp}-img`;
  const out = spawnSync(IMAGE, [d.env.PCUT_LOG, img], { encoding: 'utf8' });
  t.ok(out.status === 0, `${name}: pcimage rebuilt the data dir and the backup (${(out.stdout || out.stderr).trim()})`);
  rmSync(d.env.PCUT_LOG, { force: true });
  renameSync(d.data, `${d.data}.cut`);
  renameSync(join(img, 'data'), d.data);
  const restored = join(d.tmp, 'restored');
  const rs = existsSync(join(img, 'bk')) ?
    spawnSync(TENANTD, ['--restore', join(img, 'bk'), '-D', restored], { encoding: 'utf8' }) : { status: -1, stderr: 'no backup folder' };
  t.ok(rs.status === 0, `${name}: the backup answered as succeeded restores after the power cut (${(rs.stdout || rs.stderr || '').trim().split('\n').pop()})`);
  rmSync(img, { recursive: true, force: true });
  d.env = {};
  await d.start();
  const cell = async (id, sql) => (await pipeline(d, id, [sql]))[0].response.result.rows[0][0].value;
  let v = null;
  try { v = await cell('imp', 'SELECT y FROM fresh'); } catch (e) { v = String(e).slice(0, 200); }
  t.is(v, 'imported', `${name}: after the power cut the imported tenant is there, with its row`);
  try { v = await cell('old', "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'"); } catch (e) { v = String(e).slice(0, 200); }
  t.is(v, 'fresh', `${name}: the tenant imported over holds the import only`);
  const wrong = [];
  for (const id of ids) {
    const rec = (await d.admin('GET', `/v1/tenants/${id}`)).body;
    let pinned;
    try { pinned = await cell(id, `SELECT pinned FROM notes WHERE title = '${id}'`); } catch (e) { pinned = String(e).slice(0, 120); }
    if (rec.version !== 4 || Number(pinned) !== 7) wrong.push(`${id}: catalog v${rec.version}, pinned ${pinned}`);
  }
  t.is(wrong.join('; '), '', `${name}: every tenant of the finished rollout is at v4, in the catalog and in its file`);
  rmSync(schemas, { recursive: true, force: true });
  await d.stop();
}

await run(async (t, keep) => {
  for (const bad of ['-1', '60001', 'soon']) {
    const r = spawnSync(TENANTD, ['--flush-ms', bad], { encoding: 'utf8' });
    t.ok(r.status === 2 && /--flush-ms/.test(r.stderr), `--flush-ms ${bad} is refused (exit ${r.status}: ${r.stderr.trim().split('\n')[0]})`);
  }
  for (const [name, args, flush] of [['full', ['--synchronous', 'full', '--commit-log-mib', '16'], false],
    ['full, no group commit', ['--synchronous', 'full', '--no-group-commit'], false],
    ['normal, --flush-ms 0', ['--synchronous', 'normal', '--flush-ms', '0'], false],
    ['normal (--flush-ms 200, the default)', ['--synchronous', 'normal'], true],
    ['normal, --flush-log', ['--synchronous', 'normal', '--flush-log', '--commit-log-mib', '16'], true]]) {
    const d = await mode(t, keep, name, args, flush);
    await d.stop();
  }
  await ops(t, keep, 'ops at full', ['--synchronous', 'full']);
  await ops(t, keep, 'ops at normal', ['--synchronous', 'normal']);
  await ops(t, keep, 'ops at normal, --flush-log', ['--synchronous', 'normal', '--flush-log']);
});
