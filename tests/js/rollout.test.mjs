// Fleet rollouts: 500 tenants, a step that some tenants' data violates,
// a kill -9 in the middle of a rollout, dry runs, down migrations, edited
// files and bad requests.
import { mkdirSync, writeFileSync, readFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { run, startDaemon } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await run(async (t, keep) => {
  const d0 = await startDaemon([]);          // only to get a temp dir
  const schemas = join(d0.tmp, 'schemas');
  await d0.cleanup(false);
  mkdirSync(join(schemas, 'fleet'), { recursive: true });
  const file = (name, sql) => writeFileSync(join(schemas, 'fleet', name), sql);
  file('0001_items.sql', 'CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL);\n');
  file('0001_items.down.sql', 'DROP TABLE items;\n');

  const d = await startDaemon(['--schemas', schemas, '--workers', '4']);
  keep(d);
  const q = async (tenant, sql) => {
    const r = await fetch(`${d.url}/t/${tenant}/v2/pipeline`, {
      method: 'POST',
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }] }),
    });
    return (await r.json()).results[0];
  };
  const waitJob = async (id) => {
    for (let i = 0; i < 2400; i++) {          // up to 2 minutes
      const r = await d.admin('GET', `/v1/migrations/${id}`);
      if (r.status === 200 && ['succeeded', 'failed', 'completed_with_errors'].includes(r.body.state)) return r.body;
      await sleep(50);
    }
    throw new Error(`rollout ${id} did not finish`);
  };
  const tenantsAt = async () => {
    const out = {};
    let after = '';
    for (;;) {
      const r = await d.admin('GET', `/v1/tenants?limit=1000${after ? `&after=${after}` : ''}`);
      for (const x of r.body.tenants) out[x.id] = x;
      if (!r.body.next) return out;
      after = r.body.next;
    }
  };

  // 500 tenants at version 1; every 10th gets duplicate skus.
  const N = 500;
  const ids = Array.from({ length: N }, (_, i) => `f${String(i).padStart(3, '0')}`);
  const bad = new Set(ids.filter((_, i) => i % 10 === 0));
  for (let i = 0; i < N; i += 50)
    await Promise.all(ids.slice(i, i + 50).map((id) => d.admin('POST', '/v1/tenants', { id, schema: 'fleet' })));
  await Promise.all(ids.map((id) => q(id, bad.has(id)
    ? "INSERT INTO items (sku) VALUES ('dup'), ('dup')"
    : `INSERT INTO items (sku) VALUES ('${id}-a'), ('${id}-b')`)));
  let all = await tenantsAt();
  t.is(Object.values(all).filter((x) => x.version === 1).length, N, '500 tenants at version 1');

  file('0002_price.sql', 'ALTER TABLE items ADD COLUMN price INTEGER NOT NULL DEFAULT 0;\n');
  file('0002_price.down.sql', 'ALTER TABLE items DROP COLUMN price;\n');
  file('0003_unique_sku.sql', 'CREATE UNIQUE INDEX items_sku ON items (sku);\n');
  file('0003_unique_sku.down.sql', 'DROP INDEX items_sku;\n');

  // Dry run first: nothing changes, failures are reported.
  const probe = join(d.data, 'tenants');
  const bytesOf = (id) => {
    const hit = execFileSync('find', [probe, '-name', `${id}.db`], { encoding: 'utf8' }).trim();
    return createHash('sha256').update(readFileSync(hit)).digest('hex');
  };
  const before = bytesOf('f001');
  let r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', dry_run: true, continue_on_error: true, parallel: 4 });
  t.is(r.status, 202, 'a dry-run rollout is accepted (202)');
  let job = await waitJob(r.body.id);
  t.is([job.done, job.failed], [N - bad.size, bad.size], 'the dry run predicts exactly the failing tenants');
  all = await tenantsAt();
  t.is(Object.values(all).filter((x) => x.version === 1 && !x.last_error).length, N, 'after the dry run every tenant is still at version 1 with no error');
  t.is(bytesOf('f001'), before, 'the dry run left the file bytes identical');

  // Two rollouts of one schema at once are refused.
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', continue_on_error: true, parallel: 4 });
  t.is(r.status, 202, 'the real rollout is accepted');
  const r2 = await d.admin('POST', '/v1/migrations', { schema: 'fleet' });
  t.ok(r2.status === 409 && r2.body.code === 'ROLLOUT_RUNNING', 'a second rollout of the same schema is refused with 409',
    `${r2.status} ${r2.text}`);
  job = await waitJob(r.body.id);
  t.is(job.state, 'completed_with_errors', 'continue_on_error runs everyone and reports errors');
  t.is(job.failed, bad.size, 'exactly the tenants with duplicate skus failed');
  const failedIds = new Set(job.failures.map((f) => f.tenant));
  t.ok(failedIds.size === bad.size && [...bad].every((id) => failedIds.has(id)), 'the report names every failing tenant and no other');
  t.ok(job.failures.every((f) => f.file === '0003_unique_sku.sql' && /UNIQUE constraint failed/.test(f.error) && f.version === 2),
    'each failure names the file, the SQLite error and the version it stayed at', JSON.stringify(job.failures[0]));
  all = await tenantsAt();
  t.ok(ids.every((id) => all[id].version === (bad.has(id) ? 2 : 3)), 'others at version 3, failed ones at version 2');
  t.ok([...bad].every((id) => /0003_unique_sku\.sql/.test(all[id].last_error || '')), 'failed tenants carry the error in the catalog');
  const still = await q('f000', 'SELECT count(*), sum(price) FROM items');
  t.ok(still.type === 'ok' && still.response.result.rows[0][0].value === '2', 'a failed tenant keeps serving at version 2');
  const rec = await q('f001', 'SELECT max(version) FROM _tenantd_migrations');
  const uv = await q('f001', 'PRAGMA user_version');
  t.is([rec.response.result.rows[0][0].value, uv.response.result.rows[0][0].value], ['3', '3'], 'record and user_version agree with the catalog');

  // Without continue_on_error the first failure stops the job; canary stops early.
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 3, canary: 5, tenants: ['f000', 'f010', 'f020', 'f030', 'f040', 'f050', 'f060'] });
  job = await waitJob(r.body.id);
  t.ok(job.state === 'failed' && /canary/.test(job.message) && job.done + job.failed <= 5, 'a failing canary stops the job', JSON.stringify(job));

  // Down migration round trip on the good tenants.
  const good = ids.filter((id) => !bad.has(id)).slice(0, 20);
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 1, tenants: good });
  job = await waitJob(r.body.id);
  t.is([job.state, job.done], ['succeeded', 20], 'down to version 1 succeeds');
  let back = await q(good[0], "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'price'");
  t.is(back.response.result.rows[0][0].value, '0', 'the down step removed the column');
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 3, tenants: good });
  job = await waitJob(r.body.id);
  t.is([job.state, job.done], ['succeeded', 20], 'and up again to 3');
  back = await q(good[0], 'SELECT sku FROM items ORDER BY id');
  t.is(back.response.result.rows.map((x) => x[0].value), [`${good[0]}-a`, `${good[0]}-b`], 'data survived the round trip');

  // Bad requests.
  t.is((await d.admin('POST', '/v1/migrations', { schema: 'nope' })).status, 404, 'unknown schema: 404');
  t.is((await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 9 })).body.code, 'TARGET_OUT_OF_RANGE', 'target out of range: 400');
  t.is((await d.admin('POST', '/v1/migrations', '{"schema":')).status, 400, 'malformed body: 400');
  t.is((await d.admin('GET', '/v1/migrations/999')).status, 404, 'unknown job: 404');
  file('0004_nodown.sql', 'CREATE TABLE extra (x);\n');
  const nd = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 0, tenants: good });
  t.ok(nd.status === 400 && nd.body.code === 'NO_DOWN_MIGRATION' && /0004_nodown\.sql/.test(nd.body.message),
    'a down plan with a missing .down.sql is refused before anything runs', nd.text);

  // An applied file that was edited is refused, naming the file.
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 4, tenants: [good[0]] });
  job = await waitJob(r.body.id);
  t.is(job.state, 'succeeded', 'step 4 applied to one tenant');
  file('0004_nodown.sql', 'CREATE TABLE extra (x, y);\n');
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 4, tenants: [good[1]] });
  t.ok(r.status === 409 && r.body.code === 'SCHEMA_EDITED' && /0004_nodown\.sql was edited/.test(r.body.message),
    'a rollout is refused while an applied file is edited, naming the file', r.text);
  r = await d.admin('POST', '/v1/tenants', { id: 'newcomer', schema: 'fleet' });
  t.is(r.status, 409, 'creating a tenant on the edited schema is refused too');
  file('0004_nodown.sql', 'CREATE TABLE extra (x);\n');
  r = await d.admin('POST', '/v1/migrations', { schema: 'fleet', to: 4, tenants: [good[1]] });
  job = await waitJob(r.body.id);
  t.is(job.state, 'succeeded', 'restoring the file resolves it');

  // kill -9 in the middle of a rollout, then restart: it resumes and finishes.
  const d2 = await startDaemon(['--schemas', schemas]);
  try {
    file('0004_nodown.sql', 'CREATE TABLE extra (x);\n');
    const M = 200;
    const ids2 = Array.from({ length: M }, (_, i) => `k${i}`);
    const schemas2 = join(d2.tmp, 's2');
    mkdirSync(join(schemas2, 'ks'), { recursive: true });
    writeFileSync(join(schemas2, 'ks', '0001_a.sql'), 'CREATE TABLE a (x);\n');
    await d2.stop();
    d2.args = ['--schemas', schemas2];
    await d2.start();
    for (let i = 0; i < M; i += 50)
      await Promise.all(ids2.slice(i, i + 50).map((id) => d2.admin('POST', '/v1/tenants', { id, schema: 'ks' })));
    writeFileSync(join(schemas2, 'ks', '0002_b.sql'), 'CREATE TABLE b (y);\nINSERT INTO b VALUES (1);\n');
    await d2.stop();
    process.env.TENANTD_CRASH_AT = 'rollout-tenant:60';
    await d2.start();
    delete process.env.TENANTD_CRASH_AT;
    const started = await d2.admin('POST', '/v1/migrations', { schema: 'ks', parallel: 4 }).catch((e) => ({ status: String(e) }));
    t.is(started.status, 202, 'the rollout that will be interrupted is accepted');
    const ex = await Promise.race([d2.exited, sleep(120000).then(() => ({ code: 'still running after 120 s' }))]);
    t.is(ex.code, 137, 'the daemon died in the middle of the rollout');
    await d2.start();
    let j2 = null;
    for (let i = 0; i < 2400; i++) {
      const rr = await d2.admin('GET', '/v1/migrations/1');
      if (rr.status === 200 && rr.body.state !== 'running' && rr.body.state !== 'planning') { j2 = rr.body; break; }
      await sleep(50);
    }
    t.ok(j2 && j2.state === 'succeeded', 'after restart the rollout resumed and finished', JSON.stringify(j2));
    const list = (await d2.admin('GET', '/v1/tenants?limit=1000')).body.tenants;
    t.ok(list.length === M && list.every((x) => x.version === 2), 'every tenant is at version 2 in the catalog');
    let clean = 0;
    for (const id of ids2) {
      const rr = await fetch(`${d2.url}/t/${id}/v2/pipeline`, {
        method: 'POST',
        body: JSON.stringify({ requests: [
          { type: 'execute', stmt: { sql: 'PRAGMA user_version' } },
          { type: 'execute', stmt: { sql: 'SELECT max(version), count(*) FROM _tenantd_migrations' } },
          { type: 'execute', stmt: { sql: 'SELECT count(*) FROM b' } }, { type: 'close' }] }),
      });
      const res = (await rr.json()).results;
      const v = res.slice(0, 3).map((x) => (x.type === 'ok' ? x.response.result.rows[0].map((c) => c.value).join(',') : x.error.message));
      if (v[0] === '2' && v[1] === '2,2' && v[2] === '1') clean++;
      else if (clean === 0) console.log(`# ${id}: ${JSON.stringify(v)}`);
    }
    t.is(clean, M, 'every file: user_version, record and data agree (step applied exactly once)');
  } finally {
    await d2.cleanup(t.failed > 0);
  }
});
