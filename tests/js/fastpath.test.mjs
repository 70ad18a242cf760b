// The fast path (server.c pipeline_fast): a pipeline for an open, idle
// tenant runs on the event loop that read it.  It may only start what it
// can redo: a pipeline stopped on the loop goes to a worker, and must then
// have the same effect as if it had gone there at once (never twice).
// Runs with three loops, so that connections sit on different loops than
// the one that accepts, and answers cross between them.
import { run, startDaemon } from './lib.mjs';

const exec = (sql, args) => ({ type: 'execute', stmt: args ? { sql, args } : { sql } });
const close = { type: 'close' };

async function pipelineOn(d, tenant, requests, baton = null) {
  const res = await fetch(`${d.url}/t/${tenant}/v2/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ baton, requests }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`pipeline: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

function firstValue(body, i = 0) {
  const x = body.results[i];
  if (x.type !== 'ok') throw new Error(`result ${i}: ${JSON.stringify(x)}`);
  return x.response.result.rows[0][0].value;
}

await run(async (t, keep) => {
  const d = await startDaemon(['--loops', '3']);
  keep(d);
  const r = await d.admin('POST', '/v1/tenants', { id: 'fp', schema: null });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  const p = (requests, baton) => pipelineOn(d, 'fp', requests, baton);
  const m = async () => d.metrics();

  // The first request opens the file on a worker; the tenant is then open.
  await p([exec('CREATE TABLE t (x INTEGER)'), close]);
  await p([exec('INSERT INTO t VALUES (1)'), close]);

  // 1. A read of an open, idle tenant runs on the loop.
  let m0 = await m();
  const b1 = await p([exec('SELECT count(*) FROM t'), close]);
  let m1 = await m();
  t.is(firstValue(b1), '1', 'a fast-path read answers correctly');
  t.is(m1.tenantd_inline_requests_total - m0.tenantd_inline_requests_total, 1,
    'a read of an open, idle tenant ran on the loop');
  t.is(m1.tenantd_inline_handoffs_total - m0.tenantd_inline_handoffs_total, 0,
    'and was not handed to a worker');

  // 1b. More than 16 statements: preparing them is not bounded by the step
  //     budget, so the pipeline goes to a worker without being tried.
  m0 = await m();
  const many = await p([...Array.from({ length: 17 }, (_, i) => exec(`SELECT ${i}`)), close]);
  m1 = await m();
  t.is(many.results[16].response.result.rows[0][0].value, '16', 'a pipeline of 17 reads answers in full');
  t.is(m1.tenantd_inline_requests_total - m0.tenantd_inline_requests_total, 0,
    'a pipeline of more than 16 statements is not run on the loop');

  // 2. One write alone (synchronous=NORMAL) runs on the loop too.
  m0 = await m();
  const w = await p([exec('INSERT INTO t VALUES (2)'), close]);
  m1 = await m();
  t.is(w.results[0].response.result.affected_row_count, 1, 'the lone insert reports one row');
  t.is(m1.tenantd_inline_requests_total - m0.tenantd_inline_requests_total, 1,
    'a pipeline whose one statement writes runs on the loop');

  // 3. Two writes in one pipeline: the loop stops before the first (it
  //    could not redo it), a worker runs both, once.
  m0 = await m();
  await p([exec('INSERT INTO t VALUES (3)'), exec('INSERT INTO t VALUES (3)'), close]);
  m1 = await m();
  t.is(m1.tenantd_inline_handoffs_total - m0.tenantd_inline_handoffs_total, 1,
    'a pipeline of two writes was handed to a worker');
  t.is(firstValue(await p([exec('SELECT count(*) FROM t WHERE x = 3'), close])), '2',
    'both of its inserts happened exactly once');

  // 4. Reads, then a write: the reads ran on the loop, the write may not
  //    (two statements), so all of it runs again on a worker, once.
  m0 = await m();
  const rw = await p([exec('SELECT count(*) FROM t'), exec('INSERT INTO t VALUES (4)'), close]);
  m1 = await m();
  t.is(m1.tenantd_inline_handoffs_total - m0.tenantd_inline_handoffs_total, 1,
    'a read followed by a write was handed to a worker');
  t.is(firstValue(rw), '4', 'its read saw the table as it was before its own insert');
  t.is(firstValue(await p([exec('SELECT count(*) FROM t WHERE x = 4'), close])), '1',
    'its insert happened once');

  // 5. A transaction begun without a baton: stopped at the write, undone
  //    on the loop, run by a worker, and the stream holds it.
  const tx = await p([exec('BEGIN'), exec('INSERT INTO t VALUES (5)')]);
  t.ok(typeof tx.baton === 'string', 'BEGIN + INSERT without close gets a stream');
  t.ok(tx.results.every((x) => x.type === 'ok'),
    `its BEGIN and INSERT both succeeded (${JSON.stringify(tx.results.map((x) => x.error?.message ?? 'ok'))})`);
  t.is(tx.results[1].response.result.affected_row_count, 1, 'the insert inside it ran');
  const seen = await p([exec('SELECT count(*) FROM t WHERE x = 5')], tx.baton);
  t.is(firstValue(seen), '1', 'the stream sees its own uncommitted insert');
  await p([exec('COMMIT'), close], seen.baton);
  t.is(firstValue(await p([exec('SELECT count(*) FROM t WHERE x = 5'), close])), '1',
    'after COMMIT there is exactly one row from it');

  // 6. A read too heavy for the loop's step budget is stopped and run by a
  //    worker; the answer is the full, correct one.
  m0 = await m();
  const heavy = await p([exec(
    'WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) ' +
    'SELECT sum(i) FROM c'), close]);
  m1 = await m();
  t.is(firstValue(heavy), '20000100000', 'a heavy read answers in full');
  t.is(m1.tenantd_inline_handoffs_total - m0.tenantd_inline_handoffs_total, 1,
    'a read past the step budget was handed to a worker');

  // 7. A heavy write alone: interrupted on the loop, rolled back whole by
  //    SQLite, run once by a worker.
  m0 = await m();
  const hw = await p([exec(
    'INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c ' +
    'WHERE i < 100000) SELECT 7 FROM c'), close]);
  m1 = await m();
  t.is(hw.results[0].response.result.affected_row_count, 100000, 'the heavy insert reports 100000 rows');
  t.is(m1.tenantd_inline_handoffs_total - m0.tenantd_inline_handoffs_total, 1,
    'a write past the step budget was handed to a worker');
  t.is(firstValue(await p([exec('SELECT count(*) FROM t WHERE x = 7'), close])), '100000',
    'and its rows are there exactly once');

  // 8. Many connections at once, reads and writes over several tenants,
  //    one of them busy: every answer is its own (connections sit on three
  //    loops; a busy tenant's requests cross between loops and workers).
  for (const id of ['fa', 'fb', 'fc']) {
    const c = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (c.status !== 201) throw new Error(`create ${id}: ${c.status}`);
    await pipelineOn(d, id, [exec('CREATE TABLE t (x INTEGER)'), close]);
  }
  const N = 300;
  const tenants = ['fa', 'fa', 'fa', 'fb', 'fc'];
  const answers = await Promise.all(Array.from({ length: N }, (_, i) => {
    const id = tenants[i % tenants.length];
    return i % 3 === 0
      ? pipelineOn(d, id, [exec('INSERT INTO t VALUES (?)', [{ type: 'integer', value: String(i) }]), close])
      : pipelineOn(d, id, [exec(`SELECT ${i}, '${id}'`), close]);
  }));
  let wrong = 0;
  answers.forEach((b, i) => {
    const x = b.results[0];
    if (x.type !== 'ok') { wrong++; return; }
    if (i % 3 === 0) {
      if (x.response.result.affected_row_count !== 1) wrong++;
    } else {
      const row = x.response.result.rows[0];
      if (row[0].value !== String(i) || row[1].value !== tenants[i % tenants.length]) wrong++;
    }
  });
  t.is(wrong, 0, `${N} concurrent requests over three loops each got their own answer`);
  let rows = 0;
  for (const id of ['fa', 'fb', 'fc'])
    rows += Number(firstValue(await pipelineOn(d, id, [exec('SELECT count(*) FROM t'), close])));
  t.is(rows, N / 3, 'every concurrent insert landed once');

  // 9. Commits made on the loop never checkpoint there (a checkpoint
  //    fsyncs): once the WAL passes 1000 pages the checkpoint goes to a
  //    worker, and every row is still there after it.
  //    The first commit after a checkpoint starts the WAL over, and SQLite
  //    fsyncs the WAL's new header (at synchronous=NORMAL too): that commit
  //    goes to a worker, the next ones run on the loop again.  (A read
  //    right after the checkpoint is handed waits for it, queued behind it
  //    on the tenant, so the commit after is tried on an idle handle.)
  let handed = 0;
  let after = null;
  let next = null;
  for (let i = 0; i < 1100; i++) {
    const b0 = await m();
    await p([exec('INSERT INTO t VALUES (9)'), close]);
    const b1 = await m();
    if (b1.tenantd_handed_checkpoints_total === b0.tenantd_handed_checkpoints_total)
      continue;
    handed++;
    if (after !== null) continue;
    await p([exec('SELECT count(*) FROM t'), close]);
    const a0 = await m();
    await p([exec('INSERT INTO t VALUES (99)'), close]);
    const a1 = await m();
    await p([exec('INSERT INTO t VALUES (99)'), close]);
    const a2 = await m();
    after = [a1.tenantd_inline_requests_total - a0.tenantd_inline_requests_total,
      a1.tenantd_inline_handoffs_total - a0.tenantd_inline_handoffs_total];
    next = a2.tenantd_inline_requests_total - a1.tenantd_inline_requests_total;
  }
  t.ok(handed >= 1, `1100 fast-path commits handed ${handed} checkpoint(s) to a worker`);
  t.is(JSON.stringify(after), '[0,1]',
    'the commit after the checkpoint (it starts the WAL over, an fsync) was handed to a worker');
  t.is(next, 1, 'the commit after that ran on the loop');
  t.is(firstValue(await p([exec('SELECT count(*) FROM t WHERE x = 9'), close])), '1100',
    'all 1100 rows are there after the checkpoint');

  // 9b. Tenant SQL may not checkpoint (tenantd must know when the WAL
  //     starts over).
  const ck = (await p([exec('PRAGMA wal_checkpoint'), close])).results[0];
  t.ok(ck.type === 'error' && /not authorized/i.test(ck.error.message),
    `PRAGMA wal_checkpoint from tenant SQL is refused (${JSON.stringify(ck.error)})`);

  // 10. --synchronous full with group commit: the commit does not fsync,
  //    so a lone write runs on the loop; its answer waits for the round.
  //    With --no-group-commit the commit fsyncs, and a write never runs on
  //    the loop (the fsync would hold up every connection of that loop).
  for (const [args, inline] of [[[], true], [['--no-group-commit'], false]]) {
    const f = await startDaemon(['--loops', '2', '--synchronous', 'full', ...args]);
    keep(f);
    const fr = await f.admin('POST', '/v1/tenants', { id: 'ff', schema: null });
    if (fr.status !== 201) throw new Error(`create ff: ${fr.status}`);
    await pipelineOn(f, 'ff', [exec('CREATE TABLE t (x INTEGER)'), close]);
    const f0 = await f.metrics();
    await pipelineOn(f, 'ff', [exec('INSERT INTO t VALUES (1)'), close]);
    const f1 = await f.metrics();
    const mode = `--synchronous full${args.length ? ' ' + args.join(' ') : ''}`;
    if (inline) {
      t.is(f1.tenantd_inline_requests_total - f0.tenantd_inline_requests_total, 1,
        `with ${mode} a lone write runs on the loop`);
      t.is(f1.tenantd_sync_commits_total - f0.tenantd_sync_commits_total, 1,
        'and its commit took a ticket for a sync round (its answer waits for it)');
    } else {
      t.is(f1.tenantd_inline_handoffs_total - f0.tenantd_inline_handoffs_total, 1,
        `with ${mode} a write is handed to a worker`);
    }
    t.is(firstValue(await pipelineOn(f, 'ff', [exec('SELECT count(*) FROM t'), close])), '1',
      'and it happened once');
    await f.stop();
  }
});
