// Requests to one busy tenant run in batches on one worker (cache_kick):
// they must still behave exactly as if each ran on its own.  A batch stops
// where a request leaves a transaction open, so the requests behind it
// never run inside someone else's transaction.
import { run, startDaemon } from './lib.mjs';

await run(async (t, keep) => {
  const d = await startDaemon();
  keep(d);
  const r = await d.admin('POST', '/v1/tenants', { id: 'hot', schema: null });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);

  const pipeline = async (requests, baton = null) => {
    const res = await fetch(`${d.url}/t/hot/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baton, requests }),
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`pipeline: ${res.status} ${JSON.stringify(body)}`);
    for (const x of body.results)
      if (x.type !== 'ok') throw new Error(`pipeline result: ${JSON.stringify(x)}`);
    return body;
  };
  const exec = (sql) => ({ type: 'execute', stmt: { sql } });
  const close = { type: 'close' };
  const count = async (where) => {
    const b = await pipeline([exec(`SELECT count(*) FROM t WHERE ${where}`), close]);
    return Number(b.results[0].response.result.rows[0][0].value);
  };
  // Wait (on a condition, not a clock) until n more requests reached the
  // tenant's queue: each dispatch to a cached handle counts one hit.
  const hits = async () => (await d.metrics()).tenantd_cache_hits_total;
  const queued = async (from, n) => {
    for (let i = 0; (await hits()) < from + n; i++) {
      if (i > 6000) throw new Error('requests never reached the queue');
      await new Promise((res) => setTimeout(res, 10));
    }
  };

  await pipeline([exec('CREATE TABLE t (x INTEGER)'), close]);

  // 1. A stream holds the tenant inside a transaction: everything else
  //    queues behind it.
  const holder = await pipeline([exec('BEGIN IMMEDIATE')]);
  t.ok(typeof holder.baton === 'string', 'a stream holds the tenant in a transaction');

  // 2. Queued first: a request without a baton that opens a transaction
  //    and leaves it open.  Then 20 plain inserts.
  let h0 = await hits();
  const opener = pipeline([exec('BEGIN'), exec('INSERT INTO t VALUES (1)')]);
  await queued(h0, 1);
  h0 = await hits();
  const B0 = (await d.metrics()).tenantd_batched_requests_total;
  const inserts = Array.from({ length: 20 }, () => pipeline([exec('INSERT INTO t VALUES (2)'), close]));
  await queued(h0, 20);

  // 3. The holder commits: the opener and the inserts are now runnable as
  //    one batch.  The opener leaves its transaction open, so the batch
  //    must stop there: the inserts wait for the opener's stream.
  await pipeline([exec('COMMIT'), close], holder.baton);
  const op = await opener;
  t.ok(typeof op.baton === 'string', 'the opener got a stream with its transaction open');
  await pipeline([exec('ROLLBACK'), close], op.baton);
  await Promise.all(inserts);

  t.is(await count('x = 1'), 0, "the opener's rolled-back insert is gone");
  t.is(await count('x = 2'), 20,
    "all 20 inserts queued behind the opener survived its ROLLBACK (none ran inside its transaction)");
  const batched = (await d.metrics()).tenantd_batched_requests_total - B0;
  t.ok(batched >= 19,
    `the 20 queued inserts ran as one batch once the tenant was free (${batched} rode behind another)`);

  // 4. Many readers and writers on one tenant at once: every answer is its own.
  const N = 200;
  const all = await Promise.all(Array.from({ length: N }, (_, i) => (i % 4 === 0
    ? pipeline([exec(`INSERT INTO t VALUES (${1000 + i})`), close])
    : pipeline([exec(`SELECT ${i} AS i, (SELECT count(*) FROM t WHERE x = 2) AS c`), close]))));
  let wrong = 0;
  all.forEach((b, i) => {
    if (i % 4 === 0) {
      if (b.results[0].response.result.affected_row_count !== 1) wrong++;
    } else {
      const row = b.results[0].response.result.rows[0];
      if (Number(row[0].value) !== i || Number(row[1].value) !== 20) wrong++;
    }
  });
  t.is(wrong, 0, `${N} concurrent requests to one tenant each got their own correct answer`);
  t.is(await count('x >= 1000'), N / 4, `the ${N / 4} concurrent inserts are all there`);
});
