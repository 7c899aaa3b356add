'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer, LitecommitError } = require('..');
const { tempDb } = require('./helpers');

async function open(options) {
  const db = new Committer(tempDb(), options);
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
  await assert.rejects(db.query('INSERT INTO kv VALUES (1, 2)'), (e) => e instanceof LitecommitError);
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

test('checkpoint runs each mode and rejects an unknown one', async () => {
  const db = await open({ checkpoint: false });
  for (let i = 0; i < 50; i++) await db.execute('INSERT INTO kv VALUES (?, ?)', [`k${i}`, i]);
  for (const mode of ['passive', 'full', 'restart', 'truncate']) {
    const r = await db.checkpoint(mode);
    assert.equal(r.mode, mode);
    assert.equal(typeof r.logFrames, 'number');
    assert.equal(typeof r.checkpointedFrames, 'number');
    assert.equal(typeof r.busy, 'boolean');
  }
  const dflt = await db.checkpoint();
  assert.equal(dflt.mode, 'passive');
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
    'batch_committer_flushes_total',
    'batch_committer_batch_size',
    'batch_committer_flush_duration_ms',
    'batch_committer_commit_latency_ms',
    'batch_committer_queue_depth',
    'batch_committer_transactions_total',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
  }
  assert.match(text, /batch_committer_transactions_total\{outcome="committed"\} 21/);
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

test('camelCase options map to the configuration; bad ones throw', async () => {
  const db = new Committer(tempDb(), {
    durability: 'normal',
    flushPolicy: 'ticker',
    maxBatchSize: 7,
    maxWaitMs: 1,
    queueCapacity: 100,
    readConnections: 2,
    checkpoint: false,
    passiveThresholdMb: 1,
    restartThresholdMb: 2.5,
    dynamicBatchSize: false,
    busyTimeoutMs: '1000',
    cacheSizeKib: 1024,
    journalSizeLimit: -1,
    foreignKeys: true,
    lingerMs: undefined,
  });
  await db.execute('CREATE TABLE t (v INTEGER)');
  await Promise.all(Array.from({ length: 50 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i])));
  assert.ok(db.stats().maxBatchSize <= 7);
  await db.close();

  const bad = (options, code) => assert.throws(() => new Committer(tempDb(), options), { code });
  bad({ maxBatchSize: 0 }, 'LITECOMMIT_INVALID_CONFIG');
  bad({ durability: 'sometimes' }, 'LITECOMMIT_INVALID_CONFIG');
  bad({ restartThresholdMb: 1, passiveThresholdMb: 4 }, 'LITECOMMIT_INVALID_CONFIG');
  bad({ noSuchOption: 1 }, 'LITECOMMIT_INVALID_CONFIG');
  bad({ maxBatchSize: 'many' }, 'LITECOMMIT_INVALID_CONFIG');
  assert.throws(() => new Committer(tempDb(), { maxBatchSize: {} }), { name: 'TypeError', message: /maxBatchSize/ });
  assert.throws(() => new Committer(tempDb(), 'fast'), TypeError);
  assert.throws(() => new Committer(42), TypeError);
  assert.throws(() => new Committer('/nonexistent-dir/sub/x.db'), { code: 'LITECOMMIT_OPEN' });
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
