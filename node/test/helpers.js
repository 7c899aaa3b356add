'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const NODE_DIR = path.resolve(__dirname, '..');

/** A fresh temporary directory, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'litecommit-node-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tempDb(name = 'test.db') {
  return path.join(tempDir(), name);
}

/**
 * Runs a child process to completion; resolves to { code, signal, stdout, stderr }.
 * A child still running after `timeoutMs` is killed (and the result says so).
 */
function run(command, args, { timeoutMs = 120_000, ...options } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Runs `source` as a CommonJS script in a child node process that can require('litecommit'). */
async function runScript(source, args = [], options = {}) {
  const dir = tempDir();
  linkPackage(dir);
  const file = path.join(dir, options.name || 'script.js');
  fs.writeFileSync(file, source);
  return run(process.execPath, [file, ...args], { cwd: dir, ...options });
}

/**
 * Makes `require('litecommit')` / `import 'litecommit'` (and the optional peers prom-client,
 * drizzle-orm and kysely) work in `dir`.
 */
function linkPackage(dir) {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  const links = { litecommit: NODE_DIR };
  for (const peer of ['prom-client', 'drizzle-orm', 'kysely']) links[peer] = path.join(NODE_DIR, 'node_modules', peer);
  for (const [name, target] of Object.entries(links)) {
    const link = path.join(dir, 'node_modules', name);
    if (!fs.existsSync(link)) fs.symlinkSync(target, link, 'dir');
  }
}

/**
 * Holds SQLite's write lock on `dbPath` from another process (Python's sqlite3) until
 * `release()` is called: the committer's writer then waits in its busy handler. With
 * `exclusive`, takes an EXCLUSIVE lock on a rollback-journal database instead, which
 * keeps every other connection out, even from reading its schema.
 */
function holdWriteLock(dbPath, { exclusive = false } = {}) {
  return holdInPython(
    dbPath,
    exclusive
      ? ["c.execute('PRAGMA journal_mode=DELETE')", "c.execute('CREATE TABLE IF NOT EXISTS held (v)')", "c.execute('BEGIN EXCLUSIVE')"]
      : ["c.execute('BEGIN IMMEDIATE')"],
  );
}

/**
 * Holds a read transaction on `dbPath` from another process until `release()` is called:
 * meanwhile no checkpoint can copy what was committed after it started into the database.
 */
function holdReadSnapshot(dbPath) {
  return holdInPython(dbPath, ["c.execute('BEGIN')", "c.execute('SELECT count(*) FROM sqlite_schema').fetchall()"]);
}

/** Runs `statements` on a Python sqlite3 connection `c` to `dbPath`, then holds it open until `release()`. */
function holdInPython(dbPath, statements) {
  const script = [
    'import sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)',
    ...statements,
    "print('locked', flush=True)",
    'sys.stdin.readline()',
    "c.execute('COMMIT')",
    'c.close()',
  ].join('\n');
  const child = spawn('python3', ['-c', script, dbPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('close', resolve));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (d) => {
      if (String(d).includes('locked')) {
        resolve({
          release() {
            child.stdin.end('\n');
            return exited;
          },
        });
      }
    });
    exited.then((code) => reject(new Error(`lock holder exited early (${code})`)));
  });
}

/**
 * Resolves once `ready()` (sync or async) returns true, checking every few milliseconds.
 * Rejects only after `timeoutMs`, which is generous: reaching it means something is stuck.
 */
async function waitUntil(ready, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

module.exports = { NODE_DIR, tempDir, tempDb, run, runScript, linkPackage, holdWriteLock, holdReadSnapshot, waitUntil };
