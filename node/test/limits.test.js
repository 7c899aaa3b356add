'use strict';
// Never a crash: option values at and beyond their limits, and panics inside the addon,
// are JavaScript errors; the process goes on.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb, runScript } = require('./helpers');

// Each value is rejected at open with LITECOMMIT_INVALID_CONFIG naming the option. Some of
// them used to abort the process, so they run in a child process: a crash there fails this
// test instead of ending the test runner.
const REJECTED = [
  ['busyTimeoutMs', 2 ** 31, 'busy_timeout_ms'],
  ['busyTimeoutMs', 2n ** 40n, 'busy_timeout_ms'],
  ['checkpointBusyTimeoutMs', 2 ** 31, 'checkpoint_busy_timeout_ms'],
  ['queueCapacity', 1e9, 'queue_capacity'],
  ['queueCapacity', 2 ** 60, 'queue_capacity'],
  ['busyTimeoutMs', NaN, 'busy_timeout_ms'],
  ['busyTimeoutMs', Infinity, 'busy_timeout_ms'],
  ['busyTimeoutMs', -1, 'busy_timeout_ms'],
  ['busyTimeoutMs', 1.5, 'busy_timeout_ms'],
  ['busyTimeoutMs', 2n ** 64n, 'busy_timeout_ms'],
  ['busyTimeoutMs', -5n, 'busy_timeout_ms'],
  ['maxBatchSize', -Infinity, 'max_batch_size'],
  ['maxBatchSize', 1e21, 'max_batch_size'],
  ['maxBatchSize', '12abc', 'max_batch_size'],
  ['maxBatchSize', '', 'max_batch_size'],
  ['maxBatchSize', true, 'max_batch_size'],
  ['mmapSize', 2 ** 64, 'mmap_size'],
  ['passiveThresholdMb', NaN, 'passive_threshold_mb'],
  ['passiveThresholdMb', Infinity, 'passive_threshold_mb'],
  ['passiveThresholdMb', -1, 'passive_threshold_mb'],
  ['checkpoint', 2, 'checkpoint'],
];

/** `value` as JavaScript source text. */
function literal(value) {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'string':
      return JSON.stringify(value);
    default:
      return String(value); // numbers (NaN, Infinity, 1e+21 included) and booleans
  }
}

test('out-of-range and malformed option values are rejected at open, never a crash', async () => {
  const cases = REJECTED.map(([name, value]) => `[${JSON.stringify(name)}, ${literal(value)}]`);
  const source = `
const { Committer } = require('litecommit');
const results = [];
for (const [name, value] of [${cases.join(', ')}]) {
  try {
    const db = new Committer(process.argv[2] + results.length, { [name]: value });
    results.push({ opened: true });
    db.close();
  } catch (e) {
    results.push({ code: e.code, message: e.message, isError: e instanceof Error });
  }
}
console.log(JSON.stringify(results));
`;
  const r = await runScript(source, [tempDb()]);
  assert.equal(r.signal, null, `the child crashed: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout);
  assert.equal(results.length, REJECTED.length);
  REJECTED.forEach(([name, value, field], i) => {
    const what = `${name}: ${literal(value)}`;
    assert.equal(results[i].opened, undefined, `${what} was accepted`);
    assert.equal(results[i].isError, true, what);
    assert.equal(results[i].code, 'LITECOMMIT_INVALID_CONFIG', `${what}: ${results[i].message}`);
    assert.match(results[i].message, new RegExp(field), what);
  });
});

/** Opens a Committer; returns it with its native half, whose config() is the configuration in effect. */
function openWithNative(path, options) {
  const native = require('../litecommit.node');
  const open = native.open;
  let raw;
  native.open = (...args) => (raw = open(...args));
  try {
    return [new Committer(path, options), raw];
  } finally {
    native.open = open;
  }
}

test('option values at their limits, as numbers, bigints or strings, are accepted', async () => {
  const [db, raw] = openWithNative(tempDb(), {
    busyTimeoutMs: 2 ** 31 - 1,
    checkpointBusyTimeoutMs: 2n ** 31n - 1n,
    maxBatchSize: '250',
    queueCapacity: 4096n,
  });
  const { busyTimeoutMs, checkpointBusyTimeoutMs, maxBatchSize, queueCapacity } = raw.config();
  assert.deepEqual(
    { busyTimeoutMs, checkpointBusyTimeoutMs, maxBatchSize, queueCapacity },
    { busyTimeoutMs: 2 ** 31 - 1, checkpointBusyTimeoutMs: 2 ** 31 - 1, maxBatchSize: 250, queueCapacity: 4096 },
  );
  const { rows } = await db.execute('PRAGMA busy_timeout');
  assert.deepEqual(Object.values(rows[0]), [2 ** 31 - 1]);
  await db.execute('CREATE TABLE t (v INTEGER)');
  await Promise.all(Array.from({ length: 1000 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i])));
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM t'), [{ n: 1000 }]);
  await db.close();
});

test('a panic inside an export is a JavaScript Error, and the process goes on', async () => {
  const native = require('../litecommit.node');
  assert.throws(() => native.__panic('deliberate panic for the test'), (e) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /deliberate panic for the test/);
    return true;
  });
  // Again (a panic leaves nothing poisoned), and the addon still works.
  assert.throws(() => native.__panic('and again'), /and again/);
  const db = new Committer(tempDb());
  assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
  await db.close();
});
