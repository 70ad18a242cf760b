// Hostile SQL run as a tenant: each statement is refused or bounded, the
// daemon keeps serving, and no other file is touched.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes', '--statement-timeout', '1000',
    '--max-tenant-size', '2000000', '--max-response', '1000000']);
  keep(d);
  await d.admin('POST', '/v1/tenants', { id: 'mallory' });
  await d.admin('POST', '/v1/tenants', { id: 'victim' });
  const v = createClient({ url: `${d.url}/t/victim/` });
  await v.execute("INSERT INTO notes (title) VALUES ('secret')");
  const victimFile = execFileSync('find', [d.data + '/tenants', '-name', 'victim.db'], { encoding: 'utf8' }).trim();
  const catalog = `${d.data}/catalog/data.mdb`;
  const shaOf = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const victimBefore = shaOf(victimFile);
  const m = createClient({ url: `${d.url}/t/mallory/` });

  const hostile = [
    [`ATTACH DATABASE '${victimFile}' AS v`, 'attach another tenant by path'],
    ["ATTACH DATABASE '/etc/passwd' AS p", 'attach /etc/passwd'],
    [`ATTACH '${catalog}' AS c`, 'attach the catalog'],
    ["ATTACH ':memory:' AS mem", 'attach an in-memory database'],
    ['DETACH DATABASE main', 'detach'],
    [`VACUUM INTO '${d.tmp}/x.db'`, 'VACUUM INTO a path'],
    ["VACUUM INTO '/tmp/tenantd-escape.db'", 'VACUUM INTO /tmp'],
    ["SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", 'load_extension'],
    ['PRAGMA writable_schema = ON', 'writable_schema on'],
    ["PRAGMA journal_mode = DELETE", 'journal_mode change'],
    ['PRAGMA locking_mode = EXCLUSIVE', 'locking_mode exclusive'],
    ['PRAGMA query_only = 0', 'query_only off'],
    ['PRAGMA user_version = 99', 'user_version'],
    ['PRAGMA max_page_count = 99999999', 'raising the size quota'],
    ["PRAGMA temp_store_directory = '/tmp'", 'temp_store_directory'],
    ['PRAGMA database_list', 'database_list (reveals paths)'],
    ['PRAGMA mmap_size = 1073741824', 'mmap_size'],
    ['PRAGMA cache_size = -10000000', 'a huge page cache'],
    ['DELETE FROM _tenantd_migrations', 'rewriting the migration record'],
    ['DROP TABLE _tenantd_migrations', 'dropping the migration record'],
    ["UPDATE sqlite_schema SET sql = 'x'", 'writing sqlite_schema'],
    ['WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', 'a recursive CTE that never ends'],
    ["SELECT zeroblob(2000000000)", 'a blob of the maximum size'],
    ["SELECT length(randomblob(1000000000))", 'a huge random blob'],
    ['SELECT ' + '('.repeat(500) + '1' + ')'.repeat(500), 'a deep expression'],
    ['SELECT 1' + ' UNION SELECT 1'.repeat(600), 'a huge compound select'],
    ['WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000) SELECT x, randomblob(100) FROM c', 'a result far over --max-response'],
    ['INSERT INTO notes (title, body) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) SELECT x, randomblob(1000) FROM c', 'filling past the size quota'],
    ['CREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000) SELECT zeroblob(1000) AS b FROM c', 'another way past the quota'],
    ["SELECT fts3_tokenizer('simple')", 'fts3_tokenizer'],
    ["SELECT * FROM pragma_database_list", 'pragma_database_list as a table'],
    ["SELECT readfile('/etc/passwd')", 'readfile'],
    ["SELECT writefile('/tmp/tenantd-escape.txt', 'x')", 'writefile'],
  ];
  for (const [sql, what] of hostile) {
    let outcome;
    try {
      await m.execute(sql);
      outcome = 'ran';
    } catch (e) {
      outcome = `${e.code}: ${e.message}`;
    }
    t.ok(outcome !== 'ran', `refused or bounded: ${what}`, `${outcome.slice(0, 160)}`);
  }
  const p = await m.execute("SELECT length(printf('%.*c', 100000000, 'x')) AS n");
  t.ok(p.rows[0].n < 20000000, `a 100 MB printf is bounded (${p.rows[0].n} bytes)`);
  t.ok(hostile.length + 1 >= 30, `${hostile.length + 1} hostile statements tried`);

  const codes = async (sql) => { try { await m.execute(sql); return 'ran'; } catch (e) { return e.code; } };
  t.is(await codes('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'), 'QUERY_TIMEOUT',
    'a runaway query ends with QUERY_TIMEOUT');
  // The size quota, on a daemon whose statement timeout is long enough
  // that only the quota stops the fill, however slow the machine (under
  // ASan on a busy one, 2 MB of inserts took longer than 1 s).
  const q = await startDaemon(['--default-schema', 'notes', '--statement-timeout', '60000',
    '--max-tenant-size', '2000000']);
  keep(q);
  await q.admin('POST', '/v1/tenants', { id: 'filler' });
  const f = createClient({ url: `${q.url}/t/filler/` });
  const fcodes = async (sql) => { try { await f.execute(sql); return 'ran'; } catch (e) { return e.code; } };
  t.is(await fcodes('INSERT INTO notes (title, body) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) SELECT x, randomblob(1000) FROM c'),
    'SQLITE_FULL', 'filling past the quota ends with SQLITE_FULL');
  t.is((await f.execute("INSERT INTO notes (title) VALUES ('still works')")).rowsAffected, 1, 'small writes still work after hitting the quota');
  t.is(shaOf(victimFile), victimBefore, "the other tenant's file is byte-identical");
  t.is((await v.execute('SELECT title FROM notes')).rows[0].title, 'secret', 'and serves its data');
  t.ok(!existsSync(`${d.tmp}/x.db`) && !existsSync('/tmp/tenantd-escape.db') && !existsSync('/tmp/tenantd-escape.txt'),
    'no file was written outside the tenant');
  t.is((await d.admin('GET', '/health')).status, 200, 'the daemon kept serving');
  m.close(); v.close();
});
