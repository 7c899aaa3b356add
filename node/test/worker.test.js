'use strict';
// worker_threads: each worker opens its own committer (a committer belongs to the thread
// that created it: its promises settle on that thread's event loop).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Committer } = require('..');
const { tempDir } = require('./helpers');

const INDEX = path.resolve(__dirname, '..', 'index.js');

function runWorker(source, workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { ...workerData, index: INDEX } });
    const messages = [];
    worker.on('message', (m) => messages.push(m));
    worker.on('error', reject);
    worker.on('exit', (code) => resolve({ code, messages, worker }));
  });
}

test('each worker its own committer, all at once', async () => {
  const dir = tempDir();
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { Committer } = require(workerData.index);
    (async () => {
      const db = new Committer(workerData.path);
      await db.execute('CREATE TABLE t (w INTEGER, i INTEGER)');
      await Promise.all(Array.from({ length: 1000 }, (_, i) => db.execute('INSERT INTO t VALUES (?, ?)', [workerData.w, i])));
      parentPort.postMessage(await db.query('SELECT count(*) AS n, count(DISTINCT i) AS d, min(i) AS lo, max(i) AS hi, min(w) AS w1, max(w) AS w2 FROM t'));
      await db.close();
    })();
  `;
  const runs = await Promise.all(
    [0, 1, 2].map((w) => runWorker(source, { w, path: path.join(dir, `w${w}.db`) })),
  );
  runs.forEach((r, w) => {
    assert.equal(r.code, 0);
    // Every row exactly once, all of them from this worker.
    assert.deepEqual(r.messages, [[{ n: 1000, d: 1000, lo: 0, hi: 999, w1: w, w2: w }]]);
  });
});

// The worker submits more than its queue holds (most of them wait for room), then ends
// without closing: every submission must be committed all the same.
const SUBMIT_MANY = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { Committer } = require(workerData.index);
  const db = new Committer(workerData.path, { queueCapacity: 500 });
  db.execute('CREATE TABLE t (i INTEGER)');
  for (let i = 0; i < 20000; i++) db.execute('INSERT INTO t VALUES (?)', [i]);
`;

async function countRows(file) {
  const check = new Committer(file);
  try {
    return await check.query('SELECT count(*) AS n, count(DISTINCT i) AS d FROM t');
  } finally {
    await check.close();
  }
}

test('process.exit() in a worker with more submissions than the queue holds: every one is committed', async () => {
  const db = path.join(tempDir(), 'exit.db');
  // process.exit() in a worker ends that worker's environment at once.
  const r = await runWorker(SUBMIT_MANY + 'process.exit(0);', { path: db });
  assert.equal(r.code, 0);
  assert.deepEqual(await countRows(db), [{ n: 20000, d: 20000 }]);
});

test('worker.terminate() with more submissions than the queue holds: every one is committed', async () => {
  const db = path.join(tempDir(), 'terminate.db');
  // The worker's JavaScript never returns to its event loop after submitting, so nothing
  // moves out of the waiting list before terminate() stops it.
  const worker = new Worker(SUBMIT_MANY + "parentPort.postMessage('submitted'); for (;;);", {
    eval: true,
    workerData: { path: db, index: INDEX },
  });
  const exited = new Promise((resolve, reject) => {
    worker.on('exit', resolve);
    worker.on('error', reject);
  });
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  await exited;
  assert.deepEqual(await countRows(db), [{ n: 20000, d: 20000 }]);
});
