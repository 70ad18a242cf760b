// Export a tenant as a SQLite file and as a SQL dump; both open in the
// sqlite3 shell with the same content.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sqlite3 = (file, sql) => execFileSync('sqlite3', [file, sql], { encoding: 'utf8' }).trim();

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes']);
  keep(d);
  await d.admin('POST', '/v1/tenants', { id: 'alice' });
  const db = createClient({ url: `${d.url}/t/alice/` });
  await db.execute('CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB)');
  const blob = new Uint8Array(256).map((_, i) => i);
  await db.batch([
    { sql: 'INSERT INTO notes (title, body) VALUES (?, ?)', args: ['ünïcödé ✓', 'line one\nline two\r\n"quoted" \'single\''] },
    { sql: 'INSERT INTO notes (title, body) VALUES (?, ?)', args: ['big', 'x'.repeat(300000)] },
    { sql: 'INSERT INTO files (name, data) VALUES (?, ?)', args: ['all bytes', blob] },
    { sql: 'INSERT INTO files (name, data) VALUES (?, ?)', args: ['empty', new Uint8Array(0)] },
  ], 'write');
  // A write that is still only in the WAL must be in the export too.
  await db.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['last write'] });

  const r = await fetch(`${d.url}/v1/tenants/alice/export`);
  t.is(r.status, 200, 'export answers 200');
  t.is(r.headers.get('content-type'), 'application/vnd.sqlite3', 'as application/vnd.sqlite3');
  t.ok(/attachment; filename="alice\.db"/.test(r.headers.get('content-disposition') || ''), 'with a filename');
  const file = join(d.tmp, 'alice.db');
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  t.is(sqlite3(file, 'PRAGMA integrity_check'), 'ok', 'the exported file passes integrity_check in the sqlite3 shell');
  t.is(sqlite3(file, 'PRAGMA journal_mode'), 'delete', 'it stands alone (no WAL needed)');
  t.is(sqlite3(file, 'SELECT count(*) FROM notes'), '3', 'it has every committed row, the last write included');
  t.is(sqlite3(file, "SELECT hex(data) FROM files WHERE name = 'all bytes'"),
    Buffer.from(blob).toString('hex').toUpperCase(), 'blobs are byte-identical');
  t.is(sqlite3(file, "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'two'"), '1', 'full-text search works in the file');
  t.is(sqlite3(file, 'PRAGMA user_version'), '3', 'the schema version travels with it');

  const r2 = await fetch(`${d.url}/v1/tenants/alice/export?format=sql`);
  t.is(r2.status, 200, 'SQL export answers 200');
  const dump = await r2.text();
  t.ok(/^PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;/.test(dump) && /COMMIT;\n?$/.test(dump), 'the dump is one transaction');
  const loaded = join(d.tmp, 'from-dump.db');
  execFileSync('sqlite3', [loaded], { input: dump });
  t.is(sqlite3(loaded, 'PRAGMA integrity_check'), 'ok', 'the dump loads into the sqlite3 shell');
  for (const q of ['SELECT title, body FROM notes ORDER BY id', 'SELECT name, hex(data) FROM files ORDER BY id',
    "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'two'", 'PRAGMA user_version',
    'SELECT version, name, checksum FROM _tenantd_migrations ORDER BY version'])
    t.is(sqlite3(loaded, q), sqlite3(file, q), `same answer from both formats: ${q}`);

  // Export while a writer commits continuously to the same tenant.
  await d.admin('POST', '/v1/tenants', { id: 'bank', schema: null });
  const bank = createClient({ url: `${d.url}/t/bank/` });
  await bank.batch(['CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, pad BLOB)',
    "INSERT INTO acct SELECT value, 1000, randomblob(4000) FROM generate_series(1, 2000)"], 'write').catch(async () => {
    // generate_series is not in every build: fill with a recursive CTE.
    await bank.batch(['CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, pad BLOB)',
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 2000) INSERT INTO acct SELECT x, 1000, randomblob(4000) FROM c'], 'write');
  });
  let stop = false, commits = 0, duringExport = 0, exporting = false;
  const writer = (async () => {
    while (!stop) {
      const a = 1 + Math.floor(Math.random() * 2000), b = 1 + Math.floor(Math.random() * 2000);
      await bank.batch([{ sql: 'UPDATE acct SET bal = bal - 7 WHERE id = ?', args: [a] },
        { sql: 'UPDATE acct SET bal = bal + 7 WHERE id = ?', args: [b] }], 'write');
      commits++;
      if (exporting) duringExport++;
    }
  })();
  while (commits < 5) await sleep(5);
  const bankFile = join(d.tmp, 'bank.db');
  let sums = [];
  for (let round = 0; round < 3; round++) {
    exporting = true;
    const rb = await fetch(`${d.url}/v1/tenants/bank/export`);
    writeFileSync(bankFile, Buffer.from(await rb.arrayBuffer()));
    exporting = false;
    sums.push(sqlite3(bankFile, 'SELECT sum(bal) FROM acct'));
  }
  stop = true;
  await writer;
  t.is(sums, ['2000000', '2000000', '2000000'], 'exports taken while a writer moves money keep the invariant (sum of balances)');
  console.log(`# writer commits during the three exports: ${duringExport} (of ${commits} in all)`);
  t.ok(commits > 5, 'the writer kept committing across the exports');
  bank.close();

  t.is((await d.admin('GET', '/v1/tenants/ghost/export')).status, 404, 'exporting an unknown tenant: 404');
  t.is((await d.admin('GET', '/v1/tenants/alice/export?format=csv')).status, 400, 'an unknown format: 400');
  t.is((await d.admin('GET', '/v1/tenants/..%2f/export')).status, 400, 'a bad id: 400');
  db.close();
});
