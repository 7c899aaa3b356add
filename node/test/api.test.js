'use strict';
const fs = require('node:fs');
const { join } = require('node:path');
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer, LitecommitError } = require('..');
const { tempDb, holdWriteLock } = require('./helpers');

async function open({ path = tempDb(), ...options } = {}) {
  const db = new Committer(path, options);
  await db.execute('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)');
  return db;
}

test('execute resolves to { changes, lastInsertRowid, rows }', async () => {
  const db = await open();
  const r = await db.execute('INSERT INTO kv VALUES (?, ?)', ['a', 1]);
  assert.deepEqual(r, { changes: 1, lastInsertRowid: 1, rows: [] });
  const up = await db.execute('UPDATE kv SET v = v + 1 WHERE k = :k RETURNING k, v', { k: 'a' });
  assert.equal(up.changes, 1);
  assert.deepEqual(up.rows, [{ k: 'a', v: 2 }]);
  const none = await db.execute('DELETE FROM kv WHERE k = ?', ['missing']);
  assert.equal(none.changes, 0);
  const noParams = await db.execute("INSERT INTO kv VALUES ('b', 3)");
  assert.equal(noParams.lastInsertRowid, 2);
  await db.close();
});

test('transaction resolves to one result per statement and is atomic', async () => {
  const db = await open();
  const r = await db.transaction([
    ['INSERT INTO kv VALUES (?, ?)', ['a', 1]],
    ['INSERT INTO kv VALUES (?, ?) RETURNING v', ['b', 2]],
    ['UPDATE kv SET v = v * 10'],
  ]);
  assert.equal(r.length, 3);
  assert.deepEqual(r[1].rows, [{ v: 2 }]);
  assert.equal(r[2].changes, 2);
  // The third statement fails: none of it applies.
  await assert.rejects(
    db.transaction([
      ['INSERT INTO kv VALUES (?, ?)', ['c', 3]],
      ['UPDATE kv SET v = 0'],
      ['INSERT INTO kv VALUES (?, ?)', ['a', 9]],
    ]),
    { code: 'SQLITE_CONSTRAINT_PRIMARYKEY', statementIndex: 2 },
  );
  assert.deepEqual(await db.query('SELECT k, v FROM kv ORDER BY k'), [
    { k: 'a', v: 10 },
    { k: 'b', v: 20 },
  ]);
  assert.deepEqual(await db.transaction([]), []);
  await db.close();
});

test('query resolves to row objects keyed by column name and sees resolved writes', async () => {
  const db = await open();
  assert.deepEqual(await db.query('SELECT * FROM kv'), []);
  await db.execute('INSERT INTO kv VALUES (?, ?)', ['x', 42]);
  assert.deepEqual(await db.query('SELECT k AS key, v FROM kv WHERE v > ?', [1]), [{ key: 'x', v: 42 }]);
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM kv WHERE k = :k', { k: 'x' }), [{ n: 1 }]);
  // The read pool is read-only.
  await assert.rejects(db.query('INSERT INTO kv VALUES (1, 2)'), (e) => e instanceof LitecommitError && e.code === 'SQLITE_READONLY');
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM kv'), [{ n: 1 }]);
  // Any column name is a column, even one that names a special property.
  const [odd] = await db.query("SELECT x'00' AS __proto__, 1 AS constructor");
  assert.equal(Object.getPrototypeOf(odd), Object.prototype);
  assert.deepEqual(Object.keys(odd), ['__proto__', 'constructor']);
  assert.deepEqual(odd.__proto__, Buffer.from([0]));
  await db.close();
});

test('flush is a barrier for everything submitted before it', async () => {
  const db = await open();
  const settled = [];
  const writes = Array.from({ length: 200 }, (_, i) =>
    db.execute('INSERT INTO kv VALUES (?, ?)', [`k${i}`, i]).then(() => settled.push(i)),
  );
  await db.flush();
  assert.equal(settled.length, 200);
  await Promise.all(writes);
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM kv'), [{ n: 200 }]);
  await db.flush(); // nothing pending
  await db.close();
});

test('checkpoint copies the WAL into the database, counts it, and resets the WAL', async () => {
  const path = tempDb();
  const db = await open({ path, checkpoint: false });
  for (let i = 0; i < 50; i++) await db.execute('INSERT INTO kv VALUES (?, ?)', [`k${i}`, i]);
  const s0 = db.stats();
  assert.ok(s0.walBacklogFrames > 0, 'the WAL holds frames no checkpoint copied');

  // PASSIVE with nobody reading: every frame is copied back.
  const passive = await db.checkpoint('passive');
  assert.equal(passive.mode, 'passive');
  assert.ok(passive.logFrames > 0);
  assert.equal(passive.checkpointedFrames, passive.logFrames);
  assert.equal(passive.busy, false);
  const s1 = db.stats();
  assert.equal(s1.checkpoints.passive, (s0.checkpoints.passive ?? 0) + 1);
  assert.equal(s1.walBacklogFrames, 0);
  assert.equal(await db.checkpoint().then((r) => r.mode), 'passive'); // the default mode

  // FULL and RESTART after more writes: all copied; RESTART makes the next write start
  // the WAL over, so it then holds only that write's frames.
  for (const mode of ['full', 'restart']) {
    for (let i = 0; i < 20; i++) await db.execute('UPDATE kv SET v = v + 1 WHERE k = ?', [`k${i}`]);
    const r = await db.checkpoint(mode);
    assert.equal(r.mode, mode);
    assert.ok(r.logFrames > 0, mode);
    assert.equal(r.checkpointedFrames, r.logFrames, mode);
    assert.equal(r.busy, false, mode);
    assert.equal(db.stats().checkpoints[mode], 1, mode);
  }
  const bigLog = (await db.checkpoint('passive')).logFrames;
  await db.execute('UPDATE kv SET v = 0 WHERE k = ?', ['k0']);
  const small = await db.checkpoint('passive');
  assert.ok(small.logFrames < bigLog, `the WAL restarted (${small.logFrames} < ${bigLog} frames)`);

  // TRUNCATE empties the WAL file: the main file alone holds every row.
  await db.execute('UPDATE kv SET v = -1 WHERE k = ?', ['k1']);
  const t = await db.checkpoint('truncate');
  assert.equal(t.busy, false);
  assert.equal(t.logFrames, 0);
  assert.equal(db.stats().checkpoints.truncate, 1);
  assert.equal(db.stats().walFileBytes, 0);
  assert.equal(fs.statSync(`${path}-wal`).size, 0);
  const copy = `${path}.copy`;
  fs.copyFileSync(path, copy);
  const other = new Committer(copy);
  assert.deepEqual(await other.query('SELECT count(*) AS n, sum(v = -1) AS m FROM kv'), [{ n: 50, m: 1 }]);
  await other.close();

  await assert.rejects(db.checkpoint('sideways'), { code: 'LITECOMMIT_INVALID_CONFIG' });
  await assert.rejects(db.checkpoint(3), TypeError);
  await db.close();
});

test('metricsText and stats report the committer figures', async () => {
  const db = await open();
  await Promise.all(Array.from({ length: 20 }, (_, i) => db.execute('INSERT INTO kv VALUES (?, ?)', [`k${i}`, i])));
  await assert.rejects(db.execute('INSERT INTO kv VALUES (?, ?)', ['k0', 0]));
  const text = db.metricsText();
  for (const name of [
    'litecommit_flushes_total',
    'litecommit_batch_size',
    'litecommit_flush_duration_seconds',
    'litecommit_commit_latency_seconds',
    'litecommit_queue_depth',
    'litecommit_transactions_total',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
  }
  assert.match(text, /^litecommit_transactions_total\{db="[^"]*",outcome="committed"\} 21$/m);
  const s = db.stats();
  assert.equal(s.transactionsCommitted, 21);
  assert.equal(s.transactionsFailed, 1);
  assert.ok(s.batches >= 1);
  assert.ok(s.maxBatchSize >= 1);
  assert.equal(typeof s.flushes, 'object');
  assert.equal(typeof s.meanCommitLatencyMs, 'number');
  assert.equal(typeof s.checkpointRunning, 'boolean');
  await db.close();
});

// Every option, each set to a value other than its default.
const EVERY_OPTION = {
  durability: 'normal',
  flushPolicy: 'ticker',
  maxBatchSize: 7,
  maxWaitMs: 3,
  lingerMs: 2,
  queueCapacity: 100,
  busyTimeoutMs: 1234,
  readConnections: 2,
  checkpoint: false,
  passiveThresholdMb: 1.5,
  restartThresholdMb: 2.5,
  checkpointBusyTimeoutMs: 77,
  walHardLimitMb: 70.5,
  walHardLimitPauseMs: 900,
  dynamicBatchSize: false,
  truncateWhenIdle: true,
  idleVacuumPages: 9,
  idleVacuumBudgetMs: 11,
  idleMs: 5000,
  cacheSizeKib: 1024,
  mmapSize: 65536,
  journalSizeLimit: 123456,
  foreignKeys: false,
  statementCacheCapacity: 17,
  metricsLabel: 'orders',
};

/** Reads a pragma on the writer connection (through a transaction). */
async function writerPragma(db, name) {
  const { rows } = await db.execute(`PRAGMA ${name}`);
  return Object.values(rows[0])[0];
}

test('every camelCase option maps to its configuration field', async () => {
  const native = require('../litecommit.node');
  // As index.js passes them: strings.
  const strings = Object.fromEntries(Object.entries(EVERY_OPTION).map(([k, v]) => [k, String(v)]));
  const db = native.open(tempDb(), strings, () => {});
  assert.ok(db instanceof native.NativeCommitter);
  const config = db.config();
  assert.deepEqual(config, EVERY_OPTION);
  const [err] = await db.close();
  assert.equal(err, undefined);
  // The defaults differ from every value above, so each option changed something.
  const dflt = native.open(tempDb(), {}, () => {});
  const defaults = dflt.config();
  for (const [name, value] of Object.entries(EVERY_OPTION)) assert.notDeepEqual(defaults[name], value, name);
  assert.deepEqual(Object.keys(defaults).sort(), Object.keys(EVERY_OPTION).sort());
  await dflt.close();
  // A negative journal size limit keeps the WAL file at its high-water mark.
  const keep = native.open(tempDb(), { journalSizeLimit: '-1' }, () => {});
  assert.equal(keep.config().journalSizeLimit, -1);
  await keep.close();
});

/** The member names of `export interface NAME` in index.d.ts, sorted. */
function declaredMembers(name) {
  const text = fs.readFileSync(join(__dirname, '..', 'index.d.ts'), 'utf8');
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(text)[1];
  return [...body.matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]).sort();
}

test('index.d.ts declares every figure of stats() and every option of the configuration', async () => {
  const db = new Committer(tempDb());
  assert.deepEqual(Object.keys(db.stats()).sort(), declaredMembers('Stats'));
  await db.close();
  const native = require('../litecommit.node');
  const raw = native.open(tempDb(), {}, () => {});
  // Plus the options index.js handles itself.
  assert.deepEqual([...Object.keys(raw.config()), 'captureStack'].sort(), declaredMembers('Options'));
  await raw.close();
});

test('options reach the connections and the writer: pragmas, batch sizes, timers, queue', async () => {
  const path = tempDb();
  const db = new Committer(path, { ...EVERY_OPTION, maxWaitMs: 1, lingerMs: undefined });
  // Connection settings, read on the writer connection.
  assert.equal(await writerPragma(db, 'busy_timeout'), 1234);
  assert.equal(await writerPragma(db, 'cache_size'), -1024);
  assert.equal(await writerPragma(db, 'mmap_size'), 65536);
  assert.equal(await writerPragma(db, 'journal_size_limit'), 123456);
  assert.equal(await writerPragma(db, 'foreign_keys'), 0);
  assert.equal(await writerPragma(db, 'synchronous'), 1);
  // foreignKeys: false lets a dangling reference in.
  await db.execute('CREATE TABLE parent (id INTEGER PRIMARY KEY)');
  await db.execute('CREATE TABLE child (p INTEGER REFERENCES parent (id))');
  await db.execute('INSERT INTO child VALUES (42)');
  // The ticker flushed those lone transactions on its timer.
  assert.ok(db.stats().flushes.timer >= 1);
  await db.close();

  // maxBatchSize: with the writer held back by a lock, 50 submissions queue up (the writer
  // may have taken a first few before it blocked); the rest commit in batches of exactly 7.
  const db2 = new Committer(path, { maxBatchSize: 7, busyTimeoutMs: 60000, checkpoint: false });
  await db2.execute('CREATE TABLE t (v INTEGER)');
  const lock = await holdWriteLock(path);
  const writes = Array.from({ length: 50 }, (_, i) => db2.execute('INSERT INTO t VALUES (?)', [i]));
  await lock.release();
  await Promise.all(writes);
  const s = db2.stats();
  assert.equal(s.maxBatchSize, 7);
  assert.ok(s.batches >= 1 + Math.ceil(50 / 7), `${s.batches} batches`);
  assert.equal(s.transactionsCommitted, 51);
  await db2.close();
});

test('bad options throw LITECOMMIT_INVALID_CONFIG or a TypeError naming the option', async () => {
  const bad = (options, message) =>
    assert.throws(() => new Committer(tempDb(), options), { code: 'LITECOMMIT_INVALID_CONFIG', message }, JSON.stringify(options));
  bad({ maxBatchSize: 0 }, /max_batch_size/);
  bad({ durability: 'sometimes' }, /durability/);
  bad({ restartThresholdMb: 1, passiveThresholdMb: 4 }, /restart_threshold_mb/);
  bad({ noSuchOption: 1 }, /noSuchOption/);
  bad({ maxBatchSize: 'many' }, /max_batch_size/);
  assert.throws(() => new Committer(tempDb(), { maxBatchSize: {} }), { name: 'TypeError', message: /maxBatchSize/ });
  // captureStack is handled in JavaScript: a boolean, and it does not hide misspelt options.
  assert.throws(() => new Committer(tempDb(), { captureStack: 'yes' }), { name: 'TypeError', message: /captureStack/ });
  bad({ captureStack: true, captureStak: true }, /captureStak/);
  assert.throws(() => new Committer(tempDb(), 'fast'), TypeError);
  assert.throws(() => new Committer(42), TypeError);
  assert.throws(() => new Committer('/nonexistent-dir/sub/x.db'), { code: 'SQLITE_CANTOPEN' });
});

test('close is idempotent and every call after it fails with LITECOMMIT_CLOSED', async () => {
  const db = await open();
  const pending = Array.from({ length: 100 }, (_, i) => db.execute('INSERT INTO kv VALUES (?, ?)', [`k${i}`, i]));
  const first = db.close();
  assert.equal(db.close(), first);
  assert.equal(db.closed, true);
  await first;
  // Everything submitted before close committed.
  const results = await Promise.all(pending);
  assert.equal(results.length, 100);
  const closed = { code: 'LITECOMMIT_CLOSED', name: 'LitecommitError' };
  await assert.rejects(db.execute('INSERT INTO kv VALUES (?, ?)', ['z', 0]), closed);
  await assert.rejects(db.transaction([['SELECT 1']]), closed);
  await assert.rejects(db.tryExecute('SELECT 1'), closed);
  await assert.rejects(db.tryTransaction([['SELECT 1']]), closed);
  await assert.rejects(db.query('SELECT 1'), closed);
  await assert.rejects(db.flush(), closed);
  await assert.rejects(db.checkpoint('passive'), closed);
  assert.throws(() => db.metricsText(), closed);
  assert.throws(() => db.stats(), closed);
  await db.close();
});

test('Symbol.asyncDispose closes the committer (await using)', { skip: typeof Symbol.asyncDispose !== 'symbol' }, async () => {
  const db = await open();
  const pending = db.execute('INSERT INTO kv VALUES (?, ?)', ['a', 1]);
  const disposed = db[Symbol.asyncDispose]();
  assert.equal(db.closed, true);
  assert.equal(await disposed, undefined);
  assert.equal((await pending).changes, 1, 'what was submitted before committed');
  await assert.rejects(db.execute('INSERT INTO kv VALUES (?, ?)', ['b', 2]), { code: 'LITECOMMIT_CLOSED' });
  assert.equal(db[Symbol.asyncDispose](), db.close(), 'the same promise as close()');
});
