// One HTTP connection while its request waits on a worker (http.c keeps
// reading on across requests): more bytes arriving meanwhile are held until
// the answer is out, and a client that ends its side still gets its answer.
// A stream holding the tenant in a transaction keeps the request waiting, so
// nothing here depends on timing.
import net from 'node:net';
import { run, startDaemon } from './lib.mjs';

await run(async (t, keep) => {
  const d = await startDaemon();
  keep(d);
  const r = await d.admin('POST', '/v1/tenants', { id: 'c1', schema: null });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  const port = Number(new URL(d.url).port);

  const post = async (requests, baton = null) => {
    const res = await fetch(`${d.url}/t/c1/v2/pipeline`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baton, requests }),
    });
    return res.json();
  };
  const exec = (sql) => ({ type: 'execute', stmt: { sql } });
  const raw = (sql) => {
    const body = JSON.stringify({ requests: [exec(sql), { type: 'close' }] });
    return `POST /t/c1/v2/pipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const hits = async () => (await d.metrics()).tenantd_cache_hits_total;
  const until = async (cond, what) => {
    for (let i = 0; !(await cond()); i++) {
      if (i > 6000) throw new Error(`never: ${what}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  // A socket that collects everything it receives; done when closed.
  const connect = () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.data = '';
    s.done = new Promise((res) => s.on('close', res));
    s.on('data', (b) => { s.data += b.toString('utf8'); });
    s.on('connect', () => resolve(s));
    s.on('error', (e) => { if (!s.connecting) s.err = e; else reject(e); });
  });

  await post([exec('CREATE TABLE t (x)'), { type: 'close' }]);

  // 1. More requests arrive on the connection while its first one waits.
  let holder = await post([exec('BEGIN IMMEDIATE')]);
  let h0 = await hits();
  const s1 = await connect();
  s1.write(raw('INSERT INTO t VALUES (1)'));
  await until(async () => (await hits()) >= h0 + 1, 'the first request reached the queue');
  s1.write(raw('INSERT INTO t VALUES (2)') + raw('SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)'));
  t.is(s1.data, '', 'nothing is answered while the tenant is held');
  await post([exec('COMMIT'), { type: 'close' }], holder.baton);
  await until(async () => (s1.data.match(/HTTP\/1\.1 200/g) || []).length >= 3, 'three answers');
  const bodies = s1.data.split('HTTP/1.1 200 OK').slice(1);
  t.is(bodies.length, 3, 'three requests on one connection, three answers');
  t.ok(/"affected_row_count":1/.test(bodies[0]) && /"affected_row_count":1/.test(bodies[1]) &&
    /"value":"1,2"/.test(bodies[2]),
    'in order: the queued insert, the one sent while it waited, then the select seeing both');
  s1.end();
  await s1.done;

  // 2. A client that ends its side (half-close) while its request waits
  //    still gets the answer, then the connection is closed.
  holder = await post([exec('BEGIN IMMEDIATE')]);
  h0 = await hits();
  const s2 = await connect();
  s2.write(raw('INSERT INTO t VALUES (3)'));
  await until(async () => (await hits()) >= h0 + 1, 'the request reached the queue');
  s2.end();
  await post([exec('COMMIT'), { type: 'close' }], holder.baton);
  await s2.done;
  t.ok(/^HTTP\/1\.1 200/.test(s2.data) && /"affected_row_count":1/.test(s2.data),
    'after a half-close the waiting request is still answered, then the connection closes');

  // 3. A client that goes away entirely while its request waits: the
  //    request still runs, and the daemon keeps serving.
  holder = await post([exec('BEGIN IMMEDIATE')]);
  h0 = await hits();
  const s3 = await connect();
  s3.write(raw('INSERT INTO t VALUES (4)'));
  await until(async () => (await hits()) >= h0 + 1, 'the request reached the queue');
  s3.destroy();
  await post([exec('COMMIT'), { type: 'close' }], holder.baton);
  await until(async () => (await post([exec('SELECT count(*) FROM t WHERE x = 4'), { type: 'close' }]))
    .results[0].response.result.rows[0][0].value === '1', 'the insert of the departed client');
  const all = await post([exec('SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)'), { type: 'close' }]);
  t.is(all.results[0].response.result.rows[0][0].value, '1,2,3,4',
    'the request of a client that hung up still ran, and the daemon kept serving');
});
