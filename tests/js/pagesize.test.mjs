// A schema's first migration may set the page size of the files made for
// it (PRAGMA page_size): tenantd sets it before the file holds anything,
// where SQLite would otherwise ignore it.  Anywhere else it is refused
// when the schema loads, with a message that says why.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon } from './lib.mjs';

const sqlite3 = (file, sql) => execFileSync('sqlite3', [file, sql], { encoding: 'utf8' }).trim();

await run(async (t, keep) => {
  const d0 = await startDaemon([]);          // only to get a temp dir
  const schemas = join(d0.tmp, 'schemas');
  await d0.cleanup(false);
  const set = (name, files) => {
    mkdirSync(join(schemas, name), { recursive: true });
    for (const [f, sql] of Object.entries(files)) writeFileSync(join(schemas, name, f), sql);
  };
  set('small', { '0001_kv.sql': '-- many small tenants\nPRAGMA page_size = 1024;\nCREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);\n',
    '0002_idx.sql': 'CREATE INDEX kv_v ON kv (v);\n' });
  set('plain', { '0001_kv.sql': 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);\n' });
  set('late', { '0001_kv.sql': 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);\n',
    '0002_pages.sql': 'PRAGMA page_size = 1024;\n' });
  set('odd', { '0001_kv.sql': 'PRAGMA page_size = 3000;\nCREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);\n' });

  const d = await startDaemon(['--schemas', schemas]);
  keep(d);
  const q = async (id, sql) => {
    const r = await fetch(`${d.url}/t/${id}/v2/pipeline`, { method: 'POST', body: JSON.stringify({
      requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }] }) });
    const b = await r.json();
    return b.results[0].type === 'ok' ? b.results[0].response.result.rows.map((row) => row.map((v) => v.value)) : b.results[0];
  };

  t.is((await d.admin('POST', '/v1/tenants', { id: 's1', schema: 'small' })).status, 201, 'a tenant of the schema with a page size is created');
  t.is((await d.admin('POST', '/v1/tenants', { id: 'p1', schema: 'plain' })).status, 201, 'a tenant of a schema without one is created');
  t.is(await q('s1', 'PRAGMA page_size'), [['1024']], "its file is made with the first migration's page size");
  t.is(await q('p1', 'PRAGMA page_size'), [['4096']], "a schema without PRAGMA page_size keeps SQLite's default");
  t.is(await q('s1', 'PRAGMA journal_mode'), [['wal']], 'the file is in WAL mode as every tenant file');
  t.is(await q('s1', 'SELECT version FROM _tenantd_migrations ORDER BY version'), [['1'], ['2']],
    'both migrations are recorded');

  // Enough rows to span many 1 KiB pages, then export and open in the shell.
  const rows = [];
  for (let i = 0; i < 50; i++) rows.push(`(${i}, '${'v'.repeat(200)}${i}')`);
  await q('s1', `INSERT INTO kv VALUES ${rows.join(',')}`);
  const r = await fetch(`${d.url}/v1/tenants/s1/export`);
  t.is(r.status, 200, 'the tenant exports');
  const file = join(d.tmp, 's1.db');
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  t.is(sqlite3(file, 'PRAGMA page_size'), '1024', 'the exported file keeps its 1 KiB pages');
  t.is(sqlite3(file, 'PRAGMA integrity_check'), 'ok', 'and passes integrity_check in the sqlite3 shell');
  t.is(sqlite3(file, 'SELECT count(*) FROM kv'), '50', 'with every row');
  t.ok(Number(sqlite3(file, 'PRAGMA page_count')) > 10, 'spread over many small pages');

  // Refused where it cannot take effect, or with a size SQLite would ignore.
  const schemasNow = (await d.admin('GET', '/v1/schemas')).body.schemas.map((s) => s.name).sort();
  t.is(schemasNow, ['plain', 'small'], 'the schemas that set a page size later than 0001, or a bad one, are not loaded');
  const log = readFileSync(d.log, 'utf8');
  t.ok(/schema late: .*0002_pages\.sql line 1: PRAGMA page_size .*first migration/.test(log),
    'the log says why: page size only in the first migration');
  t.ok(/schema odd: .*0001_kv\.sql line 1: PRAGMA page_size .*power of two from 512 to 65536/.test(log),
    'the log says why: not a power of two from 512 to 65536');
  const rl = await d.admin('POST', '/v1/tenants', { id: 'l1', schema: 'late' });
  t.is([rl.status, rl.body.code], [404, 'SCHEMA_NOT_FOUND'], 'a tenant of a refused schema: 404 SCHEMA_NOT_FOUND');
  t.is(await q('p1', 'SELECT count(*) FROM kv'), [['0']], 'the daemon keeps serving');
});
