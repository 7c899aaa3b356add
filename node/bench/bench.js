'use strict';
// Side by side, durability full, one fresh database each, single-row inserts:
//   better-sqlite3  one transaction per insert (autocommit), twice: in a plain loop (the
//                   event loop is blocked for the whole run) and yielding to the event
//                   loop after each insert, as a server handling one write per tick would
//   litecommit      `concurrency` promises in flight (async workers awaiting execute), with
//                   the default options, and with `captureStack: true` (each call captures
//                   its caller's stack); and through submitMany: `concurrency / chunk`
//                   workers, each submitting `chunk` inserts in one call and awaiting them
//   Rust core       the same load through the core alone (native __benchCore, built only by
//                   `npm run build:bench`, as `make bench-node` does)
//   JS floor        the same promises settled by an in-memory stand-in (V8's own cost)
// Measures throughput, per-insert latency p50/p99 and, for the JS runs, the event loop's
// delay (perf_hooks.monitorEventLoopDelay). Prints the ratios against the targets.
// Machines are noisy: the litecommit runs and the core run `rounds` times, interleaved
// (every round runs each of them once, in alternating order), and each binding/core ratio
// is the median of its per-round ratios; the table shows each run's median round.
//   node bench/bench.js [--n 200000] [--bsq-n 2000] [--concurrency 1000] [--chunk 100]
//                       [--rounds 3] [--dir DIR] [--runs bsq,lc,lc-stack,lc-many,core,floor]
// `--runs` picks some of the runs (better-sqlite3 and the core need their builds only when
// picked); the ratios are printed for the runs present.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { Committer } = require('..');
const native = require('../litecommit.node');

const RUNS = ['bsq', 'lc', 'lc-stack', 'lc-many', 'core', 'floor'];

function args() {
  const out = { n: 200000, 'bsq-n': 2000, concurrency: 1000, chunk: 100, rounds: 3, dir: os.tmpdir(), runs: RUNS.join(',') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out) || argv[i + 1] === undefined) {
      console.error(
        `usage: bench.js [--n N] [--bsq-n N] [--concurrency K] [--chunk C] [--rounds R] [--dir DIR] ` +
          `[--runs ${RUNS.join(',')}] (bad: ${argv[i]})`,
      );
      process.exit(2);
    }
    out[key] = key === 'dir' || key === 'runs' ? argv[i + 1] : Number(argv[i + 1]);
  }
  out.runs = new Set(out.runs.split(','));
  const unknown = [...out.runs].filter((r) => !RUNS.includes(r));
  if (unknown.length > 0) {
    console.error(`bench.js: unknown runs ${unknown.join(',')} (known: ${RUNS.join(',')})`);
    process.exit(2);
  }
  return out;
}

/** Targets: litecommit at least this many times better-sqlite3's throughput, and at most
 * this fraction of its event-loop delay (p99) the other way round. */
const MIN_RATIO_OVER_BETTER_SQLITE3 = 10;
/** Target: the binding keeps at least this fraction of the Rust core's throughput, with
 * execute and with submitMany. */
const MIN_BINDING_SHARE_OF_CORE = 0.7;


const SCHEMA = 'CREATE TABLE bench (id INTEGER PRIMARY KEY, payload TEXT)';
const INSERT = 'INSERT INTO bench (payload) VALUES (?)';

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(name, n, seconds, latencies, loop) {
  latencies.sort((a, b) => a - b);
  return {
    name,
    n,
    seconds,
    throughput: n / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    loopP50: loop ? loop.percentile(50) / 1e6 : NaN,
    loopP99: loop ? loop.percentile(99) / 1e6 : NaN,
    loopMax: loop ? loop.max / 1e6 : NaN,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An enabled event-loop delay histogram, past its first tick so that a blocked loop's
 * first gap is recorded. Stop it with `stop`, which lets it see the loop's last gap. */
async function monitor() {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(3);
  return h;
}

async function stop(h) {
  await sleep(3);
  h.disable();
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function benchBetterSqlite3(file, n, yieldEach) {
  const Database = require('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  const insert = db.prepare(INSERT);
  const latencies = new Array(n);
  const loop = await monitor();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    insert.run(`payload-${i}`);
    latencies[i] = performance.now() - t0;
    if (yieldEach) await tick();
  }
  const seconds = (performance.now() - start) / 1000;
  await stop(loop);
  db.close();
  const how = yieldEach ? 'yielding after each' : 'plain loop';
  return summary(`better-sqlite3 (1 tx per insert, ${how})`, n, seconds, latencies, loop);
}

/** `concurrency` async workers awaiting `execute(INSERT, ...)` until `n` inserts are done. */
async function runWorkers(execute, n, concurrency) {
  const latencies = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      await execute(INSERT, [`payload-${i}`]);
      latencies[i] = performance.now() - t0;
    }
  };
  const loop = await monitor();
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  await stop(loop);
  return { seconds, latencies, loop };
}

async function benchLitecommit(file, n, concurrency, captureStack) {
  const db = new Committer(file, { durability: 'full', captureStack });
  await db.execute(SCHEMA);
  const { seconds, latencies, loop } = await runWorkers((sql, params) => db.execute(sql, params), n, concurrency);
  const [{ count }] = await db.query('SELECT count(*) AS count FROM bench');
  if (count !== n) throw new Error(`litecommit: ${count} rows, expected ${n}`);
  const stats = db.stats();
  await db.close();
  const how = captureStack ? ', captureStack' : '';
  const s = summary(`litecommit (${concurrency} promises${how})`, n, seconds, latencies, loop);
  s.meanBatch = stats.meanBatchSize;
  return s;
}

/**
 * The same inserts through submitMany: `concurrency / chunk` workers, each submitting
 * `chunk` inserts in one call and awaiting all of them before the next call, so at most
 * `concurrency` are in flight. An insert's latency is that of its whole chunk.
 */
async function benchSubmitMany(file, n, concurrency, chunk) {
  const db = new Committer(file, { durability: 'full' });
  await db.execute(SCHEMA);
  const latencies = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const from = next;
      const to = Math.min(n, from + chunk);
      next = to;
      const sets = [];
      for (let i = from; i < to; i++) sets.push([`payload-${i}`]);
      const t0 = performance.now();
      await Promise.all(db.submitMany(INSERT, sets));
      latencies.fill(performance.now() - t0, from, to);
    }
  };
  const loop = await monitor();
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(concurrency / chunk)) }, worker));
  const seconds = (performance.now() - start) / 1000;
  await stop(loop);
  const [{ count }] = await db.query('SELECT count(*) AS count FROM bench');
  if (count !== n) throw new Error(`litecommit submitMany: ${count} rows, expected ${n}`);
  const stats = db.stats();
  await db.close();
  const s = summary(`litecommit submitMany (${concurrency} in flight, ${chunk} per call)`, n, seconds, latencies, loop);
  s.meanBatch = stats.meanBatchSize;
  return s;
}

/**
 * The floor any binding shares: the same `concurrency` async workers awaiting promises that
 * an in-memory stand-in settles in batches (no database, no native code). It shows what
 * V8 itself (promises, garbage collection) costs the event loop at this concurrency.
 */
async function benchPromiseFloor(n, concurrency) {
  const waiting = [];
  let timer = null;
  const settleAll = () => {
    timer = null;
    for (const resolve of waiting.splice(0)) resolve({ changes: 1, lastInsertRowid: 0, rows: [] });
  };
  const fakeExecute = () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      if (timer === null) timer = setTimeout(settleAll, 1);
    });
  const { seconds, latencies, loop } = await runWorkers(fakeExecute, n, concurrency);
  return summary(`JS promises only, no database (${concurrency})`, n, seconds, latencies, loop);
}

function benchCore(file, n, concurrency) {
  const r = native.__benchCore(file, { durability: 'full' }, n, concurrency);
  return {
    name: `Rust core (${concurrency} in flight)`,
    n,
    seconds: r.seconds,
    throughput: n / r.seconds,
    p50: r.p50Ms,
    p99: r.p99Ms,
    loopP50: NaN,
    loopP99: NaN,
    loopMax: NaN,
    meanBatch: r.meanBatchSize,
  };
}

function fmt(x, digits = 2) {
  return typeof x !== 'number' || Number.isNaN(x) ? '-' : x.toFixed(digits);
}

/** The median of `values` (the upper one of an even count). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The run of median throughput among the rounds of one run. */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.throughput - b.throughput);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const o = args();
  if (o.runs.has('core') && typeof native.__benchCore !== 'function') {
    throw new Error('the addon was built without the benchmark helper: run `npm run build:bench` first');
  }
  const dir = fs.mkdtempSync(path.join(o.dir, 'litecommit-node-bench-'));
  try {
    console.log(`node ${process.version}, durability full, databases in ${dir}`);
    const has = (run) => o.runs.has(run);
    const bsqLoop = has('bsq') ? await benchBetterSqlite3(path.join(dir, 'bsq-loop.db'), o['bsq-n'], false) : null;
    const bsq = has('bsq') ? await benchBetterSqlite3(path.join(dir, 'bsq.db'), o['bsq-n'], true) : null;
    // Each run once per round, on a fresh database; alternate rounds run them in reverse.
    const runners = {
      lc: (file) => benchLitecommit(file, o.n, o.concurrency, false),
      'lc-stack': (file) => benchLitecommit(file, o.n, o.concurrency, true),
      'lc-many': (file) => benchSubmitMany(file, o.n, o.concurrency, o.chunk),
      core: async (file) => benchCore(file, o.n, o.concurrency),
    };
    const picked = Object.keys(runners).filter(has);
    const rounds = Object.fromEntries(picked.map((run) => [run, []]));
    for (let r = 0; r < Math.max(1, o.rounds); r++) {
      for (const run of r % 2 === 0 ? picked : [...picked].reverse()) {
        const file = path.join(dir, `${run}-${r}.db`);
        rounds[run].push(await runners[run](file));
        for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
      }
    }
    const pick = (run) => (has(run) ? medianRun(rounds[run]) : null);
    const [lc, lcStack, lcMany, core] = ['lc', 'lc-stack', 'lc-many', 'core'].map(pick);
    const floor = has('floor') ? await benchPromiseFloor(o.n, o.concurrency) : null;
    const rows = [bsqLoop, bsq, lc, lcStack, lcMany, core, floor].filter((r) => r !== null);
    console.log(
      '\n| run | inserts | tx/s | p50 ms | p99 ms | loop delay p50 ms | loop delay p99 ms | loop delay max ms |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${r.n} | ${fmt(r.throughput, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ` +
          `${fmt(r.loopP50)} | ${fmt(r.loopP99)} | ${fmt(r.loopMax)} |`,
      );
    }
    const batches = [lc, lcMany, core].filter((r) => r !== null).map((r) => `${r.name} ${fmt(r.meanBatch, 1)}`);
    if (batches.length > 0) console.log(`\nmean batch size: ${batches.join('; ')}`);
    const ratios = [];
    if (lc && bsq) {
      ratios.push(
        ['throughput litecommit / better-sqlite3 (plain loop)', lc.throughput / bsqLoop.throughput, MIN_RATIO_OVER_BETTER_SQLITE3],
        ['throughput litecommit / better-sqlite3 (yielding)', lc.throughput / bsq.throughput, MIN_RATIO_OVER_BETTER_SQLITE3],
        ['event-loop p99 delay better-sqlite3 (plain loop) / litecommit', bsqLoop.loopP99 / lc.loopP99, MIN_RATIO_OVER_BETTER_SQLITE3],
        // No target: yielding after each insert is how better-sqlite3 keeps its own loop delay low.
        ['event-loop p99 delay better-sqlite3 (yielding) / litecommit', bsq.loopP99 / lc.loopP99, null],
      );
    }
    // Binding / core: per round, then the median.
    const perRound = (run) => rounds[run].map((r, i) => r.throughput / rounds.core[i].throughput);
    const shares = [];
    if (lc && core) shares.push(['throughput binding (execute) / Rust core', perRound('lc')]);
    if (lcMany && core) shares.push(['throughput binding (submitMany) / Rust core', perRound('lc-many')]);
    for (const [what, values] of shares) ratios.push([what, median(values), MIN_BINDING_SHARE_OF_CORE, values]);
    console.log('');
    for (const [what, value, min, values] of ratios) {
      const each = values && values.length > 1 ? ` [rounds: ${values.map((v) => fmt(v)).join(', ')}]` : '';
      const verdict = min === null ? '' : ` (target >= ${fmt(min)}) ${value >= min ? 'met' : 'MISSED'}`;
      console.log(`${what}: ${fmt(value)}${verdict}${each}`);
    }
    if (lc && lcStack) {
      console.log(`throughput with captureStack / default: ${fmt(lcStack.throughput / lc.throughput)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
