// Who else may open a tenant's file while tenantd has it open.  By default
// (exclvfs.c, unix-excl's locking) tenantd holds an exclusive lock and keeps
// the WAL index in memory: another process gets "database is locked" and
// there is no -shm file.  With --shared-files (for Litestream or a sqlite3 shell beside the
// daemon) other processes read the live file.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, startDaemon } from './lib.mjs';

const tenantFile = (data, id) => {
  const root = join(data, 'tenants');
  for (const shard of readdirSync(root)) {
    const f = join(root, shard, `${id}.db`);
    if (existsSync(f)) return f;
  }
  throw new Error(`no file for ${id}`);
};

await run(async (t, keep) => {
  const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;
  if (!hasSqlite3) throw new Error('the sqlite3 shell is needed (apt-get install sqlite3)');

  const caps = {};
  for (const shared of [false, true]) {
    const d = await startDaemon(shared ? ['--shared-files'] : []);
    keep(d);
    const r = await d.admin('POST', '/v1/tenants', { id: 'ext', schema: null });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
    const res = await fetch(`${d.url}/t/ext/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [
        { type: 'execute', stmt: { sql: 'CREATE TABLE t (x)' } },
        { type: 'execute', stmt: { sql: 'INSERT INTO t VALUES (1), (2), (3)' } },
        { type: 'close' }] }),
    });
    if (res.status !== 200) throw new Error(`pipeline: ${res.status}`);
    const file = tenantFile(d.data, 'ext');
    const m = await d.metrics();
    caps[shared] = m.tenantd_max_open_handles;
    const out = spawnSync('sqlite3', [file, 'SELECT count(*) FROM t'], { encoding: 'utf8' });
    if (!shared) {
      t.ok(out.status !== 0 && /locked/.test(out.stderr),
        `default: another process cannot open a cached tenant ("${out.stderr.trim()}")`);
      t.ok(!existsSync(`${file}-shm`), 'default: no -shm file (the WAL index is in memory)');
    } else {
      t.is(out.status === 0 ? out.stdout.trim() : `failed: ${out.stderr.trim()}`, '3',
        '--shared-files: a sqlite3 shell reads the live tenant beside the daemon');
      t.ok(existsSync(`${file}-shm`), '--shared-files: the WAL index is shared through a -shm file');
      // The daemon keeps serving and writing while the other process reads.
      const r2 = await fetch(`${d.url}/t/ext/v2/pipeline`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requests: [
          { type: 'execute', stmt: { sql: 'INSERT INTO t VALUES (4)' } }, { type: 'close' }] }),
      });
      t.is(r2.status, 200, '--shared-files: the daemon still writes');
      t.is(execFileSync('sqlite3', [file, 'SELECT count(*) FROM t'], { encoding: 'utf8' }).trim(), '4',
        '--shared-files: the other process sees the committed write');
    }
    await d.stop();
    const log = readFileSync(d.log, 'utf8');
    if (!shared) {
      // The lock goes with the last connection: the shell opens the file.
      const after = spawnSync('sqlite3', [file, 'SELECT count(*) FROM t'], { encoding: 'utf8' });
      t.is(after.status === 0 ? after.stdout.trim() : `failed: ${after.stderr.trim()}`, '3',
        'default: once tenantd has stopped, a sqlite3 shell opens the tenant');
      t.ok(!/inode record/.test(log), 'default: no list of open files to pool (exclvfs.c keeps a hash table)');
    } else {
      // sqlmem.c found the unix VFS's inode record (if not, misses get
      // slower without any other sign).
      t.ok(/the VFS's inode records \(\d+ bytes\) come from one pool/.test(log),
        '--shared-files: tenantd found the unix VFS inode record and pools it');
    }
  }
  // Default cap: (fd limit - 128) / 2 descriptors per handle, or / 3 with
  // the -shm file of --shared-files.
  const limit = caps.false * 2 + 128;
  t.ok(Math.abs(caps.true - Math.floor((limit - 128) / 3)) <= 1 && caps.true < caps.false,
    `the default handle cap counts 2 descriptors per handle, 3 with --shared-files (${caps.false} vs ${caps.true})`);
});
