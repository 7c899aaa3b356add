'use strict';
// The process exits by itself: pending promises keep it alive until their batch commits,
// an idle open committer does not, and queued work is never dropped.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb, runScript } = require('./helpers');

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
