// Group commit at --synchronous full (durable.c): a commit is answered
// once the commit log holding its WAL writes is on disk, and after a crash
// the log is replayed into the WAL files.  The replay is tested with
// TENANTD_TEST_LOSE_WAL_WRITES, which keeps tenant WAL writes out of the
// files (as a power cut would lose them from the page cache): whatever
// survives a kill -9 then can only have come from the log.
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { run, startDaemon, TENANTD } from './lib.mjs';

const logs = (d) => [0, 1].map((i) => join(d.data, `commit-log-${i}`));
const logBytes = (d) => logs(d).reduce((n, p) => n + (existsSync(p) ? statSync(p).size : 0), 0);
// Whether both logs are there with their first block header zeroed:
// nothing to replay, the files kept to be written over.
const emptied = (d) => logs(d).every((f) => {
  if (!existsSync(f)) return false;
  const b = readFileSync(f).subarray(0, 40);
  return b.length === 40 && b.every((x) => x === 0);
});

await run(async (t, keep) => {
  const d = await startDaemon(['--synchronous', 'full', '--loops', '2']);
  keep(d);
  const p = d.sql;
  const scalar = async (id, sql) => (await p(id, sql)).rows[0][0].value;
  // A start whose tenant WAL writes reach only the commit log.
  const startLosingWalWrites = async () => {
    process.env.TENANTD_TEST_LOSE_WAL_WRITES = '1';
    try {
      await d.start();
    } finally {
      delete process.env.TENANTD_TEST_LOSE_WAL_WRITES;
    }
  };
  const create = async (id) => {
    const r = await d.admin('POST', '/v1/tenants', { id, schema: null });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
  };

  // Commits are answered after their round: the log grows, the answers
  // were held, and a read sees every acknowledged write.
  await create('da');
  await p('da', 'CREATE TABLE t (x INTEGER)');
  const m0 = await d.metrics();
  await Promise.all(Array.from({ length: 20 }, (_, i) => p('da', `INSERT INTO t VALUES (${i})`)));
  const m1 = await d.metrics();
  t.ok(m1.tenantd_sync_rounds_total > m0.tenantd_sync_rounds_total,
    `sync rounds ran (${m1.tenantd_sync_rounds_total - m0.tenantd_sync_rounds_total} for 20 commits)`);
  // (How many answers had to wait is not asserted: a round that ends
  // before the answer is built, as under valgrind, holds nothing.)
  t.ok(m1.tenantd_sync_commits_total - m0.tenantd_sync_commits_total >= 20,
    'each of the 20 commits took a ticket for a round');
  t.ok(m1.tenantd_sync_rounds_total - m0.tenantd_sync_rounds_total <= 20,
    'concurrent commits share rounds (no more rounds than commits)');
  t.ok(logBytes(d) > 20 * 4096, `the commit log holds their pages (${logBytes(d)} bytes)`);
  t.is(Number(await scalar('da', 'SELECT count(*) FROM t')), 20, 'all 20 rows are there');

  // Its threads have names (ps -L, top -H, perf): the loops, the workers,
  // and group commit's two.
  const names = readdirSync(`/proc/${d.pid}/task`).map((tid) => readFileSync(`/proc/${d.pid}/task/${tid}/comm`, 'utf8').trim());
  t.ok(['loop 1', 'worker 0', 'sync', 'sync reset'].every((n) => names.includes(n)),
    `threads are named (${[...new Set(names)].sort().join(', ')})`);

  // A clean stop leaves nothing to replay.
  let ex = await d.stop();
  t.is(ex.code, 0, 'tenantd stopped cleanly');
  t.ok(emptied(d), 'a clean stop leaves the commit logs empty (their first block zeroed), kept for reuse');
  await d.start();
  t.is(Number(await scalar('da', 'SELECT count(*) FROM t')), 20, 'after a restart: 20 rows');
  t.ok(!/commit log: replayed/.test(readFileSync(d.log, 'utf8')), 'nothing was replayed');
  // Written ahead while idle: the first pass overwrites blocks the file
  // already has (2 x (256 + 4) MiB once written).
  for (let i = 0; i < 600 && logBytes(d) < 2 * 260 * 1048576; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(logBytes(d) >= 2 * 260 * 1048576 && logBytes(d) < 2 * 261 * 1048576, `the idle sync thread wrote both logs ahead (${logBytes(d)} bytes)`);

  // A log kept from a run before holds that run's blocks after the new
  // ones, with round numbers that started again from 1.  Two runs that
  // begin alike (the same three updates, one round each, on a tenant
  // closed cleanly) write blocks of the same sizes, so the old run's 4th
  // block starts right where the new run's 3rd ends: a replay must stop
  // there (another pass): the old run's frames, its WAL header when its
  // WAL started over, its cuts, replayed over the new run's WAL, could
  // void frames the new run had acknowledged.
  await create('ds');
  await p('ds', 'CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)');
  for (let i = 0; i < 200; i++) await p('ds', `INSERT INTO t VALUES (${i}, 'old')`);
  await d.stop();
  await d.start();
  for (let i = 0; i < 3; i++) await p('ds', `UPDATE t SET y = 'aaa' WHERE x = ${i}`);
  for (let i = 0; i < 20; i++) await p('ds', `UPDATE t SET y = 'zzz' WHERE x = ${10 + i}`);
  await d.stop();
  await startLosingWalWrites();
  for (let i = 0; i < 3; i++) await p('ds', `UPDATE t SET y = 'bbb' WHERE x = ${i}`);
  await d.kill9();
  await d.start();
  const rounds = [...readFileSync(d.log, 'utf8').matchAll(/commit log: replayed \d+ WAL writes up to round (\d+)/g)].pop();
  t.is(rounds && Number(rounds[1]), 3, 'the replay stopped after the new run\'s three rounds, before the old run\'s 4th block');
  t.is(await scalar('ds', "SELECT group_concat(y, ',') FROM (SELECT y FROM t WHERE x < 4 ORDER BY x)"), 'bbb,bbb,bbb,old',
    'after kill -9 the 3 updates acknowledged by the run after a clean stop are there (no block of the run before replayed)');
  t.is(Number(await scalar('ds', "SELECT count(*) FROM t WHERE y = 'zzz'")), 20, 'with the run before\'s own updates');

  // Replay: WAL writes reach only the log; after kill -9 the rows can only
  // come back from it.
  await d.stop();
  await startLosingWalWrites();
  await create('db');
  await p('db', 'CREATE TABLE t (x INTEGER, y TEXT)');
  for (let i = 0; i < 30; i++) await p('db', `INSERT INTO t VALUES (${i}, 'row ${i}')`);
  await p('da', 'INSERT INTO t VALUES (100)');
  // Forget: a tenant deleted and made again must not get the old one's
  // logged WAL back.
  await create('dc');
  await p('dc', 'CREATE TABLE old (x INTEGER)');
  await p('dc', 'INSERT INTO old VALUES (1)');
  t.is((await d.admin('DELETE', '/v1/tenants/dc')).status, 200, 'dc deleted');
  await create('dc');
  t.is(Number(await scalar('dc', 'SELECT count(*) FROM sqlite_master')), 0, 'dc made again: empty');
  // Forget on import: a file imported over a tenant replaces it; replay
  // must not put the old tenant's logged WAL frames into the new file.
  await create('di');
  await p('di', 'CREATE TABLE old (x INTEGER)');
  await p('di', 'INSERT INTO old VALUES (1)');
  const imp = await fetch(`${d.url}/v1/tenants/di/import?replace=true`, {
    method: 'PUT',
    body: "CREATE TABLE fresh (y TEXT);\nINSERT INTO fresh VALUES ('imported');\n",
  });
  t.ok(imp.status === 200 || imp.status === 201, `a SQL dump imported over di (${imp.status})`);
  t.is(Number(await scalar('di', 'SELECT count(*) FROM fresh')), 1, 'di serves the import (its new WAL is open)');
  await d.kill9();
  await d.start();
  const log = readFileSync(d.log, 'utf8');
  const m = [...log.matchAll(/commit log: replayed (\d+) WAL writes/g)].pop();
  // db alone made 31 commits, each at least one frame (header and page
  // are one write, vfs.c).
  t.ok(m && Number(m[1]) > 31, `at start the log was replayed into the WAL files (${m ? m[1] : 'no'} writes)`);
  t.is(Number(await scalar('db', 'SELECT count(*) FROM t')), 30,
    'after kill -9 the tenant whose WAL writes were lost has all 30 acknowledged rows');
  t.is(await scalar('db', 'SELECT y FROM t WHERE x = 29'), 'row 29', 'and their contents');
  t.is(Number(await scalar('da', 'SELECT count(*) FROM t')), 21, 'da has its 21st row too');
  t.is(Number(await scalar('dc', 'SELECT count(*) FROM sqlite_master')), 0,
    'the re-made dc did not get the deleted tenant\'s table back from the log');
  t.is(await scalar('di', "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'"), 'fresh',
    'the imported di has only the imported table after replay');
  t.is(await scalar('di', 'SELECT y FROM fresh'), 'imported', 'and its row');
  t.ok(emptied(d), 'the replayed logs were emptied');

  // Logs switched and reused many times (a 32 KiB switch size): a log
  // overwritten from its start keeps older blocks after the new ones, and
  // replaying those would put old WAL frames over newer ones.
  await d.stop();
  process.env.TENANTD_TEST_COMMIT_LOG_BYTES = '32768';
  try {
    await d.start();
  } finally {
    delete process.env.TENANTD_TEST_COMMIT_LOG_BYTES;
  }
  await create('dd');
  await p('dd', 'CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)');
  for (let i = 0; i < 100; i++) await p('dd', `INSERT INTO t VALUES (${i}, 'v${i}')`);
  // 1,200 more commits: past 1,000 WAL pages SQLite checkpoints and the
  // WAL starts over, so the same offsets get new frames (where replaying
  // an old block would do harm).
  for (let k = 0; k < 1200; k++) {
    const i = (k * 7) % 100;
    await p('dd', `UPDATE t SET y = 'w${k}' WHERE x = ${i}`);
  }
  const last = new Map();
  for (let k = 0; k < 1200; k++) last.set((k * 7) % 100, `w${k}`);
  const mr = await d.metrics();
  t.ok(mr.tenantd_sync_log_resets_total >= 4, `the logs were switched and emptied ${mr.tenantd_sync_log_resets_total} times`);
  await d.kill9();
  await d.start();
  // (Whether anything was left to replay depends on where the kill fell
  // relative to the last switch; usually something is.)
  t.is(Number(await scalar('dd', 'SELECT count(*) FROM t')), 100, 'all 100 rows are there');
  const rows = (await p('dd', 'SELECT x, y FROM t ORDER BY x')).rows.map((r) => r.map((c) => c.value));
  t.ok(rows.every(([x, y]) => y === (last.get(Number(x)) ?? `v${x}`)),
    'with their last values (no older frame replayed over a newer one)');
  t.is(await scalar('dd', 'PRAGMA integrity_check'), 'ok', 'and the database is intact');

  // A damaged log (garbage, or a torn last block) is not replayed: start,
  // keep serving, lose nothing that was on disk.
  await d.stop();
  writeFileSync(logs(d)[0], randomBytes(10000));
  await d.start();
  t.is(Number(await scalar('db', 'SELECT count(*) FROM t')), 30, 'garbage in the commit log: tenantd starts, data intact');

  // --no-group-commit: SQLite's own fsync per commit, no log.
  await d.stop();
  d.args = ['--synchronous', 'full', '--no-group-commit'];
  await d.start();
  await p('db', 'INSERT INTO t VALUES (30, \'row 30\')');
  t.is(Number(await scalar('db', 'SELECT count(*) FROM t')), 31, '--no-group-commit: writes work');
  t.ok(logs(d).every((f) => !existsSync(f)), '--no-group-commit: no commit log');
  t.ok(!('tenantd_sync_rounds_total' in await d.metrics()), '--no-group-commit: no sync metrics');
  ex = await d.stop();
  t.is(ex.code, 0, 'stopped cleanly');

  // --commit-log-mib: where the logs switch (and a syncfs empties the full
  // one), and so how much disk they take.  24 commits of a 1 MB blob log
  // about 24 MB: past a 16 MiB log.
  const g = await startDaemon(['--synchronous', 'full', '--commit-log-mib', '16']);
  keep(g);
  const r = await g.admin('POST', '/v1/tenants', { id: 'gb', schema: null });
  if (r.status !== 201) throw new Error(`create gb: ${r.status} ${r.text}`);
  await g.sql('gb', 'CREATE TABLE b (x BLOB)');
  for (let i = 0; i < 24; i++) await g.sql('gb', 'INSERT INTO b VALUES (randomblob(1000000))');
  for (let i = 0; (await g.metrics()).tenantd_sync_log_resets_total < 1; i++) {
    if (i > 6000) throw new Error('the 16 MiB log was never switched and emptied');
    await new Promise((res) => setTimeout(res, 20));
  }
  t.ok(true, '--commit-log-mib 16: ~24 MB of commits switched the logs and emptied the full one');
  const sizes = logs(g).map((f) => (existsSync(f) ? statSync(f).size : 0));
  t.ok(sizes.every((n) => n < 32 << 20),
    `each log stays near 16 MiB, written ahead by at most 4 MiB (${sizes.join(', ')} bytes; 260 MiB each by default)`);
  await g.kill9();
  await g.start();
  t.is(Number((await g.sql('gb', 'SELECT count(*) FROM b WHERE length(x) = 1000000')).rows[0][0].value), 24,
    'after a kill -9, all 24 blobs are there');
  t.is((await g.sql('gb', 'PRAGMA integrity_check')).rows[0][0].value, 'ok', 'and the database is intact');
  // A data dir moved after a crash (a disk mounted elsewhere): the log
  // names WAL files under the data dir, so the replay still finds them.
  await g.stop();
  process.env.TENANTD_TEST_LOSE_WAL_WRITES = '1';
  try {
    await g.start();
  } finally {
    delete process.env.TENANTD_TEST_LOSE_WAL_WRITES;
  }
  const rm = await g.admin('POST', '/v1/tenants', { id: 'gm', schema: null });
  if (rm.status !== 201) throw new Error(`create gm: ${rm.status} ${rm.text}`);
  await g.sql('gm', 'CREATE TABLE t (x INTEGER)');
  for (let i = 0; i < 10; i++) await g.sql('gm', `INSERT INTO t VALUES (${i})`);
  await g.kill9();
  const moved = join(g.tmp, 'moved');
  renameSync(g.data, moved);
  g.data = moved;
  const before = readFileSync(g.log, 'utf8').length;
  await g.start();
  const startLog = readFileSync(g.log, 'utf8').slice(before);
  t.ok(/commit log: replayed \d+ WAL writes/.test(startLog) && !/damaged/.test(startLog),
    'a data dir moved to another path after a crash: its commit log is replayed there');
  t.is(Number((await g.sql('gm', 'SELECT count(*) FROM t')).rows[0][0].value), 10,
    'with all 10 acknowledged rows, which only the log had');
  const bad = spawnSync(TENANTD, ['--synchronous', 'full', '--commit-log-mib', '8', '-D', join(g.tmp, 'never')],
    { encoding: 'utf8' });
  t.ok(bad.status === 2 && /commit-log-mib.*16 to 65536/.test(bad.stderr),
    `--commit-log-mib below 16 is refused with a clear error (exit ${bad.status}: ${bad.stderr.split('\n')[0]})`);
});

