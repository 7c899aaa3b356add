'use strict';
// `npm install <checkout>/node` in a fresh project builds the addon (install script) and
// gives working CommonJS, ESM and TypeScript entry points. The install rewrites
// litecommit.node, so test files must not run concurrently (--test-concurrency=1).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { NODE_DIR, tempDir, run, runScript } = require('./helpers');

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm install ./node in a fresh project: CommonJS, ESM, subpath and TypeScript', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fresh', version: '1.0.0', private: true }));
  const install = await run(npm, ['install', NODE_DIR, '--no-audit', '--no-fund', '--foreground-scripts'], {
    cwd: dir,
    timeoutMs: 900_000,
  });
  assert.equal(install.code, 0, install.stdout + install.stderr);
  assert.match(install.stdout, /litecommit: built /, 'the install script built the addon');
  // The addon users get exports no benchmark helper (only `npm run build:bench` adds it).
  const addon = require(path.join(NODE_DIR, 'litecommit.node'));
  assert.deepEqual(Object.keys(addon).sort(), ['NativeCommitter', '__panic', 'open']);

  fs.writeFileSync(
    path.join(dir, 'cjs.js'),
    `const lc = require('litecommit');
const { registerMetrics } = require('litecommit/prometheus');
(async () => {
  const db = new lc.Committer('cjs.db');
  await db.execute('CREATE TABLE t (v)');
  const r = await db.execute('INSERT INTO t VALUES (?)', [1]);
  console.log(typeof registerMetrics, r.changes, Object.keys(lc).sort().join(','));
  await db.close();
})();`,
  );
  const cjs = await run(process.execPath, ['cjs.js'], { cwd: dir });
  assert.equal(cjs.code, 0, cjs.stderr);
  assert.equal(cjs.stdout.trim(), 'function 1 Committer,LitecommitError');

  fs.writeFileSync(
    path.join(dir, 'esm.mjs'),
    `import { Committer, LitecommitError } from 'litecommit';
import litecommit from 'litecommit';
import { registerMetrics } from 'litecommit/prometheus';
if (typeof registerMetrics !== 'function') throw new Error('no registerMetrics');
const db = new Committer('esm.db');
await db.execute('CREATE TABLE t (v)');
const err = await db.execute('INSERT INTO nowhere VALUES (1)').catch((e) => e);
console.log(err instanceof LitecommitError, litecommit.Committer === Committer);
await db.close();`,
  );
  const esm = await run(process.execPath, ['esm.mjs'], { cwd: dir });
  assert.equal(esm.code, 0, esm.stderr);
  assert.equal(esm.stdout.trim(), 'true true');

  // Type-check a program using every public name against index.d.ts, and the adapters
  // (with the optional peers drizzle-orm and kysely the project would install) from
  // CommonJS and from an ES module.
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  fs.symlinkSync(path.join(NODE_DIR, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'));
  for (const peer of ['drizzle-orm', 'kysely']) {
    fs.symlinkSync(path.join(NODE_DIR, 'node_modules', peer), path.join(dir, 'node_modules', peer));
  }
  const tsc = path.join(NODE_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
  fs.copyFileSync(path.join(__dirname, 'types', 'check.ts'), path.join(dir, 'check.ts'));
  const typed = await run(process.execPath, [tsc, ...args, 'check.ts'], { cwd: dir });
  assert.equal(typed.code, 0, typed.stdout + typed.stderr);
  for (const file of ['adapters.ts', 'adapters.mts']) {
    fs.copyFileSync(path.join(__dirname, 'types', 'adapters.ts'), path.join(dir, file));
    const adapters = await run(process.execPath, [tsc, ...args, '--skipLibCheck', file], { cwd: dir });
    assert.equal(adapters.code, 0, `${file}: ${adapters.stdout}${adapters.stderr}`);
  }
  // And misuses are caught: a value of the wrong type, a misspelt option.
  fs.writeFileSync(
    path.join(dir, 'bad.ts'),
    "import { Committer } from 'litecommit';\n" +
      "new Committer('x.db').execute('SELECT ?', [new Date()]);\n" +
      "new Committer('y.db', { maxBatchSise: 10 });\n" +
      "new Committer('z.db').query<{ n: number }>('SELECT 1 AS n').then((rows) => rows[0].n.toUpperCase());\n" +
      "new Committer('w.db').submitMany('SELECT ?', [[1], [new Date()]]);\n",
  );
  const bad = await run(process.execPath, [tsc, ...args, 'bad.ts'], { cwd: dir });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /bad\.ts\(2,.*Date/);
  assert.match(bad.stdout, /bad\.ts\(3,.*maxBatchSise/);
  assert.match(bad.stdout, /bad\.ts\(4,.*toUpperCase/);
  assert.match(bad.stdout, /bad\.ts\(5,.*Date/);
});

// The addon's allocator (mimalloc) commits its arenas as it hands out their pages: committed
// at once, they are backed by transparent huge pages, and the first transactions made the
// process about 16 MB larger.
test('the allocator takes no transparent huge pages', async (t) => {
  const thp = '/sys/kernel/mm/transparent_hugepage/enabled';
  if (!fs.existsSync(thp) || !fs.readFileSync(thp, 'utf8').includes('[madvise]')) {
    t.skip('transparent huge pages are not in madvise mode here');
    return;
  }
  const r = await runScript(`const fs = require('node:fs');
const { Committer } = require('litecommit');
(async () => {
  const db = new Committer('huge.db');
  await db.execute('CREATE TABLE t (x)');
  await Promise.all(db.submitMany('INSERT INTO t VALUES (?)', Array.from({ length: 5000 }, () => [Buffer.alloc(100)])));
  const line = fs.readFileSync('/proc/self/smaps_rollup', 'utf8').split('\\n').find((l) => l.startsWith('AnonHugePages'));
  console.log(line.split(/\\s+/)[1]);
  await db.close();
})();`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.stdout.trim()) < 2048, `${r.stdout.trim()} KiB of AnonHugePages`);
});
