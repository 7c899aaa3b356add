'use strict';
// Crash durability: a child process writes with durability 'full' and prints every id whose
// promise resolved; it is killed with SIGKILL at a random moment. Reopened, the database
// must hold every acknowledged id, each transaction whole, and pass integrity_check.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Committer } = require('..');
const { tempDir, linkPackage } = require('./helpers');

const ROUNDS = 5;

const WRITER = `
const { Committer } = require('litecommit');
const [file, first] = process.argv.slice(2);
const db = new Committer(file, { durability: 'full', queueCapacity: 256 });
let next = Number(first);
// Many transactions in flight; each prints its id once its promise resolved. Writes to a
// pipe are synchronous on Linux: a printed id has left the process.
async function writer() {
  for (;;) {
    const id = next++;
    await db.transaction([
      ['INSERT INTO t (id, payload) VALUES (?, ?)', [id, 'x'.repeat(id % 700)]],
      ['INSERT INTO u (id) VALUES (?)', [id]],
    ]);
    process.stdout.write(id + '\\n');
  }
}
(async () => {
  await db.execute('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
  await db.execute('CREATE TABLE IF NOT EXISTS u (id INTEGER PRIMARY KEY)');
  for (let i = 0; i < 64; i++) writer();
})();
`;

/** A small deterministic generator (mulberry32), so a failing seed can be replayed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the writer until `acks` ids are acknowledged, kills it; resolves to every acked id. */
function writeUntilKilled(script, file, first, acks) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, file, String(first)], {
      cwd: path.dirname(script),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let seen = 0;
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      if (!killed) {
        seen += d.split('\n').length - 1;
        if (seen >= acks) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    // A writer that never gets that far is stuck: fail instead of waiting forever.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!killed) return reject(new Error(`the writer ended on its own (${code}, ${signal}): ${err}`));
      assert.equal(signal, 'SIGKILL');
      // Only whole lines: an id is acknowledged once its newline is out.
      const lines = out.split('\n');
      lines.pop();
      resolve(lines.map(Number));
    });
  });
}

test('kill -9 at random moments: every acknowledged transaction survives, whole', async (t) => {
  const dir = tempDir();
  linkPackage(dir);
  const script = path.join(dir, 'writer.js');
  fs.writeFileSync(script, WRITER);
  const file = path.join(dir, 'crash.db');
  const seed = Number(process.env.LITECOMMIT_CRASH_SEED ?? Date.now() % 2 ** 32);
  t.diagnostic(`seed ${seed} (replay with LITECOMMIT_CRASH_SEED=${seed})`);
  const rand = random(seed);
  let acknowledged = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const acks = 50 + Math.floor(rand() * 3000);
    const first = (round + 1) * 1_000_000;
    const acked = await writeUntilKilled(script, file, first, acks);
    assert.ok(acked.length >= acks, `round ${round}: ${acked.length} acknowledged`);
    acknowledged += acked.length;

    const db = new Committer(file, { checkpoint: false });
    try {
      assert.deepEqual(await db.query('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
      const ids = new Set((await db.query('SELECT id FROM t WHERE id >= ? AND id < ?', [first, first + 1_000_000])).map((r) => r.id));
      const missing = acked.filter((id) => !ids.has(id));
      assert.deepEqual(missing, [], `round ${round} (seed ${seed}): acknowledged but lost`);
      // Both statements of every transaction, or neither; payloads intact.
      const [counts] = await db.query(
        'SELECT (SELECT count(*) FROM t) AS t, (SELECT count(*) FROM u) AS u, ' +
          '(SELECT count(*) FROM t JOIN u USING (id)) AS paired, ' +
          "(SELECT count(*) FROM t WHERE length(payload) <> id % 700 OR trim(payload, 'x') <> '') AS damaged",
      );
      assert.ok(counts.t >= acknowledged, `round ${round}: ${counts.t} rows`);
      assert.equal(counts.u, counts.t, `round ${round}: half-applied transactions`);
      assert.equal(counts.paired, counts.t, `round ${round}: half-applied transactions`);
      assert.equal(counts.damaged, 0, `round ${round}: damaged payloads`);
    } finally {
      await db.close();
    }
  }
  t.diagnostic(`${ROUNDS} kills, ${acknowledged} acknowledged transactions checked, 0 lost`);
});
