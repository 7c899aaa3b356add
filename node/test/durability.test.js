'use strict';
// Durability modes and the adaptive policy's linger.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb, waitUntil } = require('./helpers');

/** Reads a pragma on the writer connection (through a transaction). */
async function writerPragma(db, name) {
  const { rows } = await db.execute(`PRAGMA ${name}`);
  return Object.values(rows[0])[0];
}

test("durability sets the writer's PRAGMA synchronous: full 2, normal 1, off 0", async () => {
  const expected = { full: 2, normal: 1, off: 0, [undefined]: 2 };
  for (const durability of ['full', 'normal', 'off', undefined]) {
    const db = new Committer(tempDb(), { durability });
    assert.equal(await writerPragma(db, 'synchronous'), expected[durability], String(durability));
    assert.equal(await writerPragma(db, 'journal_mode'), 'wal');
    await db.execute('CREATE TABLE t (v INTEGER)');
    await Promise.all(Array.from({ length: 100 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i])));
    assert.deepEqual(await db.query('SELECT count(*) AS n FROM t'), [{ n: 100 }]);
    await db.close();
  }
});

test('lingerMs: a lone transaction waits for company, and those that come share its batch', async () => {
  // A linger far longer than the test: the batch below can only commit because it fills.
  const db = new Committer(tempDb(), {
    lingerMs: 600_000,
    maxBatchSize: 3,
    dynamicBatchSize: false,
    checkpoint: false,
    durability: 'off',
  });
  // flush() ends a batch at once, linger or not.
  await Promise.all([db.execute('CREATE TABLE t (v INTEGER)'), db.flush()]);
  const before = db.stats();
  const settled = [];
  const a = db.execute('INSERT INTO t VALUES (1)').then((r) => (settled.push('a'), r));
  // Each submission in its own turn of the event loop, after a round trip to the read pool
  // (time in which a writer that does not linger commits what it has).
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM t'), [{ n: 0 }]);
  const b = db.execute('INSERT INTO t VALUES (2)').then((r) => (settled.push('b'), r));
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM t'), [{ n: 0 }]);
  assert.deepEqual(settled, []);
  const c = db.execute('INSERT INTO t VALUES (3)');
  await Promise.all([a, b, c]);
  const after = db.stats();
  assert.equal(after.batches - before.batches, 1, 'one batch');
  assert.equal(after.flushes.size - (before.flushes.size ?? 0), 1, 'flushed because it was full');
  assert.equal(after.maxBatchSize, 3);
  await db.close();
});

test('lingerMs: the writer holds a transaction it took for the ones after it; flush() ends the wait', async () => {
  // A linger far longer than the test: only the flush below can end the batch.
  const db = new Committer(tempDb(), { lingerMs: 600_000, checkpoint: false, durability: 'off' });
  await Promise.all([db.execute('CREATE TABLE t (v INTEGER)'), db.flush()]);
  const before = db.stats();
  const settled = [];
  // The submission enters the queue before execute() returns; an empty queue then means
  // the writer has taken it.
  const a = db.execute('INSERT INTO t VALUES (1)').then((r) => (settled.push('a'), r));
  await waitUntil(() => db.stats().queueLength === 0, 'the writer to take the transaction');
  assert.equal(db.stats().batches, before.batches, 'the writer holds it uncommitted');
  assert.deepEqual(settled, []);
  const b = db.execute('INSERT INTO t VALUES (2)');
  await db.flush();
  await Promise.all([a, b]);
  const after = db.stats();
  assert.equal(after.batches - before.batches, 1, 'one batch');
  assert.equal(after.maxBatchSize, 2, 'holding both');
  assert.equal((after.flushes.flush ?? 0) - (before.flushes.flush ?? 0), 1, 'ended by flush()');
  assert.equal(after.flushes.adaptive ?? 0, before.flushes.adaptive ?? 0, 'not by the linger');
  assert.deepEqual(await db.query('SELECT v FROM t ORDER BY v'), [{ v: 1 }, { v: 2 }]);
  await db.close();
});
