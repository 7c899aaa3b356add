'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer, LitecommitError } = require('..');
const { tempDb, holdWriteLock } = require('./helpers');

test('constraint violations reject with code, message, statementIndex; the rest of the batch commits', async () => {
  // The ticker policy with a timer that never fires flushes exactly when 5 are queued (or
  // on flush()): the five transactions below are certain to share one batch.
  const db = new Committer(tempDb(), {
    flushPolicy: 'ticker',
    maxBatchSize: 5,
    maxWaitMs: 600_000,
    dynamicBatchSize: false,
    checkpoint: false,
  });
  await Promise.all([db.execute('CREATE TABLE u (k TEXT UNIQUE, n INTEGER NOT NULL CHECK (n >= 0))'), db.flush()]);
  await Promise.all([db.execute('INSERT INTO u VALUES (?, ?)', ['taken', 1]), db.flush()]);
  const before = db.stats();
  const outcomes = await Promise.allSettled([
    db.execute('INSERT INTO u VALUES (?, ?)', ['a', 1]),
    db.execute('INSERT INTO u VALUES (?, ?)', ['taken', 2]),
    db.transaction([
      ['INSERT INTO u VALUES (?, ?)', ['b', 1]],
      ['INSERT INTO u VALUES (?, ?)', ['c', null]],
    ]),
    db.execute('INSERT INTO u VALUES (?, ?)', ['d', -1]),
    db.execute('INSERT INTO u VALUES (?, ?)', ['e', 1]),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
  const [, unique, notNull, check] = outcomes.map((o) => o.reason);
  assert.ok(unique instanceof LitecommitError);
  assert.ok(unique instanceof Error);
  assert.equal(unique.code, 'SQLITE_CONSTRAINT_UNIQUE');
  assert.equal(unique.errno, 19);
  assert.equal(unique.extendedCode, 2067);
  assert.equal(unique.statementIndex, 0);
  assert.match(unique.message, /UNIQUE constraint failed: u\.k/);
  assert.equal(notNull.code, 'SQLITE_CONSTRAINT_NOTNULL');
  assert.equal(notNull.statementIndex, 1);
  assert.equal(check.code, 'SQLITE_CONSTRAINT_CHECK');
  const rows = await db.query('SELECT k FROM u ORDER BY k');
  assert.deepEqual(rows.map((r) => r.k), ['a', 'e', 'taken']);
  // All five in one batch, which committed.
  const after = db.stats();
  assert.equal(after.batches - before.batches, 1);
  assert.equal(after.maxBatchSize, 5);
  assert.equal((after.flushes.size ?? 0) - (before.flushes.size ?? 0), 1);
  assert.equal(after.transactionsCommitted - before.transactionsCommitted, 2);
  assert.equal(after.transactionsFailed - before.transactionsFailed, 3);
  await db.close();
});

test('SQL errors and refused statements', async () => {
  const db = new Committer(tempDb());
  await assert.rejects(db.execute('INSERT INTO nowhere VALUES (1)'), {
    code: 'SQLITE_ERROR',
    statementIndex: 0,
    message: /no such table/,
  });
  await assert.rejects(db.execute('SELEKT 1'), { code: 'SQLITE_ERROR', message: /syntax error/ });
  for (const sql of ['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT s', 'VACUUM', "ATTACH 'x.db' AS x", 'PRAGMA journal_mode = DELETE']) {
    await assert.rejects(db.execute(sql), { code: 'LITECOMMIT_REFUSED', statementIndex: 0 }, sql);
  }
  await assert.rejects(db.transaction([['SELECT 1'], ['COMMIT']]), { code: 'LITECOMMIT_REFUSED', statementIndex: 1 });
  await assert.rejects(db.query('SELEKT'), { code: 'SQLITE_ERROR' });
  await db.close();
});

test('a committed result JavaScript cannot hold rejects its own promise; the rest of its batch settles', async () => {
  // A linger far longer than the test: the flush below ends the one batch of all three.
  const db = new Committer(tempDb(), { lingerMs: 600_000, checkpoint: false });
  await Promise.all([db.execute('CREATE TABLE t (v INTEGER)'), db.flush()]);
  // Assigning a column of this name to a row object throws, so the addon cannot build the
  // result of the statement returning it (as with a string beyond V8's length limit).
  Object.defineProperty(Object.prototype, 'unrepresentable', {
    set() {
      throw new Error('no column of this name here');
    },
    configurable: true,
  });
  try {
    const before = db.stats().batches;
    const outcomes = Promise.allSettled([
      db.execute('INSERT INTO t VALUES (1) RETURNING v'),
      db.execute('INSERT INTO t VALUES (2) RETURNING v AS unrepresentable'),
      db.transaction([['INSERT INTO t VALUES (3)'], ['SELECT count(*) AS n FROM t']]),
    ]);
    await db.flush();
    const [first, bad, last] = await outcomes;
    assert.equal(db.stats().batches - before, 1, 'one batch');
    assert.deepEqual(first, { status: 'fulfilled', value: { changes: 1, lastInsertRowid: 1, rows: [{ v: 1 }] } });
    assert.equal(bad.status, 'rejected');
    assert.ok(bad.reason instanceof LitecommitError);
    assert.equal(bad.reason.code, 'LITECOMMIT_INTERNAL');
    assert.match(bad.reason.message, /^committed, but the result cannot be represented in JavaScript: .*no column of this name here/);
    assert.equal(last.status, 'fulfilled');
    assert.deepEqual(last.value.map((r) => r.rows), [[], [{ n: 3 }]]);
  } finally {
    delete Object.prototype.unrepresentable;
  }
  // It committed all the same.
  assert.deepEqual(await db.query('SELECT v FROM t ORDER BY v'), [{ v: 1 }, { v: 2 }, { v: 3 }]);
  await db.close();
});

test('a held write lock turns into SQLITE_BUSY once busyTimeoutMs runs out', async () => {
  const path = tempDb();
  const db = new Committer(path, { busyTimeoutMs: 50, checkpoint: false });
  await db.execute('CREATE TABLE t (v INTEGER)');
  const lock = await holdWriteLock(path);
  try {
    await assert.rejects(db.execute('INSERT INTO t VALUES (1)'), (e) => {
      assert.ok(e instanceof LitecommitError);
      assert.match(e.code, /^SQLITE_BUSY/);
      assert.equal(e.errno, 5);
      return true;
    });
  } finally {
    await lock.release();
  }
  await db.execute('INSERT INTO t VALUES (2)');
  assert.deepEqual(await db.query('SELECT v FROM t'), [{ v: 2 }]);
  await db.close();
});

test('a full queue: tryExecute rejects with LITECOMMIT_QUEUE_FULL, execute waits in order', async () => {
  const path = tempDb();
  const db = new Committer(path, { queueCapacity: 2, maxBatchSize: 1, busyTimeoutMs: 60000, checkpoint: false });
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)');
  const lock = await holdWriteLock(path);
  let waiting;
  let tried;
  try {
    // The writer blocks on the lock with (at most) one transaction; the queue holds two.
    tried = [];
    for (let i = 0; i < 50; i++) {
      tried.push(db.tryExecute('INSERT INTO t (v) VALUES (?)', [-1]).then(() => 'ok', (e) => e.code));
    }
    // `execute` waits for room instead, keeping submission order.
    waiting = Array.from({ length: 30 }, (_, i) => db.execute('INSERT INTO t (v) VALUES (?)', [i]));
    await assert.rejects(db.tryExecute('INSERT INTO t (v) VALUES (?)', [-2]), { code: 'LITECOMMIT_QUEUE_FULL' });
    await assert.rejects(db.tryTransaction([['INSERT INTO t (v) VALUES (?)', [-2]]]), { code: 'LITECOMMIT_QUEUE_FULL' });
  } finally {
    await lock.release();
  }
  const outcomes = await Promise.all(tried);
  const ok = outcomes.filter((o) => o === 'ok').length;
  assert.ok(ok === 2 || ok === 3, `${ok} accepted`);
  assert.equal(outcomes.filter((o) => o === 'LITECOMMIT_QUEUE_FULL').length, 50 - ok);
  const results = await Promise.all(waiting);
  const rowids = results.map((r) => r.lastInsertRowid);
  assert.deepEqual(rowids, [...rowids].sort((a, b) => a - b));
  const rows = await db.query('SELECT v FROM t WHERE v >= 0 ORDER BY id');
  assert.deepEqual(rows.map((r) => r.v), Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM t WHERE v = -1'), [{ n: ok }]);
  await db.close();
});

test('close waits for submissions still waiting for queue room', async () => {
  const path = tempDb();
  const db = new Committer(path, { queueCapacity: 1, maxBatchSize: 1, busyTimeoutMs: 60000, checkpoint: false });
  await db.execute('CREATE TABLE t (v INTEGER)');
  const lock = await holdWriteLock(path);
  const writes = Array.from({ length: 20 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i]));
  const closing = db.close();
  await assert.rejects(db.execute('INSERT INTO t VALUES (99)'), { code: 'LITECOMMIT_CLOSED' });
  await lock.release();
  await closing;
  assert.equal((await Promise.all(writes)).length, 20);
  const check = new Committer(path);
  assert.deepEqual(await check.query('SELECT count(*) AS n FROM t'), [{ n: 20 }]);
  await check.close();
});

test('opening fails cleanly', () => {
  assert.throws(() => new Committer('/proc/definitely/not/here.db'), (e) => {
    assert.ok(e instanceof LitecommitError);
    assert.equal(e.code, 'SQLITE_CANTOPEN');
    assert.equal(e.errno, 14);
    assert.match(e.message, /here\.db/);
    return true;
  });
});

test('opening a file that is not a database fails with SQLITE_NOTADB', () => {
  const path = tempDb();
  fs.writeFileSync(path, crypto.randomBytes(8192));
  assert.throws(() => new Committer(path), (e) => {
    assert.ok(e instanceof LitecommitError);
    assert.equal(e.code, 'SQLITE_NOTADB');
    assert.equal(e.errno, 26);
    assert.equal(e.extendedCode, 26);
    return true;
  });
  // Nothing was written to it.
  assert.equal(fs.existsSync(`${path}-wal`), false);
});

test('opening a database another process holds locked fails with SQLITE_BUSY', async () => {
  const path = tempDb();
  const lock = await holdWriteLock(path, { exclusive: true });
  try {
    assert.throws(() => new Committer(path, { busyTimeoutMs: 50 }), (e) => {
      assert.ok(e instanceof LitecommitError);
      assert.equal(e.code, 'SQLITE_BUSY');
      assert.equal(e.errno, 5);
      return true;
    });
  } finally {
    await lock.release();
  }
  // Once the lock is gone it opens.
  const db = new Committer(path);
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM held'), [{ n: 0 }]);
  await db.close();
});

test('the stack of a rejection shows the code that awaited it', async () => {
  const db = new Committer(tempDb());
  await db.execute('CREATE TABLE t (k TEXT PRIMARY KEY)');
  await db.execute("INSERT INTO t VALUES ('a')");
  const here = /errors\.test\.js:\d+/;
  const caught = async (promise) => {
    try {
      await promise;
    } catch (e) {
      return e;
    }
    assert.fail('expected a rejection');
  };
  // Settled from the addon's completion callback, yet the stack leads back here.
  const failures = [
    await caught(db.execute("INSERT INTO t VALUES ('a')")),
    await caught(db.transaction([['SELECT 1'], ["INSERT INTO t VALUES ('a')"]])),
    await caught(db.tryExecute("INSERT INTO t VALUES ('a')")),
    await caught(db.tryTransaction([["INSERT INTO t VALUES ('a')"]])),
    await caught(db.query('SELEKT')),
    await caught(db.checkpoint('sideways')),
  ];
  for (const e of failures) {
    assert.ok(e instanceof LitecommitError, String(e));
    assert.match(e.stack, here, e.stack);
    assert.ok(e.stack.startsWith(`LitecommitError: ${e.message}\n`), e.stack);
  }
  await db.close();
});

test('captureStack: true keeps the calling function for callers that do not await', async () => {
  const db = new Committer(tempDb(), { captureStack: true });
  await db.execute('CREATE TABLE t (k TEXT PRIMARY KEY)');
  await db.execute("INSERT INTO t VALUES ('a')");
  // Callbacks only: no async function awaits these promises.
  function insertWithCallbacks(done) {
    db.execute("INSERT INTO t VALUES ('a')").then(null, done);
  }
  function queryWithCallbacks(done) {
    db.query('SELEKT').then(null, done);
  }
  for (const submit of [insertWithCallbacks, queryWithCallbacks]) {
    const e = await new Promise((resolve) => submit(resolve));
    assert.ok(e instanceof LitecommitError, String(e));
    assert.match(e.stack, new RegExp(`at ${submit.name} \\(.*errors\\.test\\.js:\\d+`), e.stack);
  }
  await db.close();
});
