// A request for a tenant that is not open, read by a loop with no other
// request in hand, is opened by that loop itself (server.c pipeline_fast,
// cache.c cache_dispatch_cold) instead of by a worker, from what the
// kernel has cached only (exclvfs.c's nowait mode): a file whose pages
// are not in memory goes to a worker, which opens it again and answers.
// Files not made yet, tenants with a migration due and --shared-files
// always go to a worker, and so does a schema too large to read on the
// loop; an evicted handle is still closed, after the answer (by the loop
// once it has no other event, or a worker).
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon, TOP_SRCDIR } from './lib.mjs';

const delta = (m1, m0, k) => (m1[k] || 0) - (m0[k] || 0);
const value = (r) => r.rows[0][0].value;

// The files of tenant id under the data dir (DATA/tenants/SHARD/ID.db*).
function tenantFiles(d, id) {
  const out = [];
  const top = join(d.data, 'tenants');
  for (const shard of readdirSync(top))
    for (const f of readdirSync(join(top, shard)))
      if (f === `${id}.db` || f === `${id}.db-wal`) out.push(join(top, shard, f));
  return out;
}

// Wait (bounded) until the daemon has at most n files open: evicted
// handles close after the answer.
async function openAtMost(d, n) {
  let m;
  for (let i = 0; i < 500; i++) {
    m = await d.metrics();
    if (m.tenantd_open_handles <= n) return m.tenantd_open_handles;
    await new Promise((r) => setTimeout(r, 10));
  }
  return m.tenantd_open_handles;
}

await run(async (t, keep) => {
  const d = await startDaemon(['--loops', '2', '--max-open', '2']);
  keep(d);
  for (const id of ['a', 'b', 'c']) {
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    // The first request makes the file: a worker's, never the loop's.
    const m0 = await d.metrics();
    await d.sql(id, 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)');
    const m1 = await d.metrics();
    t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 0,
      `tenant ${id}: the request that makes its file is not opened on the loop`);
    await d.sql(id, `INSERT INTO kv VALUES (1, '${id}')`);
  }

  // 1. a was evicted (cap 2): its next read is opened on the loop.
  let m0 = await d.metrics();
  let r = await d.sql('a', 'SELECT v FROM kv WHERE k = 1');
  let m1 = await d.metrics();
  t.is(value(r), 'a', 'a read of an evicted tenant answers its own data');
  t.is(delta(m1, m0, 'tenantd_cache_misses_total'), 1, 'it was a miss');
  t.is(delta(m1, m0, 'tenantd_cache_evictions_total'), 1, 'that evicted another handle (cap 2)');
  t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 1, 'whose file the loop opened itself');
  t.is(delta(m1, m0, 'tenantd_inline_requests_total'), 1, 'and ran on the loop');
  t.is(delta(m1, m0, 'tenantd_inline_open_waits_total'), 0, 'from cached pages, without a worker');
  t.is(await openAtMost(d, 2), 2, 'the evicted handle is closed: files open back at the cap');

  // 2. The handle the loop opened stays open: the next read is a hit.
  m0 = await d.metrics();
  r = await d.sql('a', 'SELECT count(*) FROM kv');
  m1 = await d.metrics();
  t.is(value(r), '1', 'the next read of it answers');
  t.is(delta(m1, m0, 'tenantd_cache_hits_total'), 1, 'from the handle the loop opened (a hit)');

  // 3. A write as the first request of a cold tenant: the loop opens the
  //    file but leaves the write (the first commit into its WAL) to a
  //    worker, which runs it once, on the same open handle.
  m0 = await d.metrics();
  r = await d.sql('b', "INSERT INTO kv VALUES (2, 'b2')");
  m1 = await d.metrics();
  t.is(r.affected_row_count, 1, 'a write to an evicted tenant reports one row');
  t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 1, 'the loop opened its file');
  t.is(delta(m1, m0, 'tenantd_inline_handoffs_total'), 1, 'and handed the write to a worker');
  t.is(delta(m1, m0, 'tenantd_cache_misses_total'), 1, 'one miss: the worker used the handle the loop opened');
  t.is(value(await d.sql('b', 'SELECT count(*) FROM kv')), '2', 'the insert happened exactly once');

  // 4. A file whose pages are not in memory: the loop's open would wait
  //    for the disk, so a worker opens it and answers.
  await d.sql('a', 'SELECT 1');		// a, b open: c evicted
  t.is(await openAtMost(d, 2), 2, 'c is closed');
  const fstype = execFileSync('stat', ['-f', '-c', '%T', d.data]).toString().trim();
  if (fstype === 'tmpfs' || fstype === 'ramfs') {
    t.ok(true, `# SKIP the data dir is on ${fstype}: its pages cannot be dropped`);
  } else {
    execFileSync('sync');
    for (const f of tenantFiles(d, 'c'))
      execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    m0 = await d.metrics();
    r = await d.sql('c', 'SELECT v FROM kv WHERE k = 1');
    m1 = await d.metrics();
    t.is(value(r), 'c', 'a tenant whose pages were dropped from memory answers its data');
    t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 1, 'the loop tried to open it');
    t.is(delta(m1, m0, 'tenantd_inline_open_waits_total'), 1,
      'and handed it to a worker, the read of its first page refused (RWF_NOWAIT)');
    t.is(delta(m1, m0, 'tenantd_inline_handoffs_total'), 1, 'counted as a hand-off');
    t.is(delta(m1, m0, 'tenantd_cache_misses_total'), 1, 'one miss');
  }

  // 4b. A schema of 400 tables: reading it would hold the loop for long,
  //     so the loop's open stops at its budget and a worker opens it.
  await d.admin('POST', '/v1/tenants', { id: 'wide', schema: null });
  const ddl = Array.from({ length: 400 }, (_, i) => `CREATE TABLE t${i} (x INTEGER);`).join(' ');
  let res = await fetch(`${d.url}/t/wide/v2/pipeline`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests: [{ type: 'sequence', sql: ddl }, { type: 'close' }] }),
  });
  t.is(res.status, 200, 'a tenant with 400 tables is made');
  await d.sql('a', 'SELECT 1');
  await d.sql('b', 'SELECT 1');		// a, b open: wide evicted
  m0 = await d.metrics();
  r = await d.sql('wide', 'SELECT count(*) FROM sqlite_schema');
  m1 = await d.metrics();
  t.is(value(r), '400', 'its next read answers from the whole schema');
  t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 1, 'the loop began to open it');
  t.is(delta(m1, m0, 'tenantd_inline_handoffs_total'), 1,
    'and stopped at its budget reading the schema: a worker opened it');
  t.is(delta(m1, m0, 'tenantd_inline_open_waits_total'), 0, 'not for the disk');

  // 5. An unknown tenant: the same 404 as ever.
  res = await fetch(`${d.url}/t/nosuch/v2/pipeline`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql: 'SELECT 1' } }] }),
  });
  const body = await res.json();
  t.ok(res.status === 404 && body.code === 'TENANT_NOT_FOUND',
    'an unknown tenant is still 404 TENANT_NOT_FOUND', `${res.status} ${JSON.stringify(body)}`);

  // 6. Many requests at once over more tenants than the cap: loops and
  //    workers open and evict side by side; every answer is its tenant's.
  const ids = ['a', 'b', 'c'];
  for (const id of ['d', 'e', 'f', 'g']) {
    await d.admin('POST', '/v1/tenants', { id, schema: null });
    await d.sql(id, 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)');
    await d.sql(id, `INSERT INTO kv VALUES (1, '${id}')`);
    ids.push(id);
  }
  m0 = await d.metrics();
  let wrong = 0, errors = 0;
  const one = async (i) => {
    const id = ids[(i * 5) % ids.length];
    try {
      if (value(await d.sql(id, 'SELECT v FROM kv WHERE k = 1')) !== id) wrong++;
    } catch { errors++; }
  };
  for (let round = 0; round < 25; round++)
    await Promise.all(Array.from({ length: 8 }, (_, k) => one(round * 8 + k)));
  m1 = await d.metrics();
  t.is({ wrong, errors }, { wrong: 0, errors: 0 }, '200 reads, 8 at a time over 7 tenants with a cap of 2: all answered, each its own data');
  t.ok(delta(m1, m0, 'tenantd_cache_misses_total') > 0, 'with misses among them',
    delta(m1, m0, 'tenantd_cache_misses_total'));
  t.is(await openAtMost(d, 2), 2, 'and afterwards the files open are back at the cap');

  // 7. A migration due on open: a worker's (it may take long).
  const s = await startDaemon([]);
  keep(s);
  await s.stop();
  cpSync(join(TOP_SRCDIR, 'schemas', 'notes'), join(s.tmp, 'schemas', 'notes'), { recursive: true });
  s.args = ['--schemas', join(s.tmp, 'schemas')];
  await s.start();
  r = await s.admin('POST', '/v1/tenants', { id: 'n', schema: 'notes' });
  if (r.status !== 201) throw new Error(`create n: ${r.status} ${r.text}`);
  await s.sql('n', "INSERT INTO notes (title) VALUES ('x')");
  await s.stop();
  writeFileSync(join(s.tmp, 'schemas', 'notes', '0004_pinned.sql'),
    'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n');
  await s.start();
  m0 = await s.metrics();
  r = await s.sql('n', 'SELECT count(*) FROM notes WHERE pinned = 0');
  m1 = await s.metrics();
  t.is(value(r), '1', 'a tenant with a migration due answers with the new column');
  t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 0, 'its file was opened by a worker, not the loop');
  t.ok((await s.admin('GET', '/v1/tenants/n')).body.version === 4, 'and it is at version 4');

  // 8. --shared-files: SQLite's unix VFS has no nowait mode.
  const sh = await startDaemon(['--shared-files', '--max-open', '1']);
  keep(sh);
  for (const id of ['x', 'y']) {
    await sh.admin('POST', '/v1/tenants', { id, schema: null });
    await sh.sql(id, 'CREATE TABLE kv (v TEXT)');
    await sh.sql(id, `INSERT INTO kv VALUES ('${id}')`);
  }
  m0 = await sh.metrics();
  const xy = [];
  for (const id of ['x', 'y', 'x', 'y']) xy.push(value(await sh.sql(id, 'SELECT v FROM kv')));
  m1 = await sh.metrics();
  t.is(xy, ['x', 'y', 'x', 'y'], 'with --shared-files, alternating tenants answer their data');
  t.is(delta(m1, m0, 'tenantd_cache_misses_total'), 4, 'each a miss (cap 1)');
  t.is(delta(m1, m0, 'tenantd_inline_opens_total'), 0, 'none opened on the loop');
});
