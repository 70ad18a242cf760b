// Bearer tokens on TCP: admin and tenant tokens, read-only, expiry, and
// the official client's authToken.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

await run(async (t, keep) => {
  const d = await startDaemon(['AUTH', '--default-schema', 'notes']);
  keep(d);
  const key = statSync(join(d.data, 'keys', 'tenantd.key'));
  t.is((key.mode & 0o777).toString(8), '600', 'the signing key is created with mode 0600');

  // Over the unix socket no token is needed: that is how an admin starts.
  t.is((await d.unix('POST', '/v1/tenants', { id: 'alice' })).status, 201, 'create over the unix socket without a token');
  await d.unix('POST', '/v1/tenants', { id: 'bob' });
  const mk = async (body) => (await d.unix('POST', '/v1/tokens', body)).body;
  const admin = (await mk({ tenant: null })).token;
  const aliceRw = (await mk({ tenant: 'alice' })).token;
  const aliceRo = (await mk({ tenant: 'alice', access: 'ro' })).token;
  const expired = (await mk({ tenant: 'alice', ttl: 1 }));
  t.ok(typeof admin === 'string' && admin.split('.').length === 3, 'tokens are JWTs');
  t.ok(expired.expires !== null, 'a token with a ttl says when it expires');

  const call = (path, token, init = {}) => fetch(d.url + path, {
    ...init, headers: { ...(init.headers || {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  let r = await call('/v1/tenants', null);
  t.ok(r.status === 401 && r.headers.get('content-type') === 'application/json', 'TCP without a token: 401 JSON');
  r = await call('/v1/tenants', 'not.a.token');
  t.is(r.status, 401, 'a garbage token: 401');
  r = await call('/v1/tenants', admin.slice(0, -4) + (admin.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
  t.is(r.status, 401, 'a token with a forged signature: 401');
  t.is((await call('/v1/tenants', admin)).status, 200, 'an admin token reaches the admin API');
  t.is((await call('/v1/tenants', aliceRw)).status, 403, "a tenant token does not reach the admin API");
  t.is((await call('/metrics', aliceRw)).status, 403, 'nor the metrics');
  t.is((await call('/health', null)).status, 200, '/health needs no token');

  // The official client with authToken.
  const db = createClient({ url: `${d.url}/t/alice/`, authToken: aliceRw });
  await db.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['with a token'] });
  t.is((await db.execute('SELECT count(*) AS n FROM notes')).rows[0].n, 1, '@libsql/client with authToken reads and writes');
  const ro = createClient({ url: `${d.url}/t/alice/`, authToken: aliceRo });
  t.is((await ro.execute('SELECT count(*) AS n FROM notes')).rows[0].n, 1, 'a read-only token reads');
  await t.throws(() => ro.execute("INSERT INTO notes (title) VALUES ('nope')"), (e) => e.code === 'SQLITE_READONLY',
    'a read-only token cannot write (SQLITE_READONLY)');
  await t.throws(() => ro.execute('PRAGMA query_only=0'), (e) => e.code === 'SQLITE_AUTH', 'nor switch read-only off');
  await t.throws(() => ro.batch(['BEGIN TRANSACTION READONLY', 'COMMIT', "INSERT INTO notes (title) VALUES ('x')"], 'write'),
    (e) => e.code === 'SQLITE_READONLY', 'nor escape it by ending a read transaction inside a batch');
  t.is((await db.execute('SELECT count(*) AS n FROM notes')).rows[0].n, 1, 'nothing was written through the read-only token');
  const cross = createClient({ url: `${d.url}/t/bob/`, authToken: aliceRw });
  await t.throws(() => cross.execute('SELECT 1'), (e) => /not grant access to tenant bob/.test(e.message),
    "alice's token cannot reach bob");
  const viaAdmin = createClient({ url: `${d.url}/t/bob/`, authToken: admin });
  t.is((await viaAdmin.execute('SELECT 7 AS x')).rows[0].x, 7, 'an admin token reaches every tenant');

  // Expiry (ttl 1 s; waits for the clock, no tighter timing assumed).
  await new Promise((res) => setTimeout(res, 2100));
  t.is((await call('/t/alice/v2/pipeline', expired.token, { method: 'POST', body: '{"requests":[]}' })).status, 401,
    'an expired token: 401');

  // Tokens never reach the log.
  const { readFileSync } = await import('node:fs');
  const log = readFileSync(d.log, 'utf8');
  t.ok(![admin, aliceRw, aliceRo].some((x) => log.includes(x.split('.')[2])), 'no token appears in the log');
  for (const c of [db, ro, cross, viaAdmin]) c.close();
});
