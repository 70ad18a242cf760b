// The official @libsql/client against tenantd: what a SaaS backend does.
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes']);
  keep(d);

  t.is((await d.admin('POST', '/v1/tenants', { id: 'alice' })).status, 201, 'create tenant alice');
  t.is((await d.admin('POST', '/v1/tenants', { id: 'bob', schema: null })).status, 201,
    'create tenant bob without a schema');

  const db = createClient({ url: `${d.url}/t/alice/` });
  const bob = createClient({ url: `${d.url}/t/bob/` });

  // execute: positional and named arguments.
  let rs = await db.execute({ sql: 'INSERT INTO notes (title, body) VALUES (?, ?)', args: ['first', 'hello wörld ✓'] });
  t.is(rs.rowsAffected, 1, 'execute with positional args inserts a row');
  t.is(typeof rs.lastInsertRowid, 'bigint', 'lastInsertRowid is a bigint');
  rs = await db.execute({ sql: 'INSERT INTO notes (title, body) VALUES (:title, $body)', args: { title: 'second', body: 'named' } });
  t.is(rs.rowsAffected, 1, 'execute with named args (":" and "$" prefixes) inserts a row');
  rs = await db.execute({ sql: 'SELECT title, body FROM notes WHERE title = @t', args: { t: 'second' } });
  t.is(rs.rows.length === 1 ? rs.rows[0].body : null, 'named', 'named "@" arg reads the row back');
  rs = await db.execute('SELECT id, title, body FROM notes ORDER BY id');
  t.is(rs.columns, ['id', 'title', 'body'], 'column names');
  t.is(rs.rows.map((r) => r.title), ['first', 'second'], 'rows in order');
  t.is(rs.rows[0].body, 'hello wörld ✓', 'unicode text round-trips');

  // Full-text search through the schema's triggers.
  rs = await db.execute({ sql: "SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?", args: ['wörld'] });
  t.is(rs.rows.length, 1, 'FTS5 index is maintained by the schema triggers');

  // batch: all-or-nothing.
  const rss = await db.batch([
    { sql: 'INSERT INTO tags (name) VALUES (?)', args: ['work'] },
    { sql: 'INSERT INTO tags (name) VALUES (?)', args: ['home'] },
    'SELECT count(*) AS n FROM tags',
  ], 'write');
  t.is(rss.length, 3, 'batch returns one result per statement');
  t.is(rss[2].rows[0].n, 2, 'batch statements see each other');
  await t.throws(() => db.batch([
    { sql: 'INSERT INTO tags (name) VALUES (?)', args: ['garden'] },
    { sql: 'INSERT INTO tags (name) VALUES (?)', args: ['WORK'] }, // UNIQUE NOCASE
  ], 'write'), (e) => e.code === 'SQLITE_CONSTRAINT', 'failing batch reports SQLITE_CONSTRAINT');
  rs = await db.execute("SELECT count(*) AS n FROM tags WHERE name = 'garden'");
  t.is(rs.rows[0].n, 0, 'failed batch rolled back its first statement');

  // Interactive transaction that commits.
  let tx = await db.transaction('write');
  await tx.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['in tx'] });
  rs = await tx.execute("SELECT count(*) AS n FROM notes WHERE title = 'in tx'");
  t.is(rs.rows[0].n, 1, 'transaction sees its own write');
  await tx.commit();
  rs = await db.execute("SELECT count(*) AS n FROM notes WHERE title = 'in tx'");
  t.is(rs.rows[0].n, 1, 'committed transaction is visible');

  // Interactive transaction that rolls back.
  tx = await db.transaction('write');
  await tx.execute("DELETE FROM notes");
  await tx.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['doomed'] });
  await tx.rollback();
  rs = await db.execute('SELECT count(*) AS n FROM notes');
  t.is(rs.rows[0].n, 3, 'rolled-back transaction changed nothing');

  // Other clients wait while a transaction is open, then proceed.
  tx = await db.transaction('write');
  await tx.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['held'] });
  const other = db.execute("SELECT count(*) AS n FROM notes WHERE title = 'held'");
  const otherTenant = await bob.execute('SELECT 42 AS x');
  t.is(otherTenant.rows[0].x, 42, 'another tenant is served while alice holds a transaction');
  await tx.commit();
  t.is((await other).rows[0].n, 1, 'a request queued behind a transaction runs after its commit');

  // Read transaction: BEGIN TRANSACTION READONLY.
  tx = await db.transaction('read');
  rs = await tx.execute('SELECT count(*) AS n FROM notes');
  t.is(rs.rows[0].n, 4, 'read transaction reads');
  await t.throws(() => tx.execute("INSERT INTO notes (title) VALUES ('x')"),
    (e) => e.code === 'SQLITE_READONLY', 'write inside a read transaction fails with SQLITE_READONLY');
  await tx.rollback().catch(() => {});
  rs = await db.execute("INSERT INTO notes (title) VALUES ('after read tx')");
  t.is(rs.rowsAffected, 1, 'writes work again after the read transaction');

  // bigint and blob round trips.
  await bob.execute('CREATE TABLE v (i INTEGER, b BLOB, f REAL, t TEXT)');
  const big = 9007199254740993n; // not a safe JS number
  const blob = new Uint8Array([0, 1, 2, 253, 254, 255, 0]);
  await bob.execute({ sql: 'INSERT INTO v VALUES (?, ?, ?, ?)', args: [big, blob, 0.1, null] });
  const bigClient = createClient({ url: `${d.url}/t/bob/`, intMode: 'bigint' });
  rs = await bigClient.execute('SELECT i, b, f, t, typeof(i) AS ti FROM v');
  t.is(rs.rows[0].i, big, 'bigint beyond 2^53 round-trips exactly');
  t.is(rs.rows[0].ti, 'integer', 'bigint is stored as an INTEGER');
  t.is(Array.from(new Uint8Array(rs.rows[0].b)), Array.from(blob), 'blob round-trips byte for byte');
  t.is(Number(rs.rows[0].f), 0.1, 'float round-trips');
  t.is(rs.rows[0].t, null, 'null round-trips');
  rs = await bigClient.execute({ sql: 'SELECT ? AS minv, ? AS maxv', args: [-9223372036854775808n, 9223372036854775807n] });
  t.is([rs.rows[0].minv, rs.rows[0].maxv], [-9223372036854775808n, 9223372036854775807n], 'int64 extremes round-trip');
  await t.throws(() => bob.execute('SELECT i FROM v'), (e) => e instanceof RangeError || /integer/i.test(e.message),
    'default intMode refuses an unsafe integer instead of rounding it');

  // Constraint violation.
  await t.throws(() => db.execute({ sql: 'INSERT INTO notes (id, title) VALUES (1, ?)', args: ['dup'] }),
    (e) => e.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY/.test(e.message), 'primary key violation surfaces as SQLITE_CONSTRAINT');
  await t.throws(() => db.execute("INSERT INTO notes (title) VALUES ('')"),
    (e) => e.code === 'SQLITE_CONSTRAINT', 'CHECK violation surfaces as SQLITE_CONSTRAINT');
  await t.throws(() => db.execute('SELEC 1'), (e) => e.code === 'SQL_PARSE_ERROR' || e.code === 'SQLITE_ERROR',
    'syntax error is reported, not a crash');
  await t.throws(() => db.execute('SELECT 1; SELECT 2'), (e) => e.code === 'SQL_MANY_STATEMENTS',
    'two statements in execute are refused');

  // executeMultiple (sequence) and migrate-style batch.
  await bob.executeMultiple('CREATE TABLE m (x); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2);');
  rs = await bob.execute('SELECT sum(x) AS s FROM m');
  t.is(rs.rows[0].s, 3, 'executeMultiple runs every statement');

  // Isolation: alice's tables are not in bob's file.
  await t.throws(() => bob.execute('SELECT * FROM notes'), (e) => /no such table/.test(e.message),
    "bob cannot see alice's tables");
  await t.throws(() => bob.execute(`ATTACH DATABASE '${d.data}/catalog/data.mdb' AS x`),
    (e) => e.code === 'SQLITE_AUTH', 'ATTACH is refused');

  // Unknown tenant and bad tenant id, as the client sees them.
  const ghost = createClient({ url: `${d.url}/t/ghost/` });
  await t.throws(() => ghost.execute('SELECT 1'), (e) => /no such tenant/.test(e.message) && e.code === 'TENANT_NOT_FOUND',
    'unknown tenant gives a readable TENANT_NOT_FOUND');

  // x-namespace header routing (what the Rust SDK and custom fetches send).
  const viaHeader = createClient({
    url: d.url,
    fetch: (req, init) => {
      const r = new Request(req, init);
      r.headers.set('x-namespace', 'alice');
      return fetch(r);
    },
  });
  rs = await viaHeader.execute('SELECT count(*) AS n FROM notes');
  t.is(rs.rows[0].n, 5, 'x-namespace header selects the tenant');

  db.close(); bob.close(); bigClient.close(); ghost.close(); viaHeader.close();
});
