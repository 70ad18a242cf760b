// Hrana over HTTP at the wire level: batons, streams and bad input.
import net from 'node:net';
import { run, startDaemon } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function pipeline(d, tenant, body, version = 2) {
  const r = await fetch(`${d.url}/t/${tenant}/v${version}/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: json, type: r.headers.get('content-type') };
}

const exec = (sql, args = []) => ({ type: 'execute', stmt: { sql, args } });
const jsonError = (r, status, code) => r.status === status && r.type === 'application/json' &&
  r.body && typeof r.body.message === 'string' && r.body.message.length > 0 && (!code || r.body.code === code);

// Send raw bytes on a fresh TCP connection; resolve with what came back.
function raw(d, bytes) {
  const { hostname, port } = new URL(d.url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname, () => s.end(bytes));
    let out = '';
    s.on('data', (c) => { out += c.toString('latin1'); });
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

await run(async (t, keep) => {
  const d = await startDaemon(['--stream-timeout', '1', '--max-body', '65536']);
  keep(d);
  for (const id of ['alice', 'bob'])
    await d.admin('POST', '/v1/tenants', { id, schema: null });
  await pipeline(d, 'alice', { requests: [exec('CREATE TABLE t (x)'), { type: 'close' }] });
  await pipeline(d, 'bob', { requests: [exec('CREATE TABLE t (x)'), { type: 'close' }] });

  // Version probes.
  t.is((await fetch(`${d.url}/t/alice/v2`)).status, 200, 'GET /t/alice/v2 answers 200');
  t.is((await fetch(`${d.url}/t/alice/v3`)).status, 200, 'GET /t/alice/v3 answers 200');

  // Values encoded as the spec says.
  let r = await pipeline(d, 'alice', { requests: [
    exec("SELECT 42 AS i, 1.5 AS f, 'é' AS s, x'00ff10' AS b, NULL AS n, 9223372036854775807 AS big"),
    { type: 'close' }] });
  const row = r.body.results[0].response.result.rows[0];
  t.is(row, [{ type: 'integer', value: '42' }, { type: 'float', value: 1.5 }, { type: 'text', value: 'é' },
    { type: 'blob', base64: 'AP8Q' }, { type: 'null' }, { type: 'integer', value: '9223372036854775807' }],
  'integers are decimal strings, blobs base64, floats numbers');
  t.is(r.body.baton, null, 'a pipeline ending in close returns a null baton');

  // Streams: a baton carries a transaction across requests and works once.
  r = await pipeline(d, 'alice', { requests: [exec('BEGIN'), exec('INSERT INTO t VALUES (1)')] });
  const b1 = r.body.baton;
  t.ok(typeof b1 === 'string' && b1.length > 20, 'an open stream returns a baton');
  r = await pipeline(d, 'alice', { baton: b1, requests: [exec('INSERT INTO t VALUES (2)')] });
  const b2 = r.body.baton;
  t.ok(r.status === 200 && b2 && b2 !== b1, 'the baton moves on with every request');
  r = await pipeline(d, 'alice', { baton: b1, requests: [exec('INSERT INTO t VALUES (99)')] });
  t.ok(jsonError(r, 400, 'BATON_INVALID'), 'a used baton is refused with 400 JSON');
  r = await pipeline(d, 'bob', { baton: b2, requests: [exec('INSERT INTO t VALUES (99)')] });
  t.ok(jsonError(r, 400, 'BATON_INVALID'), "alice's baton sent to bob is refused");
  r = await pipeline(d, 'alice', { baton: b2.slice(0, -2) + (b2.endsWith('AA') ? 'BA' : 'AA'), requests: [exec('SELECT 1')] });
  t.ok(jsonError(r, 400, 'BATON_INVALID'), 'a forged baton is refused');
  r = await pipeline(d, 'alice', { baton: b2, requests: [{ type: 'get_autocommit' }], }, 3);
  t.is(r.body.results[0].response.is_autocommit, false, 'get_autocommit (v3) sees the open transaction');
  const b3 = r.body.baton;
  r = await pipeline(d, 'alice', { baton: b3, requests: [exec('COMMIT'), { type: 'close' }] });
  t.ok(r.status === 200 && r.body.baton === null, 'commit and close end the stream');
  r = await pipeline(d, 'alice', { requests: [exec('SELECT count(*) FROM t'), { type: 'close' }] });
  t.is(r.body.results[0].response.result.rows[0][0].value, '2', 'refused batons wrote nothing; the transaction committed 2 rows');
  r = await pipeline(d, 'bob', { requests: [exec('SELECT count(*) FROM t'), { type: 'close' }] });
  t.is(r.body.results[0].response.result.rows[0][0].value, '0', 'nothing reached bob');

  // An idle stream expires: its transaction is rolled back, its baton says so.
  r = await pipeline(d, 'alice', { requests: [exec('BEGIN'), exec('INSERT INTO t VALUES (3)')] });
  const stale = r.body.baton;
  let expired = null;
  for (let i = 0; i < 40 && !expired; i++) {   // expiry is 1 s; wait up to 10 s
    await sleep(250);
    const m = await d.metrics();
    if (m.tenantd_streams === 0) expired = true;
  }
  t.ok(expired, 'the idle stream expired');
  r = await pipeline(d, 'alice', { baton: stale, requests: [exec('COMMIT')] });
  t.ok(jsonError(r, 400, 'STREAM_EXPIRED'), 'its baton gets STREAM_EXPIRED');
  r = await pipeline(d, 'alice', { requests: [exec('SELECT count(*) FROM t'), { type: 'close' }] });
  t.is(r.body.results[0].response.result.rows[0][0].value, '2', 'the expired transaction was rolled back');

  // Batch conditions.
  r = await pipeline(d, 'alice', { requests: [{ type: 'batch', batch: { steps: [
    { stmt: { sql: 'SELECT 1' } },
    { stmt: { sql: 'SELECT nope' }, condition: { type: 'ok', step: 0 } },
    { stmt: { sql: 'SELECT 3' }, condition: { type: 'error', step: 1 } },
    { stmt: { sql: 'SELECT 4' }, condition: { type: 'not', cond: { type: 'error', step: 1 } } },
    { stmt: { sql: 'SELECT 5' }, condition: { type: 'and', conds: [{ type: 'ok', step: 0 }, { type: 'ok', step: 2 }] } },
    { stmt: { sql: 'SELECT 6' }, condition: { type: 'or', conds: [{ type: 'ok', step: 3 }, { type: 'ok', step: 1 }] } },
  ] } }, { type: 'close' }] });
  const br = r.body.results[0].response.result;
  t.is(br.step_results.map((s) => (s ? s.rows[0][0].value : null)), ['1', null, '3', null, '5', null],
    'batch runs exactly the steps whose conditions hold');
  t.ok(br.step_errors[1] && br.step_errors[1].code && br.step_errors.filter(Boolean).length === 1,
    'the failing step carries its error and only it');

  // store_sql / sql_id / describe / sequence.
  r = await pipeline(d, 'alice', { requests: [
    { type: 'store_sql', sql_id: 7, sql: 'SELECT ? + 1' },
    { type: 'execute', stmt: { sql_id: 7, args: [{ type: 'integer', value: '41' }] } },
    { type: 'describe', sql: 'SELECT x FROM t WHERE x = :v' },
    { type: 'sequence', sql: 'INSERT INTO t VALUES (10); INSERT INTO t VALUES (11);' },
    { type: 'close_sql', sql_id: 7 },
    { type: 'execute', stmt: { sql_id: 7 } },
    { type: 'close' }] });
  const res = r.body.results;
  t.is(res[1].response.result.rows[0][0].value, '42', 'a stored SQL text runs by sql_id');
  t.is(res[2].response.result.params, [{ name: ':v' }], 'describe lists parameters');
  t.is(res[2].response.result.is_readonly, true, 'describe says read-only');
  t.is(res[3].type, 'ok', 'sequence runs several statements');
  t.is(res[5].type, 'error', 'a closed sql_id no longer runs');

  // Bad input: each a clear 4xx JSON error; nothing written.
  const count = async () => (await pipeline(d, 'alice', { requests: [exec('SELECT count(*) FROM t'), { type: 'close' }] }))
    .body.results[0].response.result.rows[0][0].value;
  const before = await count();
  t.ok(jsonError(await pipeline(d, 'alice', '{"requests": [ {"type": "execute", '), 400, 'HRANA_PROTO_ERROR'), 'malformed JSON: 400');
  t.ok(jsonError(await pipeline(d, 'alice', { requests: [exec('INSERT INTO t VALUES (500)'), { type: 'frobnicate' }] }), 400, 'HRANA_PROTO_ERROR'),
    'unknown request type: 400, and the valid request before it did not run');
  t.ok(jsonError(await pipeline(d, 'alice', { requests: [{ type: 'get_autocommit' }] }, 2), 400, 'HRANA_PROTO_ERROR'),
    'get_autocommit on v2: 400');
  t.ok(jsonError(await pipeline(d, 'alice', { requests: [{ type: 'execute', stmt: { sql: 'INSERT INTO t VALUES (?)', args: [{ type: 'integer', value: 'x1' }] } }] }), 400, 'HRANA_PROTO_ERROR'),
    'an integer that is not a decimal string: 400');
  t.ok(jsonError(await pipeline(d, 'alice', { requests: [{ type: 'batch', batch: { steps: [{ stmt: { sql: 'SELECT 1' }, condition: { type: 'ok', step: 0 } }] } }] }), 400),
    'a condition on a step that is not earlier: 400');
  const big = { requests: [exec('INSERT INTO t VALUES (?)', [{ type: 'text', value: 'x'.repeat(70000) }])] };
  t.ok(jsonError(await pipeline(d, 'alice', big), 413, 'BODY_TOO_LARGE'), 'a body over --max-body: 413 JSON');
  // fetch() would normalise dot segments away, so send those raw.
  for (const bad of ['..', '%2e%2e', '%2E.']) {
    const body = '{"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO t VALUES (1)"}}]}';
    const out = await raw(d, `POST /t/${bad}/v2/pipeline HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    t.ok(/^HTTP\/1\.1 400/.test(out) && /"code":"INVALID_TENANT_ID"/.test(out), `tenant id "${bad}": 400 INVALID_TENANT_ID`);
  }
  for (const [bad, what] of [['a%2fb', 'an encoded "/"'], ['a%00b', 'NUL'],
    ['.x', 'a leading dot'], ['x'.repeat(65), '65 characters'], ['a%20b', 'a space']]) {
    const rr = await pipeline(d, bad, { requests: [exec('INSERT INTO t VALUES (1)')] });
    t.ok(jsonError(rr, 400, 'INVALID_TENANT_ID'), `tenant id with ${what}: 400 INVALID_TENANT_ID`);
  }
  const rr = await d.admin('GET', '/v1/tenants/..%2f..%2fetc');
  t.ok(jsonError(rr, 400, 'INVALID_TENANT_ID'), 'admin route with a traversal id: 400');
  t.ok(jsonError(await pipeline(d, 'nobody', { requests: [] }), 404, 'TENANT_NOT_FOUND'), 'unknown tenant: 404');
  t.is(await count(), before, 'none of the refused requests wrote anything');

  // Raw HTTP abuse: the daemon answers in JSON and keeps serving.
  let out = await raw(d, 'GARBAGE\r\n\r\n');
  t.ok(/^HTTP\/1\.1 400/.test(out) && /application\/json/.test(out), 'a garbage request line gets 400 JSON');
  out = await raw(d, `GET /health HTTP/1.1\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  t.ok(/^HTTP\/1\.1 431/.test(out), 'a 20 KB header gets 431');
  out = await raw(d, 'POST /t/alice/v2/pipeline HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n');
  t.ok(/^HTTP\/1\.1 413/.test(out), 'an oversized Content-Length is refused before the body is read');
  out = await raw(d, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.ok((out.match(/HTTP\/1\.1 200/g) || []).length === 2, 'two pipelined requests on one connection both get answers');
  // 300 pipelined requests in one write (~60 KB: more than one read of
  // the socket takes, so requests straddle reads and later ones wait
  // parsed from the buffer): each answered once, in order, each ran once.
  {
    const n0 = Number(await count());
    let many = '';
    for (let i = 0; i < 300; i++) {
      const body = JSON.stringify({ requests: [exec(`INSERT INTO t VALUES (${1000 + i}) RETURNING x`), { type: 'close' }] });
      many += `POST /t/alice/v2/pipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n${i === 299 ? 'Connection: close\r\n' : ''}\r\n${body}`;
    }
    t.ok(many.length > 32768, 'the pipelined batch is larger than two reads');
    const got = await raw(d, many);
    t.is((got.match(/HTTP\/1\.1 200/g) || []).length, 300, '300 pipelined requests in one write: 300 answers of 200');
    const xs = [...got.matchAll(/"value":"(\d+)"/g)].map((m) => Number(m[1]));
    t.is(xs, Array.from({ length: 300 }, (_, i) => 1000 + i), 'the answers come back in the order the requests were sent');
    t.is(Number(await count()), n0 + 300, 'each pipelined request ran exactly once');
  }
  // Request smuggling: what a proxy in front would read differently.
  const smuggled = 'GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n';
  for (const [what, head] of [
    ['a NUL byte', `POST /health HTTP/1.1\r\nX-A: a\0b\r\nContent-Length: ${smuggled.length}\r\n\r\n`],
    ['a bare LF', `POST /health HTTP/1.1\r\nX-A: a\nContent-Length: ${smuggled.length}\r\n\r\n`],
    ['a bare CR', `POST /health HTTP/1.1\r\nX-A: a\rContent-Length: ${smuggled.length}\r\n\r\n`],
    ['two Host headers', `POST /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: ${smuggled.length}\r\n\r\n`],
    ['two Content-Length headers', `POST /health HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n`],
  ]) {
    out = await raw(d, head + smuggled);
    t.ok(/^HTTP\/1\.1 400/.test(out) && (out.match(/HTTP\/1\.1 /g) || []).length === 1,
      `a header with ${what} gets 400 and nothing behind it is run`, out.slice(0, 200));
  }
  t.is((await d.admin('GET', '/health')).status, 200, 'the daemon is still healthy');
});
