// Lazy creation: POST /v1/tenants writes only the catalog record
// ("materialized": false); the database file is made on the first open.
// Checks what a user would notice: no file until the first query, then the
// schema's tables at the right version; concurrent creates (group commit)
// each get their own answer; delete, check, export, import, rollouts and
// backup/restore all understand a tenant that has no file yet; a file that
// vanished after it was made is an error, never an empty tenant.
import { existsSync, mkdirSync, cpSync, writeFileSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { run, startDaemon, TENANTD, TOP_SRCDIR } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sqlite3 = (file, sql) => execFileSync('sqlite3', [file, sql], { encoding: 'utf8' }).trim();

// handle_path() in cache.c: DATA/tenants/<shard>/<id>.db, the shard from
// tid_shard() in common/tid.c (FNV-1a, folded to 8 bits).
const shard = (id) => {
  let h = 2166136261;
  for (const c of Buffer.from(id)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return ((h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & 0xff) >>> 0;
};
const pathOf = (data, id) => join(data, 'tenants', shard(id).toString(16).padStart(2, '0'), `${id}.db`);

await run(async (t, keep) => {
  const d0 = await startDaemon([]);            // only to get a temp dir
  const schemas = join(d0.tmp, 'schemas');
  await d0.cleanup(false);
  cpSync(join(TOP_SRCDIR, 'schemas', 'notes'), join(schemas, 'notes'), { recursive: true });
  mkdirSync(join(schemas, 'lazy'));
  const file = (name, sql) => writeFileSync(join(schemas, 'lazy', name), sql);
  file('0001_items.sql', 'CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL);\n');

  const d = await startDaemon(['--schemas', schemas, '--default-schema', 'notes']);
  keep(d);
  const q = async (data, tenant, sql, url = d.url) => {
    const r = await fetch(`${url}/t/${tenant}/v2/pipeline`, {
      method: 'POST',
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }] }),
    });
    const body = await r.json();
    return { status: r.status, body, rows: body.results ? body.results[0].response?.result?.rows : undefined };
  };
  const tables = async (tenant, url) => (await q(null, tenant,
    "SELECT ifnull(group_concat(name, ','), '') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)", url)).rows[0][0].value;
  const version = async (tenant, url) => Number((await q(null, tenant, 'PRAGMA user_version', url)).rows[0][0].value);

  // --- create: a record, no file ---------------------------------------
  let r = await d.admin('POST', '/v1/tenants', { id: 'a1' });
  t.ok(r.status === 201 && r.body.materialized === false && r.body.version === 3,
    'create answers 201 at the schema\'s version with "materialized": false', r.text);
  t.ok(!existsSync(pathOf(d.data, 'a1')) && !existsSync(join(d.data, 'tenants', shard('a1').toString(16).padStart(2, '0'))),
    'no file (nor shard folder) exists for it yet');
  r = await d.admin('GET', '/v1/tenants/a1');
  t.is([r.status, r.body.materialized], [200, false], 'GET shows "materialized": false');
  r = await d.admin('GET', '/v1/tenants?prefix=a1');
  t.is(r.body.tenants.map((x) => x.materialized), [false], 'so does the list');
  r = await d.admin('GET', '/v1/tenants/a1/check');
  t.ok(r.status === 200 && r.body.ok === true && /not opened yet/.test(r.body.note) && r.body.file_version === null,
    'check says ok: not opened yet', r.text);
  const ctl = spawnSync(join(TOP_SRCDIR, 'admin-cli', 'tenantctl'), ['-D', d.data, 'check', 'a1'], { encoding: 'utf8' });
  t.ok(ctl.status === 0 && /^a1: ok \(not opened yet/.test(ctl.stdout), 'tenantctl check says so too', ctl.stdout + ctl.stderr);

  // --- the first query makes the file ------------------------------------
  t.is(await tables('a1'), '_tenantd_migrations,note_tags,notes,notes_fts,notes_fts_config,notes_fts_data,notes_fts_docsize,notes_fts_idx,tags',
    'the first query finds the schema\'s tables');
  t.is(await version('a1'), 3, 'at the version the create promised');
  t.ok(existsSync(pathOf(d.data, 'a1')), 'the file now exists where handle_path() puts it');
  r = await d.admin('GET', '/v1/tenants/a1');
  t.is([r.body.materialized, r.body.version], [true, 3], 'and the record says materialized');
  r = await d.admin('GET', '/v1/tenants/a1/check');
  t.ok(r.body.ok === true && r.body.file_version === 3 && r.body.note === null, 'check now checks the file', r.text);
  t.is(readdirSync(join(d.data, 'tmp')).length, 0, 'nothing is left in DATA/tmp');

  // --- concurrent creates: group commit, one answer each -------------------
  const ids = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}`);
  const reqs = [...ids, ...Array(20).fill('dup')];
  const answers = await Promise.all(reqs.map((id) => d.admin('POST', '/v1/tenants', { id, schema: null })));
  const mine = answers.slice(0, 200);
  t.ok(mine.every((a, i) => a.status === 201 && a.body.id === ids[i] && a.body.version === 0 && a.body.schema === null),
    '200 concurrent creates all get 201 with their own tenant', JSON.stringify(mine.find((a, i) => a.status !== 201 || a.body.id !== ids[i])));
  const dups = answers.slice(200);
  t.is([dups.filter((a) => a.status === 201).length, dups.filter((a) => a.status === 409 && a.body.code === 'TENANT_EXISTS').length],
    [1, 19], '20 concurrent creates of one id: exactly one 201, the rest 409 TENANT_EXISTS');
  r = await d.admin('GET', '/v1/tenants?prefix=c&limit=1000');
  t.is(r.body.tenants.length, 200, 'all 200 are in the catalog');
  t.ok(ids.every((id) => !existsSync(pathOf(d.data, id))), 'none has a file');
  t.is(await tables('c123'), '', 'a tenant without schema opens as an empty database');
  t.ok(existsSync(pathOf(d.data, 'c123')), 'made on that first open');
  r = await d.admin('POST', '/v1/tenants', { id: 'c123' });
  t.is([r.status, r.body.code], [409, 'TENANT_EXISTS'], 'creating an existing id is 409');

  // --- delete of a tenant never opened -----------------------------------
  r = await d.admin('DELETE', '/v1/tenants/c001');
  t.is(r.status, 200, 'delete of a tenant never opened: 200');
  t.is((await d.admin('GET', '/v1/tenants/c001')).status, 404, 'it is gone');
  t.is((await q(null, 'c001', 'SELECT 1')).status, 404, 'and its queries are 404, no file is made');
  t.ok(!existsSync(pathOf(d.data, 'c001')), 'no file exists');

  // --- export without making the file ------------------------------------
  await d.admin('POST', '/v1/tenants', { id: 'e1' });
  let x = await fetch(`${d.url}/v1/tenants/e1/export`);
  const e1 = join(d.tmp, 'e1.db');
  writeFileSync(e1, Buffer.from(await x.arrayBuffer()));
  t.is(x.status, 200, 'export of a tenant never opened: 200');
  t.is([sqlite3(e1, 'PRAGMA integrity_check'), sqlite3(e1, 'PRAGMA journal_mode'), sqlite3(e1, 'PRAGMA user_version')],
    ['ok', 'delete', '3'], 'the file opens in sqlite3: integrity ok, standalone, at version 3');
  x = await fetch(`${d.url}/v1/tenants/a1/export`);
  const a1 = join(d.tmp, 'a1.db');
  writeFileSync(a1, Buffer.from(await x.arrayBuffer()));
  const schemaSql = "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_schema ORDER BY name";
  t.is(sqlite3(e1, schemaSql), sqlite3(a1, schemaSql), 'with the same schema as an exported tenant whose file was made at that version');
  t.is(sqlite3(e1, 'SELECT group_concat(version) FROM _tenantd_migrations'), '1,2,3', 'and the same migration record');
  x = await fetch(`${d.url}/v1/tenants/e1/export?format=sql`);
  const dump = await x.text();
  const fromSql = join(d.tmp, 'e1-sql.db');
  execFileSync('sqlite3', [fromSql], { input: dump });
  t.ok(x.status === 200 && sqlite3(fromSql, 'PRAGMA user_version') === '3' && sqlite3(fromSql, schemaSql) === sqlite3(a1, schemaSql),
    'format=sql: the dump loads into sqlite3 with the schema and version');
  r = await d.admin('GET', '/v1/tenants/e1');
  t.ok(r.body.materialized === false && !existsSync(pathOf(d.data, 'e1')), 'exporting made no file');
  t.is(readdirSync(join(d.data, 'tmp')).length, 0, 'and left nothing in DATA/tmp');

  // --- import over a tenant never opened -----------------------------------
  await d.admin('POST', '/v1/tenants', { id: 'i1' });
  x = await fetch(`${d.url}/v1/tenants/i1/import?replace=true`, { method: 'PUT', body: readFileSync(a1) });
  const ib = await x.json();
  t.ok(x.status === 200 && ib.materialized === true, 'import replacing a tenant never opened: 200, "materialized": true', JSON.stringify(ib));
  t.ok(existsSync(pathOf(d.data, 'i1')) && (await d.admin('GET', '/v1/tenants/i1')).body.materialized === true,
    'the file is in place and the record says so');

  // --- a rollout across tenants never opened -------------------------------
  const rs = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  for (const id of rs) await d.admin('POST', '/v1/tenants', { id, schema: 'lazy' });
  for (const id of rs.slice(0, 5)) await q(null, id, `INSERT INTO items (sku) VALUES ('${id}')`);
  await d.admin('POST', '/v1/tenants', { id: 'm1', schema: 'lazy' });   // left out of the rollout
  file('0002_price.sql', 'ALTER TABLE items ADD COLUMN price INTEGER NOT NULL DEFAULT 0;\n');
  r = await d.admin('POST', '/v1/migrations', { schema: 'lazy', tenants: rs });
  t.is(r.status, 202, 'a rollout of the schema starts');
  let job;
  for (let i = 0; i < 1200; i++) {
    job = (await d.admin('GET', `/v1/migrations/${r.body.id}`)).body;
    if (['succeeded', 'failed', 'completed_with_errors'].includes(job.state)) break;
    await sleep(50);
  }
  t.is([job.state, job.done, job.failed], ['succeeded', 20, 0], 'it succeeds on all 20, 15 of them never opened');
  r = await d.admin('GET', '/v1/tenants?prefix=r&limit=100');
  t.ok(r.body.tenants.every((x) => x.version === 2), 'every record is at version 2');
  t.is(r.body.tenants.filter((x) => !x.materialized).map((x) => x.id), rs.slice(5), 'the 15 never opened still have no file');
  t.ok(rs.slice(5).every((id) => !existsSync(pathOf(d.data, id))), 'the rollout made none of their files');
  r = await d.admin('GET', '/v1/schemas/lazy');
  t.is(r.body.tenants_by_version, { 0: 0, 1: 1, 2: 20 }, 'the (schema, version) index agrees (m1 is still at 1)');
  t.is([(await d.admin('GET', '/v1/tenants/r02/check')).body.file_version, await version('r02')], [2, 2],
    'an opened tenant was migrated in its file');
  t.is((await q(null, 'r02', 'SELECT sku, price FROM items')).rows.map((row) => [row[0].value, row[1].value]), [['r02', '0']],
    'and kept its rows');
  t.is([await version('r10'), await tables('r10')], [2, '_tenantd_migrations,items'], 'a tenant never opened is made at the new version');
  t.is((await q(null, 'r10', 'SELECT price FROM items')).status, 200, 'with the new column');
  r = await d.admin('GET', '/v1/tenants/m1');
  t.is([r.body.version, r.body.materialized], [1, false], 'a tenant left out of the rollout stays at version 1, no file');
  t.is([await version('m1'), (await q(null, 'm1', 'SELECT price FROM items')).status], [2, 200],
    'its first open makes it at 1 and migrates it on to 2');
  r = await d.admin('GET', '/v1/tenants/m1');
  t.is([r.body.version, r.body.materialized, (await d.admin('GET', '/v1/tenants/m1/check')).body.file_version], [2, true, 2],
    'and the catalog follows');

  // --- backup and restore with both kinds ---------------------------------
  const bdir = join(d.tmp, 'backup');
  r = await d.admin('POST', '/v1/backups', { dir: bdir });
  let b;
  for (let i = 0; i < 1200; i++) {
    b = (await d.admin('GET', `/v1/backups/${r.body.id}`)).body;
    if (b.state !== 'running') break;
    await sleep(50);
  }
  const all = (await d.admin('GET', '/v1/tenants?limit=1000')).body.tenants;
  const unmade = all.filter((x) => !x.materialized).map((x) => x.id).sort();
  t.ok(b.state === 'succeeded' && b.done === all.length && b.unmaterialized === unmade.length && b.skipped === 0,
    'the backup succeeds and counts the tenants never opened', JSON.stringify(b));
  const manifest = JSON.parse(readFileSync(join(bdir, 'MANIFEST.json'), 'utf8'));
  t.is([manifest.unmaterialized.slice().sort(), manifest.skipped], [unmade, []],
    'the manifest lists them as unmaterialized, not as skipped');
  t.ok(manifest.files.some((f) => f.id === 'a1') && !manifest.files.some((f) => f.id === 'e1'), 'and has files only for the others');
  const data2 = join(d.tmp, 'restored');
  let res = spawnSync(TENANTD, ['--restore', bdir, '-D', data2], { encoding: 'utf8' });
  t.ok(res.status === 0 && new RegExp(`^restored ${all.length} tenants`).test(res.stdout), 'tenantd --restore verifies and restores all', res.stdout + res.stderr);
  const d2 = await startDaemon(['-D', data2, '--schemas', schemas, '--default-schema', 'notes']);
  try {
    const all2 = (await d2.admin('GET', '/v1/tenants?limit=1000')).body.tenants;
    t.is(all2.map((x) => [x.id, x.version, x.materialized]), all.map((x) => [x.id, x.version, x.materialized]),
      'the restored catalog has every tenant, with its version and materialized flag');
    t.ok(!existsSync(pathOf(data2, 'e1')) && existsSync(pathOf(data2, 'a1')), 'files only for the tenants that had one');
    t.ok((await d2.admin('GET', '/v1/tenants/e1/check')).body.ok === true, 'a restored tenant never opened checks ok');
    t.is([await version('e1', d2.url), (await d2.admin('GET', '/v1/tenants/e1')).body.materialized], [3, true],
      'and is made at its version on its first open');
    t.is((await q(null, 'r02', 'SELECT sku FROM items', d2.url)).rows[0][0].value, 'r02', 'a restored tenant with a file has its rows');
  } finally {
    await d2.cleanup(t.failed > 0);
  }
  // A tenant made after the catalog copy was taken: its record in the copy
  // says unmaterialized, but its file is in the backup.  Simulated with
  // e1's export as its file.
  const m2 = JSON.parse(JSON.stringify(manifest));
  m2.unmaterialized = m2.unmaterialized.filter((id) => id !== 'e1');
  const e1file = join(bdir, 'tenants', shard('e1').toString(16).padStart(2, '0'), 'e1.db');
  mkdirSync(join(e1file, '..'), { recursive: true });
  writeFileSync(e1file, readFileSync(e1));
  m2.files.push({ id: 'e1', bytes: readFileSync(e1).length, sha256: createHash('sha256').update(readFileSync(e1)).digest('hex') });
  writeFileSync(join(bdir, 'MANIFEST.json'), JSON.stringify(m2));
  const data3 = join(d.tmp, 'restored3');
  res = spawnSync(TENANTD, ['--restore', bdir, '-D', data3], { encoding: 'utf8' });
  t.ok(res.status === 0 && existsSync(pathOf(data3, 'e1')), 'a file for a tenant the catalog copy calls unmaterialized is restored', res.stderr);
  const d3 = await startDaemon(['-D', data3, '--schemas', schemas, '--default-schema', 'notes']);
  try {
    r = await d3.admin('GET', '/v1/tenants/e1');
    t.is([r.body.materialized, r.body.version], [true, 3], 'and its record is marked materialized at the file\'s version');
  } finally {
    await d3.cleanup(t.failed > 0);
  }
  // A manifest that calls a tenant with a file "unmaterialized" is refused.
  manifest.unmaterialized.push('a1');
  writeFileSync(join(bdir, 'MANIFEST.json'), JSON.stringify(manifest));
  res = spawnSync(TENANTD, ['--restore', bdir, '-D', join(d.tmp, 'restored2')], { encoding: 'utf8' });
  t.ok(res.status === 1 && /a1: listed as never opened/.test(res.stderr) && !existsSync(join(d.tmp, 'restored2')),
    'a manifest that disagrees with the catalog fails the restore', res.stderr);

  // --- a file that vanished after it was made is an error -----------------
  await d.admin('POST', '/v1/tenants', { id: 'lost' });
  await q(null, 'lost', "INSERT INTO notes (title) VALUES ('precious')");
  await d.stop();
  for (const sfx of ['', '-wal', '-shm']) rmSync(pathOf(d.data, 'lost') + sfx, { force: true });
  await d.start();
  r = await q(null, 'lost', 'SELECT count(*) FROM notes');
  t.ok(r.status === 500 && r.body.code === 'TENANT_UNAVAILABLE' && /file is missing/.test(r.body.message),
    'a tenant whose file vanished fails with a clear missing-file error', JSON.stringify(r.body));
  t.ok(!existsSync(pathOf(d.data, 'lost')), 'no empty file is made in its place');
  r = await d.admin('GET', '/v1/tenants/lost/check');
  t.ok(r.body.ok === false && r.body.problems.length > 0, 'check reports it', r.text);
});
