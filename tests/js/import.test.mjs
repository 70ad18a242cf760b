// Import a tenant from a SQLite file or a SQL dump: round trips through
// both formats, replace, and untrusted uploads that must change nothing.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { run, startDaemon, loadClient } from './lib.mjs';

const { createClient } = await loadClient();

await run(async (t, keep) => {
  const d = await startDaemon(['--default-schema', 'notes', '--max-import', '2000000']);
  keep(d);
  const put = async (id, body, query = '') => {
    const r = await fetch(`${d.url}/v1/tenants/${id}/import${query}`, { method: 'PUT', body });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, body: json, text, type: r.headers.get('content-type') };
  };
  const exp = async (id, fmt = '') => Buffer.from(await (await fetch(`${d.url}/v1/tenants/${id}/export${fmt}`)).arrayBuffer());
  const fileOf = (id) => execFileSync('find', [d.data + '/tenants', '-name', `${id}.db`], { encoding: 'utf8' }).trim();
  const sha = (id) => createHash('sha256').update(readFileSync(fileOf(id))).digest('hex');

  await d.admin('POST', '/v1/tenants', { id: 'alice' });
  const a = createClient({ url: `${d.url}/t/alice/` });
  await a.batch([
    'CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB)',
    'CREATE TABLE audit (note_id INTEGER, what TEXT)',
    "CREATE TRIGGER notes_audit AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (new.id, 'insert'); END",
    { sql: 'INSERT INTO notes (title, body) VALUES (?, ?)', args: ['ünïcödé ✓ 😀', 'multi\nline\r\n\'quoted\''] },
    { sql: 'INSERT INTO notes (title, body) VALUES (?, ?)', args: ['large', 'L'.repeat(200000)] },
    { sql: 'INSERT INTO files (name, data) VALUES (?, ?)', args: ['bytes', new Uint8Array(256).map((_, i) => 255 - i)] },
  ], 'write');
  const snapshot = async (c) => {
    const out = [];
    for (const q of ['SELECT id, title, body FROM notes ORDER BY id', 'SELECT name, hex(data) FROM files',
      'SELECT * FROM audit ORDER BY note_id', "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'line'",
      "SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"])
      out.push(JSON.stringify((await c.execute(q)).rows));
    return out.join('\n');
  };
  const want = await snapshot(a);

  // Round trip through both formats.
  for (const [fmt, id] of [['', 'copy-db'], ['?format=sql', 'copy-sql']]) {
    const body = await exp('alice', fmt);
    const r = await put(id, body);
    t.is(r.status, 201, `import of the ${fmt ? 'SQL' : 'file'} export creates a tenant`);
    t.ok(r.body && r.body.schema === 'notes' && r.body.version === 3, 'schema and version recognised from the record inside', r.text);
    const c = createClient({ url: `${d.url}/t/${id}/` });
    t.is(await snapshot(c), want, `identical content after the round trip (${fmt ? 'sql' : 'sqlite'}): blobs, unicode, large rows, FTS5, triggers`);
    await c.execute({ sql: 'INSERT INTO notes (title) VALUES (?)', args: ['after import'] });
    t.is((await c.execute('SELECT count(*) AS n FROM audit')).rows[0].n, 3, 'triggers keep working after the import');
    c.close();
  }

  // Replace: refused without replace=true, atomic with it.
  let r = await put('alice', await exp('copy-db'));
  t.ok(r.status === 409 && r.body.code === 'TENANT_EXISTS', 'importing over an existing tenant needs replace=true');
  r = await put('alice', await exp('copy-db'), '?replace=true');
  t.is(r.status, 200, 'replace=true swaps the data');
  t.is((await a.execute("SELECT count(*) AS n FROM notes WHERE title = 'after import'")).rows[0].n, 1, 'the tenant now serves the imported data');

  // Untrusted uploads: clear errors, the existing tenant's bytes unchanged.
  const before = sha('alice');
  const good = await exp('alice');
  const other = createClient({ url: `${d.url}/t/bob/` });
  await d.admin('POST', '/v1/tenants', { id: 'bob', schema: null });
  await other.execute('CREATE TABLE x (y)');
  const cases = [
    ['garbage', Buffer.from('\x00\x01\x02 this is not a database', 'latin1'), 'IMPORT_INVALID'],
    ['a truncated file', good.subarray(0, Math.floor(good.length / 2)), 'IMPORT_INVALID'],
    ['a non-SQLite file (a PNG)', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'IMPORT_INVALID'],
    ['a file of another schema', await exp('bob'), 'IMPORT_WRONG_SCHEMA'],
    ['a dump that attaches a file', Buffer.from(`ATTACH '${d.data}/x.db' AS x; CREATE TABLE x.t (a);`), 'IMPORT_INVALID'],
    ['a dump that writes with VACUUM INTO', Buffer.from(`CREATE TABLE t (a); VACUUM INTO '${d.tmp}/stolen.db';`), 'IMPORT_INVALID'],
    ['SQL that is not a dump', Buffer.from('this is not sql at all;'), 'IMPORT_INVALID'],
  ];
  for (const [what, body, code] of cases) {
    r = await put('alice', body, '?replace=true');
    t.ok(r.status >= 400 && r.status < 500 && r.body && r.body.code === code && r.type === 'application/json',
      `${what}: ${code}`, `${r.status} ${r.text.slice(0, 200)}`);
  }
  // Over --max-import: refused from the headers (curl waits for 100-continue).
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${d.tmp}/big`, Buffer.alloc(2100000, 'a'));
  const out = execFileSync('curl', ['-s', '-X', 'PUT', '--data-binary', `@${d.tmp}/big`, '-w', ' %{http_code}',
    `${d.url}/v1/tenants/alice/import?replace=true`], { encoding: 'utf8' });
  t.ok(/"code":"BODY_TOO_LARGE"/.test(out) && / 413$/.test(out), 'a file over --max-import: 413 BODY_TOO_LARGE', out);
  t.is(sha('alice'), before, "after every refused import alice's file is byte-identical");
  t.is((await a.execute('SELECT count(*) AS n FROM notes')).rows[0].n, 3, 'and alice still serves her data');
  t.is((await d.admin('GET', '/v1/tenants?prefix=copy')).body.tenants.length, 2, 'no half-made tenant was left behind');
  t.ok(!(() => { try { readFileSync(`${d.tmp}/stolen.db`); return true; } catch { return false; } })(), 'VACUUM INTO wrote nothing');
  t.ok(execFileSync('ls', [d.data + '/tmp'], { encoding: 'utf8' }).trim() === '', 'no upload is left in DATA/tmp');
  a.close(); other.close();
});
