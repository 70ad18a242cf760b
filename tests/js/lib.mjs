// tests/js/lib.mjs: helpers for client tests.
//
// startDaemon() runs a private tenantd on a temp data dir and a free TCP
// port (--listen 127.0.0.1:0, the bound port comes back in the ready file),
// so tests never share state and never race for ports.  Waiting polls the
// ready file with a generous bound: no test depends on machine speed.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, existsSync, readFileSync, rmSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const TOP_SRCDIR = process.env.TOP_SRCDIR || join(here, '..', '..');
export const TOP_BUILDDIR = process.env.TOP_BUILDDIR || TOP_SRCDIR;
export const TENANTD = process.env.TENANTD || join(TOP_BUILDDIR, 'tenantd', 'tenantd');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Load @libsql/client; when it is missing, skip (or fail under CI, which
// sets TENANTD_REQUIRE_JS=1).
export async function loadClient() {
  try {
    return await import('@libsql/client');
  } catch (e) {
    if (process.env.TENANTD_REQUIRE_JS) {
      console.log(`not ok 1 - @libsql/client loads (${e.message})`);
      console.log('1..1');
      process.exit(1);
    }
    console.log('1..0 # SKIP @libsql/client is not installed (npm ci in tests/js)');
    process.exit(0);
  }
}

// A minimal TAP producer.
export function tap() {
  let n = 0, failed = 0;
  const t = {
    ok(cond, desc, diag) {
      n++;
      if (cond) console.log(`ok ${n} - ${desc}`);
      else {
        failed++;
        console.log(`not ok ${n} - ${desc}`);
        if (diag !== undefined) console.log(`#   ${String(diag).replace(/\n/g, '\n#   ')}`);
      }
      return !!cond;
    },
    is(got, want, desc) {
      const show = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
      const g = show(got), w = show(want);
      return t.ok(g === w, desc, `got:  ${g}\nwant: ${w}`);
    },
    async throws(fn, check, desc) {
      try {
        await fn();
        return t.ok(false, desc, 'no error was thrown');
      } catch (e) {
        return t.ok(check(e), desc, `error: ${e && e.code} ${e && e.message}`);
      }
    },
    done() {
      console.log(`1..${n}`);
      return failed === 0;
    },
    get failed() { return failed; },
  };
  return t;
}

// opts.env(d): variables to add to the daemon's environment (kept as
// d.env, which a test may change before a restart).
export async function startDaemon(args = [], opts = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'tenantd-js.'));
  const d = { tmp, data: join(tmp, 'data'), log: join(tmp, 'tenantd.log'), args };
  d.env = opts.env ? opts.env(d) : {};
  d.start = async () => {
    const ready = join(tmp, 'ready');
    rmSync(ready, { force: true });
    const out = openSync(d.log, 'a');
    // 'AUTH' in args: require tokens on TCP (no --no-auth).
    const auth = d.args.includes('AUTH');
    // TENANTD_WRAPPER runs the daemon under a tool (valgrind ...).
    const wrap = (process.env.TENANTD_WRAPPER || '').split(' ').filter(Boolean);
    d.proc = spawn(wrap.length ? wrap[0] : TENANTD, [...wrap.slice(1), ...(wrap.length ? [TENANTD] : []), '-D', d.data, '--listen', '127.0.0.1:0', ...(auth ? [] : ['--no-auth']),
      '--schemas', join(TOP_SRCDIR, 'schemas'), '--ready-file', ready, ...d.args.filter((a) => a !== 'AUTH')],
      { stdio: ['ignore', out, out], env: { ...process.env, ...d.env } });
    d.exited = new Promise((resolve) => d.proc.on('exit', (code, sig) => resolve({ code, sig })));
    for (let i = 0; !existsSync(ready); i++) {
      if (d.proc.exitCode !== null || i > 6000)
        throw new Error(`tenantd did not start:\n${readFileSync(d.log, 'utf8')}`);
      await sleep(50);
    }
    const txt = readFileSync(ready, 'utf8');
    d.pid = Number(/^pid (\d+)/m.exec(txt)[1]);
    d.url = `http://${/^tcp (.+)$/m.exec(txt)[1]}`;
    return d;
  };
  d.stop = async () => {
    if (!d.proc || d.proc.exitCode !== null) return d.exited;
    d.proc.kill('SIGTERM');
    return d.exited;
  };
  d.kill9 = async () => {
    if (!d.proc || d.proc.exitCode !== null) return d.exited;
    d.proc.kill('SIGKILL');
    return d.exited;
  };
  d.cleanup = async (failed, t) => {
    if (process.env.TENANTD_WRAPPER && d.proc && d.proc.exitCode === null) {
      // Under a checker, stop cleanly and let its verdict be a test.
      const ex = await d.stop();
      if (t) t.ok(ex.code === 0, `tenantd exits 0 under ${process.env.TENANTD_WRAPPER.split(' ')[0]} (exit ${ex.code})`);
      if (ex.code !== 0) failed = true;
    }
    await d.kill9();
    if (failed) {
      const lines = readFileSync(d.log, 'utf8').trim().split('\n').slice(-30);
      console.log(lines.map((l) => `#   ${l}`).join('\n'));
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  // Admin API call over TCP: returns { status, body }.
  d.admin = async (method, path, body) => {
    const r = await fetch(d.url + path, {
      method,
      headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      body: body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, body: json, text, type: r.headers.get('content-type') };
  };
  // Admin API call over the unix socket (no token needed there).
  d.unix = (method, path, body) => new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: join(d.data, 'tenantd.sock'), method, path,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: json, text });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
  // One statement on a tenant over Hrana (execute + close): its result,
  // or an exception with the status and body.
  d.sql = async (id, sql) => {
    const res = await fetch(`${d.url}/t/${id}/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }] }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.results[0].type !== 'ok')
      throw new Error(`${id}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    return body.results[0].response.result;
  };
  d.metrics = async () => {
    const text = await (await fetch(d.url + '/metrics')).text();
    const m = {};
    for (const line of text.split('\n')) {
      const mm = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
      if (mm) m[mm[1]] = Number(mm[2]);
    }
    return m;
  };
  await d.start();
  return d;
}

// Run main(t, ...) with a TAP object; always print the plan and clean up.
export async function run(main) {
  const t = tap();
  // Every daemon a test keeps is cleaned up (killed, its temp dir gone).
  const kept = [];
  try {
    await main(t, (daemon) => { if (!kept.includes(daemon)) kept.push(daemon); });
  } catch (e) {
    t.ok(false, `test script threw: ${e && e.stack}`);
  }
  for (const d of kept) await d.cleanup(t.failed > 0, t);
  process.exit(t.done() ? 0 : 1);
}
