// Connections and tenant handles share the process's descriptor limit.
// A burst of connections that runs it out lowers the handle cache's cap
// by a step, not most of the way to nothing, the daemon keeps serving,
// and the cap grows back once the connections are gone.
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, TENANTD, TOP_SRCDIR } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const LIMIT = 256;
const TENANTS = 150;

// One request on a connection of its own, closed after the answer; or,
// given a keep-alive agent, on one of the agent's connections.
function request(port, method, path, body, agent = false) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent,
      headers: { ...(agent ? {} : { connection: 'close' }), ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    if (data) req.write(data);
    req.end();
  });
}

const select = (port, id, agent = false) => request(port, 'POST', `/t/${id}/v2/pipeline`,
  { requests: [{ type: 'execute', stmt: { sql: 'SELECT count(*) FROM sqlite_schema' } }, { type: 'close' }] }, agent);

async function metric(port, name) {
  const r = await request(port, 'GET', '/metrics');
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}

await run(async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'tenantd-fdlimit.'));
  const ready = join(tmp, 'ready');
  const log = openSync(join(tmp, 'log'), 'a');
  // The cap's shrinks so far, as the daemon logs them.
  const shrinkLines = () => (readFileSync(join(tmp, 'log'), 'utf8')
    .match(/ out of file descriptors: handle cache cap \d+ -> /g) || []).length;
  // A hard and soft limit of LIMIT descriptors, a cap far above what they
  // allow, and the cap's regrowth tried every 200 ms instead of 30 s.
  const proc = spawn('sh', ['-c', `ulimit -n ${LIMIT} && exec "${TENANTD}" -D "${join(tmp, 'data')}" --listen 127.0.0.1:0 --no-auth --max-open 1000 --schemas "${TOP_SRCDIR}/schemas" --ready-file "${ready}"`],
    { stdio: ['ignore', log, log], env: { ...process.env, TENANTD_TEST_CACHE_REGROW_MS: '200' } });
  try {
    for (let i = 0; !existsSync(ready); i++) {
      if (proc.exitCode !== null || i > 1200) throw new Error(`tenantd did not start:\n${readFileSync(join(tmp, 'log'), 'utf8')}`);
      await sleep(50);
    }
    const port = Number(/^tcp .*:(\d+)$/m.exec(readFileSync(ready, 'utf8'))[1]);

    for (let i = 0; i < TENANTS; i++) {
      const r = await request(port, 'POST', '/v1/tenants', { id: `f${i}`, schema: null });
      if (r.status !== 201) { t.ok(false, `create f${i}: ${r.status} ${r.text}`); return; }
    }
    const cap = () => metric(port, 'tenantd_max_open_handles');
    let ok = 0;
    for (let i = 0; i < 40; i++) ok += (await select(port, `f${i}`)).status === 200 ? 1 : 0;
    t.is(ok, 40, 'one connection at a time: 40 tenants opened, every request answered 200');
    t.is(await cap(), 1000, 'the cap is still --max-open');

    // 140 idle connections hold 140 descriptors: opening 40 more tenants
    // (80 descriptors) runs out.
    const idle = [];
    for (let i = 0; i < 140; i++) idle.push(net.connect(port, '127.0.0.1'));
    for (let i = 0; i < 400 && await metric(port, 'tenantd_connections') < 141; i++) await sleep(50);
    t.ok(await metric(port, 'tenantd_connections') >= 141, 'tenantd holds the 140 idle connections');
    let statuses = [];
    for (let i = 40; i < 80; i++) statuses.push((await select(port, `f${i}`)).status);
    t.ok(statuses.every((s) => s === 200 || s === 503), `opens that run out of descriptors answer 503, the rest 200 (${statuses.filter((s) => s === 503).length} 503 of 40; ${statuses.filter((s) => s !== 200 && s !== 503).join(' ')})`);
    const lowered = await cap();
    t.ok(lowered <= (LIMIT - 140) / 2, `the cap came down to what the descriptors left allow (${lowered})`);

    // The idle connections go: the cap grows back, as far as the limit
    // allows with 64 descriptors to spare for connections.
    for (const s of idle) s.destroy();
    let grown = lowered;
    for (let i = 0, same = 0; i < 600 && same < 10; i++) {
      await sleep(50);
      const c = await cap();
      same = c === grown ? same + 1 : 0;
      grown = c;
    }
    t.ok(grown > lowered, `the cap grows back once descriptors are free (${lowered} -> ${grown})`);
    t.ok(grown <= (LIMIT - 64) / 2, `not beyond what the limit allows with room for connections (${grown})`);

    // Idle connections again, as many as leave 30 descriptors free (counted
    // in /proc, so that the limit is reached whatever the timing), and a
    // burst of 60 opens of tenants not open yet over 6 keep-alive
    // connections: after ~12 new handles the opens in flight run out
    // together.  The cap comes down a step below the handles open, not by
    // a quarter per failed open.
    const used = readdirSync(`/proc/${proc.pid}/fd`).length;
    for (let i = 0; i < LIMIT - used - 30; i++) idle.push(net.connect(port, '127.0.0.1'));
    for (let i = 0; i < 400 && await metric(port, 'tenantd_connections') < LIMIT - used - 29; i++) await sleep(50);
    const shrinksBefore = shrinkLines();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    const burst = [];
    for (let i = 0; i < 60; i++) burst.push(select(port, `f${80 + i}`, agent));
    statuses = (await Promise.all(burst)).map((r) => r.status);
    agent.destroy();
    const n503 = statuses.filter((s) => s === 503).length;
    t.ok(statuses.every((s) => s === 200 || s === 503), `the burst is answered 200 or 503 (${n503} 503 of 60; ${statuses.filter((s) => s !== 200 && s !== 503).join(' ')})`);
    t.ok(n503 > 0, 'opens in the burst ran out of descriptors (the test reaches the limit)');
    const after = await cap();
    t.ok(after >= 30 && after < grown, `the cap came down by steps, not to a handful (${grown} -> ${after})`);
    // A shrink per round of closes (the opens failing together count
    // once), not one per failed open.
    const shrinks = shrinkLines() - shrinksBefore;
    t.ok(shrinks >= 1 && shrinks <= 3, `the burst's failed opens lowered the cap ${shrinks} time(s)`);
    for (const s of idle) s.destroy();

    // Every tenant, one connection at a time: evictions keep the
    // descriptors in hand, no request fails.
    ok = 0;
    for (let i = 0; i < TENANTS; i++) ok += (await select(port, `f${i}`)).status === 200 ? 1 : 0;
    t.is(ok, TENANTS, `afterwards all ${TENANTS} tenants answer 200 through the smaller cache`);
    // The last victims close once their loop is idle.
    let open;
    for (let i = 0; i < 200; i++) {
      open = await metric(port, 'tenantd_open_handles');
      if (open <= await cap()) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(open <= await cap(), `open handles come back within the cap (${open})`);
  } finally {
    proc.kill('SIGKILL');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
    // On a failure, the daemon's log as TAP comments.
    if (t.failed > 0) console.log(readFileSync(join(tmp, 'log'), 'utf8').replace(/^/gm, '# '));
    rmSync(tmp, { recursive: true, force: true });
  }
});
