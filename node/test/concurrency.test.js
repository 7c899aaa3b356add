'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb } = require('./helpers');

test('10,000 concurrent promises: every row present exactly once', async () => {
  const db = new Committer(tempDb());
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
  const N = 10_000;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) => db.execute('INSERT INTO t (n) VALUES (?)', [i])),
  );
  assert.equal(results.length, N);
  assert.ok(results.every((r) => r.changes === 1));
  // One submitter: commits in submission order.
  for (let i = 1; i < N; i++) assert.ok(results[i].lastInsertRowid > results[i - 1].lastInsertRowid);
  const [stats] = await db.query('SELECT count(*) AS c, count(DISTINCT n) AS d, min(n) AS lo, max(n) AS hi FROM t');
  assert.deepEqual(stats, { c: N, d: N, lo: 0, hi: N - 1 });
  const s = db.stats();
  assert.equal(s.transactionsCommitted, N + 1);
  assert.ok(s.batches < N, 'transactions were grouped into batches');
  await db.close();
});

test('mixed transactions, failures and queries interleaved', async () => {
  const db = new Committer(tempDb(), { queueCapacity: 64 });
  await db.execute('CREATE TABLE t (k INTEGER PRIMARY KEY)');
  const ops = [];
  const expected = [];
  const keys = new Set();
  for (let i = 0; i < 2000; i++) {
    if (i % 100 === 0) {
      ops.push(db.query('SELECT count(*) AS n FROM t').then(() => 'read'));
      expected.push('read');
    } else if (i % 7 === 0) {
      // Usually a key an earlier transaction inserted: commits follow submission order.
      ops.push(db.execute('INSERT INTO t VALUES (?)', [i - 1]).then(() => 'ok', (e) => e.code));
      expected.push(keys.has(i - 1) ? 'SQLITE_CONSTRAINT_PRIMARYKEY' : 'ok');
      keys.add(i - 1);
    } else {
      ops.push(db.transaction([['INSERT INTO t VALUES (?)', [i]], ['SELECT 1']]).then(() => 'ok'));
      expected.push('ok');
      keys.add(i);
    }
  }
  assert.deepEqual(await Promise.all(ops), expected);
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM t'), [{ n: keys.size }]);
  await db.close();
});

test('one threadsafe-function call per batch settles all of its transactions', async () => {
  // The native half directly: count the completion callbacks against the batches committed.
  const native = require('../litecommit.node');
  const N = 2000;
  const seen = new Set();
  let calls = 0;
  let done;
  const allSeen = new Promise((resolve) => (done = resolve));
  const db = native.open(tempDb(), { maxBatchSize: '64' }, ([numbers]) => {
    calls++;
    for (let j = 0; j < numbers.length; j += 4) {
      assert.equal(numbers[j + 1], 0, 'committed');
      seen.add(numbers[j]);
    }
    if (seen.size === N + 1) done();
  });
  db.ref();
  const [submit] = db.submitters();
  assert.equal(submit(0, 'CREATE TABLE t (v INTEGER)', undefined, false), null);
  for (let i = 1; i <= N; i++) assert.equal(submit(i, 'INSERT INTO t VALUES (?)', undefined, false, [i]), null);
  await allSeen;
  db.unref();
  const s = db.stats();
  assert.equal(s.transactionsCommitted, N + 1);
  assert.ok(s.batches >= Math.ceil(N / 64), `${s.batches} batches of at most 64`);
  assert.equal(calls, s.batches);
  const [err] = await db.close();
  assert.equal(err, undefined);
});
