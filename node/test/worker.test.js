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
      const [{ n }] = await db.query('SELECT count(DISTINCT i) AS n FROM t');
      parentPort.postMessage(n);
      await db.close();
    })();
  `;
  const runs = await Promise.all(
    [0, 1, 2].map((w) => runWorker(source, { w, path: path.join(dir, `w${w}.db`) })),
  );
  for (const r of runs) {
    assert.equal(r.code, 0);
    assert.deepEqual(r.messages, [1000]);
  }
});

test('a worker that ends without closing: its queued writes are committed', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'unclosed.db');
  const r = await runWorker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const { Committer } = require(workerData.index);
    const db = new Committer(workerData.path);
    db.execute('CREATE TABLE t (i INTEGER)');
    for (let i = 0; i < 500; i++) db.execute('INSERT INTO t VALUES (?)', [i]);
    process.exit(0); // ends this worker's environment at once
    `,
    { path: db },
  );
  assert.equal(r.code, 0);
  const check = new Committer(db);
  assert.deepEqual(await check.query('SELECT count(*) AS n FROM t'), [{ n: 500 }]);
  await check.close();
});
