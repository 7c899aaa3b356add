'use strict';
// The process exits by itself: pending promises keep it alive until their batch commits,
// an idle open committer does not, and queued work is never dropped.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb, runScript, holdReadSnapshot } = require('./helpers');

const writes = (n, options = {}) => `
const { Committer } = require('litecommit');
const db = new Committer(process.argv[2], ${JSON.stringify(options)});
db.execute('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
for (let i = 0; i < ${n}; i++) db.execute('INSERT INTO t VALUES (?)', [i]);
`;
const WRITE = writes(1000);
// Fifty times what the queue holds: when the script ends, almost all of them are still
// waiting for room in the queue.
const WRITE_MANY = writes(50000, { queueCapacity: 1000 });

async function count(path) {
  const db = new Committer(path);
  const [{ n }] = await db.query('SELECT count(*) AS n FROM t');
  await db.close();
  return n;
}

async function expectCleanExit(source, path) {
  const r = await runScript(source, [path]);
  assert.equal(r.timedOut, false, 'the child exited by itself');
  assert.equal(r.code, 0, r.stderr);
  return r;
}

test('writes not awaited, committer never closed: exits once they are durable', async () => {
  const path = tempDb();
  await expectCleanExit(WRITE, path);
  assert.equal(await count(path), 1000);
});

test('process.exit() right after submitting more than the queue holds: every submission is committed', async () => {
  const path = tempDb();
  await expectCleanExit(WRITE_MANY + 'process.exit(0);\n', path);
  assert.equal(await count(path), 50000);
});

test('awaiting close: every promise settled, then the process exits', async () => {
  const path = tempDb();
  const r = await expectCleanExit(
    WRITE.replace('for (', 'const p = [];\nfor (')
      .replace("db.execute('INSERT", "p.push(db.execute('INSERT")
      .replace('[i]);', '[i]));') +
      `
(async () => {
  await db.close();
  const settled = await Promise.allSettled(p);
  console.log(settled.filter((s) => s.status === 'fulfilled').length);
})();
`,
    path,
  ).catch((e) => e);
  assert.ok(!(r instanceof Error), String(r));
  assert.equal(r.stdout.trim(), '1000');
  assert.equal(await count(path), 1000);
});

test('an open committer with nothing pending does not keep the process alive', async () => {
  const path = tempDb();
  const r = await expectCleanExit(
    `
const { Committer } = require('litecommit');
const db = new Committer(process.argv[2]);
(async () => {
  await db.execute('CREATE TABLE t (v INTEGER)');
  await db.execute('INSERT INTO t VALUES (1)');
  await db.query('SELECT * FROM t');
  await db.flush();
  globalThis.keep = db; // still open and reachable
  console.log('idle');
})();
`,
    path,
  );
  assert.equal(r.stdout.trim(), 'idle');
  assert.equal(await count(path), 1);
});

test('an uncaught exception with more writes in flight than the queue holds: every one is committed', async () => {
  const path = tempDb();
  const r = await runScript(WRITE_MANY + "setImmediate(() => { throw new Error('boom'); });\n", [path]);
  assert.equal(r.timedOut, false);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /boom/);
  assert.equal(await count(path), 50000);
});

test('a committer garbage-collected unclosed closes off the JavaScript thread, losing nothing', async () => {
  const path = tempDb();
  const setup = new Committer(path);
  await setup.execute('CREATE TABLE t (v INTEGER)');
  await setup.execute('INSERT INTO t VALUES (1)');
  await setup.close();
  // While this reader holds its snapshot, a RESTART checkpoint waits for it (for up to
  // checkpointBusyTimeoutMs), and so does closing the committer, which stops the
  // checkpoint thread.
  const reader = await holdReadSnapshot(path);
  let r;
  try {
    r = await runScript(
      `
const { Committer } = require('litecommit');
require('node:v8').setFlagsFromString('--expose-gc');
const gc = require('node:vm').runInNewContext('gc');
const turn = () => new Promise((resolve) => setImmediate(resolve));
let collected = false;
const registry = new FinalizationRegistry(() => (collected = true));

async function commitAndForget() {
  // Every commit crosses the RESTART threshold.
  const db = new Committer(process.argv[2], {
    passiveThresholdMb: 0.001,
    restartThresholdMb: 0.001,
    checkpointBusyTimeoutMs: 600000,
  });
  await db.execute('INSERT INTO t VALUES (2)');
  while (!db.stats().checkpointRunning) await turn();
  registry.register(db, 'db');
}

(async () => {
  await commitAndForget();
  while (!collected) {
    gc();
    await turn();
  }
  // The native half's finalizer has run by now (the collection queued it before the
  // registry's callback); more turns of the event loop show the thread is free.
  for (let i = 0; i < 10; i++) {
    gc();
    await turn();
  }
  console.log('collected');
})();
`,
      [path],
      { timeoutMs: 300_000 },
    );
  } finally {
    await reader.release();
  }
  assert.equal(r.timedOut, false, 'the event loop went on while the close waited for the checkpoint');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'collected');
  assert.equal(await count(path), 2);
});
