'use strict';
// submitMany: one independent transaction per parameter set, all queued by one call.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer, LitecommitError } = require('..');
const { tempDb, runScript, holdWriteLock } = require('./helpers');

async function open(options = {}) {
  const path = tempDb();
  const db = new Committer(path, options);
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v)');
  return [db, path];
}

const count = async (db) => (await db.query('SELECT count(*) AS n FROM t'))[0].n;

test('one promise per set, each its own transaction', async () => {
  const [db] = await open();
  const promises = db.submitMany('INSERT INTO t (k, v) VALUES (?, ?)', [
    ['a', 1],
    ['b', 2n],
    ['a', 3],
    ['c', Buffer.from([7])],
  ]);
  assert.equal(promises.length, 4);
  assert.ok(promises.every((p) => p instanceof Promise));
  const settled = await Promise.allSettled(promises);
  assert.deepEqual(
    [0, 1, 3].map((i) => settled[i].value),
    [1, 2, 3].map((id) => ({ changes: 1, lastInsertRowid: id, rows: [] })),
  );
  // The failing set took nothing else with it.
  const { reason } = settled[2];
  assert.ok(reason instanceof LitecommitError);
  assert.equal(reason.code, 'SQLITE_CONSTRAINT_UNIQUE');
  assert.equal(reason.statementIndex, 0);
  const rows = await db.query('SELECT k, v FROM t ORDER BY id');
  assert.deepEqual(rows, [
    { k: 'a', v: 1 },
    { k: 'b', v: 2 },
    { k: 'c', v: Buffer.from([7]) },
  ]);
  await db.close();
});

test('named parameters, RETURNING rows, any iterable, no sets', async () => {
  const [db] = await open();
  function* sets() {
    for (let i = 0; i < 300; i++) yield { k: `k${i}`, v: i };
  }
  const promises = db.submitMany('INSERT INTO t (k, v) VALUES (:k, :v) RETURNING id, v', sets());
  const results = await Promise.all(promises);
  assert.deepEqual(
    results.map((r) => r.rows),
    Array.from({ length: 300 }, (_, i) => [{ id: i + 1, v: i }]),
  );
  // Positional and named sets mixed; sets without parameters.
  const mixed = await Promise.all(db.submitMany('INSERT INTO t (k) VALUES (:k)', [['p'], { k: 'n' }]));
  assert.deepEqual(mixed.map((r) => r.lastInsertRowid), [301, 302]);
  const bare = await Promise.all(db.submitMany('INSERT INTO t DEFAULT VALUES', [undefined, null, [], {}]));
  assert.deepEqual(bare.map((r) => r.lastInsertRowid), [303, 304, 305, 306]);
  assert.deepEqual(db.submitMany('DELETE FROM t', []), []);
  assert.equal(await count(db), 306);
  await db.close();
});

test('a bad parameter set throws, naming it, and nothing is queued', async () => {
  const [db] = await open();
  const sql = 'INSERT INTO t (k) VALUES (?)';
  assert.throws(() => db.submitMany(sql, [['a'], ['b'], [{}]]), {
    name: 'TypeError',
    message: /^paramsList\[2\]: parameter 1: unsupported value \(an Object\)/,
  });
  assert.throws(() => db.submitMany(sql, [['a'], [2n ** 64n]]), {
    name: 'RangeError',
    message: /^paramsList\[1\]: parameter 1: BigInt \d+ does not fit/,
  });
  assert.throws(() => db.submitMany(sql, [['a'], 'b']), {
    name: 'TypeError',
    message: /^paramsList\[1\]: params: expected an array \(positional\) or a plain object \(named\), got string/,
  });
  assert.throws(() => db.submitMany(sql, { k: 'a' }), { name: 'TypeError', message: /^paramsList: expected an array/ });
  assert.throws(() => db.submitMany(sql, 'abc'), { name: 'TypeError', message: /^paramsList: expected an array/ });
  assert.throws(() => db.submitMany(42, [['a']]), { name: 'TypeError', message: /^sql: expected a string/ });
  // A statement that is refused is refused for every set: the call throws.
  assert.throws(() => db.submitMany('COMMIT', [[], []]), (e) => {
    assert.ok(e instanceof LitecommitError);
    assert.equal(e.code, 'LITECOMMIT_REFUSED');
    return true;
  });
  await db.flush();
  assert.equal(await count(db), 0);
  await db.close();
  assert.throws(() => db.submitMany(sql, [['c']]), { code: 'LITECOMMIT_CLOSED' });
});

test('a rejection carries the stack of the submitMany call', async () => {
  const [db] = await open();
  await db.execute("INSERT INTO t (k) VALUES ('a')");
  function insertDuplicates() {
    return db.submitMany('INSERT INTO t (k) VALUES (?)', [['a']]);
  }
  const [p] = insertDuplicates();
  const e = await p.catch((err) => err);
  assert.ok(e instanceof LitecommitError, String(e));
  assert.equal(e.code, 'SQLITE_CONSTRAINT_UNIQUE');
  assert.ok(e.stack.startsWith(`LitecommitError: ${e.message}\n`), e.stack);
  assert.match(e.stack, /at insertDuplicates \(.*submit-many\.test\.js:\d+/, e.stack);
  await db.close();
});

test('more sets than the queue holds wait for room, in order', async () => {
  const [db, path] = await open({ queueCapacity: 4, maxBatchSize: 2, busyTimeoutMs: 60000, checkpoint: false });
  const lock = await holdWriteLock(path);
  let promises;
  try {
    promises = db.submitMany(
      'INSERT INTO t (v) VALUES (?)',
      Array.from({ length: 200 }, (_, i) => [i]),
    );
    // Behind the sets still waiting for room, an execute waits its turn.
    promises.push(db.execute('INSERT INTO t (v) VALUES (?)', [200]));
    assert.ok(db.stats().queueLength <= 4);
  } finally {
    await lock.release();
  }
  const results = await Promise.all(promises);
  assert.deepEqual(
    results.map((r) => r.lastInsertRowid),
    Array.from({ length: 201 }, (_, i) => i + 1),
  );
  const rows = await db.query('SELECT v FROM t ORDER BY id');
  assert.deepEqual(rows.map((r) => r.v), Array.from({ length: 201 }, (_, i) => i));
  await db.close();
});

test('process.exit() right after a submitMany larger than the queue: every set is committed', async () => {
  const path = tempDb();
  const r = await runScript(
    `
const { Committer } = require('litecommit');
const db = new Committer(process.argv[2], { queueCapacity: 100 });
db.execute('CREATE TABLE t (v INTEGER)');
db.submitMany('INSERT INTO t VALUES (?)', Array.from({ length: 20000 }, (_, i) => [i]));
process.exit(0);
`,
    [path],
  );
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, r.stderr);
  const db = new Committer(path);
  assert.deepEqual(await db.query('SELECT count(*) AS n, sum(v) AS s FROM t'), [{ n: 20000, s: (19999 * 20000) / 2 }]);
  await db.close();
});
