'use strict';
// litecommit for Node: a Promise API over the Rust engine. Parameters are checked here (so
// the errors name the parameter); the native addon converts values and delivers the
// completions of each batch in ONE threadsafe-function call, settling every promise of
// that batch from the table of pending tokens kept below.

const native = loadNative();

/** Promises settled per macrotask before yielding to the event loop. */
const SETTLE_CHUNK = 128;

/** Parameter values the addon's submit takes as arguments of their own (src/submit.rs). */
const SPREAD_VALUES = 8;

/** A batch's numbers per completion: token, status, changes, lastInsertRowid (src/sink.rs). */
const NUMBERS_PER_COMPLETION = 4;
/** Statuses of a completion in a batch's numbers (src/sink.rs): the result is in the
 * numbers alone, in the extras, or the extras hold the error. */
const DONE_SIMPLE = 0;
const DONE_FULL = 1;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Every error litecommit rejects with: `code`, `message`, `statementIndex`. */
class LitecommitError extends Error {
  constructor(info) {
    super(info.message);
    this.name = 'LitecommitError';
    /** 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY', ..., or 'LITECOMMIT_CLOSED', ... */
    this.code = info.code;
    /** Index of the failing statement in its transaction, or null. */
    this.statementIndex = info.statementIndex ?? null;
    /** SQLite primary result code (19 for SQLITE_CONSTRAINT), or null. */
    this.errno = info.errno ?? null;
    /** SQLite extended result code (2067 for SQLITE_CONSTRAINT_UNIQUE), or null. */
    this.extendedCode = info.extendedCode ?? null;
  }
}

const closedError = () =>
  new LitecommitError({ code: 'LITECOMMIT_CLOSED', message: 'committer is closed' });

/*
 * Stacks of rejections. The addon settles promises from its completion callback, where no
 * frame of the caller is on the stack. So the public methods return the submission's
 * promise chained through a `then` handler that creates the error when it failed: V8 then
 * appends the frames of the async functions awaiting it (`at async handler (app.js:12:5)`),
 * at no cost until an error is made. Callers that do not `await` (`.then` chains) get no
 * such frames; with the option `captureStack: true` every call captures its caller's
 * stack when it is made instead, which costs throughput (see the README).
 */

/**
 * Where a call was made: the caller's frames above `fn`, captured when the call is made
 * (`captureStack: true`).
 */
function callSite(fn) {
  const site = {};
  Error.captureStackTrace(site, fn);
  return site;
}

/**
 * What a submission or pool task failed with as the error to throw: the addon's error
 * info becomes a LitecommitError (an Error already is one), with the stack of the call
 * that made it when one was captured.
 */
function failure(reason, site) {
  let err = reason;
  if (!(reason instanceof Error)) {
    err = new LitecommitError(reason);
    Error.captureStackTrace(err, failure);
  }
  if (site !== null) {
    const frames = site.stack;
    const at = frames.indexOf('\n');
    err.stack = `${err.name}: ${err.message}${at === -1 ? '' : frames.slice(at)}`;
  }
  return err;
}

/**
 * Rows as the addon returns them (`[columns, rows]`, each row an array of values) as
 * objects keyed by column name. With duplicate names the last column wins. Keys are
 * assigned in column order, except `__proto__`, which is defined so that it stays a column.
 */
function rowObjects(raw) {
  const columns = raw[0];
  const rows = raw[1];
  const n = columns.length;
  const odd = columns.includes('__proto__');
  for (let i = 0; i < rows.length; i++) {
    const values = rows[i];
    const row = {};
    for (let k = 0; k < n; k++) {
      if (odd && columns[k] === '__proto__') {
        Object.defineProperty(row, '__proto__', { value: values[k], writable: true, enumerable: true, configurable: true });
      } else {
        row[columns[k]] = values[k];
      }
    }
    rows[i] = row;
  }
  return rows;
}

/** The rows of each result (`{ changes, lastInsertRowid, rows }`) as objects, or as arrays. */
function resultRows(results, arrays) {
  for (const r of results) r.rows = arrays ? r.rows[1] : rowObjects(r.rows);
  return results;
}

/**
 * The error (info) of a transaction that committed but whose rows JavaScript cannot hold
 * as objects (assigning a column name threw): it rejects alone, as the addon does for
 * results it cannot convert.
 */
function unrepresentable(e) {
  return {
    code: 'LITECOMMIT_INTERNAL',
    message: `committed, but the result cannot be represented in JavaScript: ${e}`,
  };
}

/**
 * This platform as npm packages of prebuilt addons name it (napi-rs's names):
 * 'linux-x64-gnu', 'linux-arm64-musl', 'darwin-arm64', 'win32-x64-msvc', ...
 */
function platformName() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** Whether this Linux runs on musl libc (Alpine) rather than glibc. */
function isMusl() {
  try {
    return require('node:fs').readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    const header = process.report?.getReport?.().header;
    return !header?.glibcVersionRuntime;
  }
}

/**
 * The native addon: a local build (`litecommit.node` next to this file, made by
 * `npm run build` in a checkout) if there is one, else the prebuilt binary of this
 * platform's package (`litecommit-linux-x64-gnu`, ...: optional dependencies of the
 * published package, npm installs the one matching `os`, `cpu` and `libc`).
 */
function loadNative() {
  const failures = [];
  const local = require('node:path').join(__dirname, 'litecommit.node');
  try {
    return require(local);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  const platform = platformName();
  const pkg = `litecommit-${platform}`;
  const own = require('./package.json');
  try {
    const { version } = require(`${pkg}/package.json`);
    if (version === own.version) return require(pkg);
    failures.push(`${pkg} is version ${version}, this litecommit needs ${own.version}`);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    failures.push(`the package ${pkg} is not installed`);
  }
  const prebuilt = Object.keys(own.optionalDependencies ?? {}).map((name) => name.slice('litecommit-'.length));
  throw new Error(
    `litecommit: no native addon for this platform, ${platform}: ${failures.join('; ')} ` +
      `and there is no local build ${local}. ` +
      (prebuilt.length > 0
        ? `Prebuilt addons exist for ${prebuilt.join(', ')} (installed as optional dependencies: ` +
          'do not install with --omit=optional or --no-optional). '
        : 'This copy of the package ships no prebuilt addons. ') +
      'Elsewhere, build the addon from a checkout of the repository with Rust installed ' +
      '(`npm run build` in its node/ directory).',
  );
}

function describe(v) {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  const name = v.constructor && v.constructor.name;
  if (!name) return 'an object';
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

function isBytes(v) {
  return v instanceof Uint8Array || (ArrayBuffer.isView(v) && v[Symbol.toStringTag] === 'Uint8Array');
}

function sqlValue(v, where) {
  switch (typeof v) {
    case 'number':
    case 'string':
      return v;
    case 'boolean':
      return v ? 1 : 0;
    case 'undefined':
      return null;
    case 'bigint':
      if (v < I64_MIN || v > I64_MAX) {
        throw new RangeError(`${where}: BigInt ${v} does not fit in a 64-bit SQLite integer`);
      }
      return v;
    case 'object':
      if (v === null || isBytes(v)) return v;
  }
  throw new TypeError(
    `${where}: unsupported value (${describe(v)}); expected null, number, bigint, string, ` +
      'boolean or Buffer/Uint8Array',
  );
}

function checkValue(v, prefix, i) {
  const t = typeof v;
  if (t === 'number' || t === 'string' || v === null) return;
  sqlValue(v, `${prefix}parameter ${i + 1}`);
}

function isPlainObject(v) {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Checks positional values in place: the addon reads booleans and undefined as sqlValue maps them. */
function checkValues(values, prefix) {
  for (let i = 0; i < values.length; i++) {
    checkValue(values[i], prefix, i);
  }
}

/** `[values, names]` as the addon takes them; `names` only for named parameters. */
function normalizeParams(params, prefix) {
  if (params === undefined || params === null) return [undefined, undefined];
  if (Array.isArray(params)) {
    checkValues(params, prefix);
    return [params, undefined];
  }
  if (isPlainObject(params)) {
    const names = Object.keys(params);
    const values = names.map((name) => sqlValue(params[name], `${prefix}parameter "${name}"`));
    return [values, names];
  }
  throw new TypeError(
    `${prefix}params: expected an array (positional) or a plain object (named), got ${describe(params)}`,
  );
}

function checkSql(sql, prefix) {
  if (typeof sql !== 'string') {
    throw new TypeError(`${prefix}sql: expected a string, got ${describe(sql)}`);
  }
}

/** Options handled here rather than by the core, with their defaults. */
const JS_OPTIONS = { captureStack: false };

/** `[core options as strings, JavaScript-side options]`. */
function normalizeOptions(options) {
  const js = { ...JS_OPTIONS };
  if (options === undefined || options === null) return [{}, js];
  if (!isPlainObject(options)) {
    throw new TypeError(`options: expected a plain object, got ${describe(options)}`);
  }
  const out = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    if (Object.hasOwn(JS_OPTIONS, name)) {
      if (typeof value !== 'boolean') {
        throw new TypeError(`option ${name}: expected a boolean, got ${describe(value)}`);
      }
      js[name] = value;
      continue;
    }
    if (!['string', 'number', 'bigint', 'boolean'].includes(typeof value)) {
      throw new TypeError(`option ${name}: expected a string, number, bigint or boolean, got ${describe(value)}`);
    }
    // The addon parses and range-checks the text: a fraction, NaN or a negative count is
    // rejected there with LITECOMMIT_INVALID_CONFIG naming the option.
    out[name] = String(value);
  }
  return [out, js];
}

/**
 * What a promise of a submission settles with when the completion is not a plain result:
 * the results with their rows (`Full`), or the error info (`Failed`). The method's `then`
 * handler makes the value or the error from it (see `results` and `shaper`).
 */
class Full {
  constructor(results) {
    this.results = results;
  }
}

class Failed {
  constructor(info) {
    this.info = info;
  }
}

/** The resolvers `new Promise(capture)` made last: no closure per promise. */
let capturedResolve = null;
let capturedReject = null;
function capture(resolve, reject) {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * What a method returns for the outcome of its transaction: with `single` (execute) one
 * `{ changes, lastInsertRowid, rows }`, else one per statement; rows as objects, or as
 * arrays of values with `arrays`. Throws the transaction's error as a LitecommitError
 * (with the stack of the call when `site` is given).
 */
function results(outcome, single, arrays, site) {
  if (outcome instanceof Full) {
    let all;
    try {
      all = resultRows(single ? outcome.results.slice(-1) : outcome.results, arrays);
    } catch (e) {
      throw failure(unrepresentable(e), site);
    }
    return single ? all[0] : all;
  }
  if (outcome instanceof Failed) throw failure(outcome.info, site);
  return single ? outcome : [outcome];
}

/** `shapers[single][arrays]`: `results` as a `then` handler, for calls without a captured stack. */
const shapers = [false, true].map((single) =>
  [false, true].map((arrays) => (outcome) => results(outcome, single, arrays, null)),
);

/**
 * The `then` handler giving a method's value for its outcome (see `results`). Run as a
 * promise reaction, it creates the error in the chain the caller awaits: V8 then appends
 * the frames of the async functions awaiting it to the error's stack.
 */
function shaper(single, arrays, site) {
  if (site === null) return shapers[+single][+arrays];
  return (outcome) => results(outcome, single, arrays, site);
}

/**
 * The promises of one `submitMany` call: the resolvers of the set with token `first + k`
 * at `2k` and `2k + 1`, cleared once it is settled. Rejections carry the stack of the call.
 */
class Group {
  constructor(first, n, site) {
    this.first = first;
    this.resolvers = new Array(2 * n);
    this.site = site;
  }

  settle(token, outcome) {
    const k = 2 * (token - this.first);
    const resolve = this.resolvers[k];
    const reject = this.resolvers[k + 1];
    this.resolvers[k] = undefined;
    this.resolvers[k + 1] = undefined;
    let value;
    try {
      value = results(outcome, true, false, this.site);
    } catch (e) {
      reject(e);
      return;
    }
    resolve(value);
  }
}

/**
 * What is pending by token, for tokens added in increasing order: a window of slots from
 * the oldest token still pending (`base`, at `slots[head]`) to the newest. Tokens never
 * added leave empty slots. Cheaper than a Map for a queue that tokens enter and leave in
 * nearly the same order.
 */
class PendingTable {
  constructor() {
    this.slots = [];
    this.head = 0;
    this.base = 0;
    this.size = 0;
  }

  /** Adds `entry` under `token`, above every token added before. */
  add(token, entry) {
    if (this.size === 0) {
      this.slots.length = 0;
      this.head = 0;
      this.base = token;
    }
    const at = this.head + (token - this.base);
    while (this.slots.length < at) this.slots.push(undefined);
    this.slots.push(entry);
    this.size++;
  }

  /** Removes and returns the entry of `token` (undefined if there is none). */
  take(token) {
    const at = this.head + (token - this.base);
    if (at < this.head || at >= this.slots.length) return undefined;
    const entry = this.slots[at];
    if (entry === undefined) return undefined;
    this.slots[at] = undefined;
    this.size--;
    const slots = this.slots;
    let head = this.head;
    while (head < slots.length && slots[head] === undefined) head++;
    this.base += head - this.head;
    this.head = head;
    // Drops the settled front once it is most of the array.
    if (head >= 1024 && head * 2 >= slots.length) {
      this.slots = slots.slice(head);
      this.head = 0;
    }
    return entry;
  }

  /** The oldest token still pending, or undefined. */
  first() {
    return this.size === 0 ? undefined : this.base;
  }
}

/**
 * The JavaScript-thread side of the completions: the token -> promise map and the
 * event-loop reference. Submissions waiting for room in the (bounded) queue wait in the
 * addon, already converted, so that an exit (process.exit(), worker.terminate()) can still
 * commit them. It holds the native committer strongly only while something is pending, so
 * an idle, forgotten committer can be garbage-collected (and the native side then closes
 * it, committing everything accepted).
 */
class Inflight {
  constructor() {
    // token -> the resolve function of its promise (or the Group of its submitMany call),
    // queued or waiting
    this.pending = new PendingTable();
    this.waiters = []; // { ready: () => boolean, resolve }
    this.batches = []; // batches received and not fully settled yet, in order
    this.offset = 0; // completions of batches[0] already settled
    this.busy = null; // the native committer, strongly, while anything is pending
  }

  /**
   * Records a submission `native` accepted under `token`, settled through `entry`; on the
   * first one, references the event loop and holds `native` until nothing is pending.
   */
  add(token, entry, native) {
    if (this.busy === null) {
      native.ref();
      this.busy = native;
    }
    this.pending.add(token, entry);
  }

  /**
   * Called once per committed batch with `[numbers, extras]` (see JsBatch in src/sink.rs).
   * The batch made room in the queue: waiting submissions move in at once. Batches are
   * settled in order, at most SETTLE_CHUNK promises per macrotask, so a large batch never
   * holds up timers and I/O for long.
   */
  onBatch(batch) {
    if (this.busy !== null) {
      try {
        this.busy.drain();
      } catch {
        // Only a panic in the addon (reported as an Error); the next batch drains again.
      }
    }
    this.batches.push(batch);
    if (this.batches.length === 1) this.settleSome();
  }

  settleSome() {
    let budget = SETTLE_CHUNK;
    while (budget > 0 && this.batches.length > 0) {
      const [numbers, extras] = this.batches[0];
      let i = this.offset;
      const end = Math.min(numbers.length / NUMBERS_PER_COMPLETION, i + budget);
      budget -= end - i;
      for (; i < end; i++) {
        const j = i * NUMBERS_PER_COMPLETION;
        const token = numbers[j];
        const entry = this.pending.take(token);
        if (entry === undefined) continue;
        const status = numbers[j + 1];
        let outcome;
        if (status === DONE_SIMPLE) {
          outcome = { changes: numbers[j + 2], lastInsertRowid: numbers[j + 3], rows: [] };
        } else if (status === DONE_FULL) {
          outcome = new Full(extras[i]);
        } else {
          outcome = new Failed(extras[i]);
        }
        if (typeof entry === 'function') entry(outcome);
        else entry.settle(token, outcome);
      }
      if (i * NUMBERS_PER_COMPLETION >= numbers.length) {
        this.batches.shift();
        this.offset = 0;
      } else {
        this.offset = i;
      }
    }
    this.check();
    if (this.batches.length > 0) setImmediate(() => this.settleSome());
  }

  /** Resolves the waiters whose condition holds; unreferences once nothing is pending. */
  check() {
    this.waiters = this.waiters.filter((w) => !(w.ready() && (w.resolve(), true)));
    if (this.pending.size === 0 && this.busy !== null) {
      const n = this.busy;
      this.busy = null;
      try {
        n.unref();
      } catch {
        // Only fails while the environment is torn down; nothing to keep alive then.
      }
    }
  }

  /** Resolves once `ready()` holds (checked after every batch). */
  waitFor(ready) {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ready, resolve }));
  }

  /** No submission with a token <= `mark` is still waiting for room in the queue. */
  submittedUpTo(native, mark) {
    const first = native.firstWaiting();
    return first === null || first > mark;
  }

  /** Every promise with a token <= `mark` is settled. */
  settledUpTo(mark) {
    const first = this.pending.first();
    return first === undefined || first > mark;
  }
}

/** `[error, value]` from the addon's pool tasks: the value, or throws the error. */
function unwrap([err, value], site = null) {
  if (err) throw failure(err, site);
  return value;
}

/** What the adapters (litecommit/drizzle, litecommit/kysely) reach inside a Committer by. */
const internals = {};

/**
 * A group committer on one SQLite database: `await db.execute(...)` resolves once the
 * transaction is durable. See the README (section Node) for the full API.
 */
class Committer {
  #native;
  #inflight;
  #submit; // the addon's submit(token, sql, names, wait, values...), bound to #native
  #submitMany; // the addon's submitMany(first, sql, valuesList, namesList, wait)
  #nextToken = 1;
  #closing = null;
  #captureStack;

  constructor(path, options) {
    if (typeof path !== 'string') {
      throw new TypeError(`path: expected a string, got ${describe(path)}`);
    }
    const [opts, js] = normalizeOptions(options);
    const inflight = new Inflight();
    // The callback must not reference `this` or the native object: the threadsafe function
    // holds it strongly, which would keep the committer from ever being collected.
    const opened = native.open(path, opts, (flat) => inflight.onBatch(flat));
    if (!(opened instanceof native.NativeCommitter)) throw new LitecommitError(opened);
    this.#native = opened;
    this.#inflight = inflight;
    [this.#submit, this.#submitMany] = opened.submitters();
    this.#captureStack = js.captureStack;
  }

  /**
   * Runs one statement as a transaction; resolves to `{ changes, lastInsertRowid, rows }`
   * once it is durable.
   */
  execute(sql, params) {
    const site = this.#site(Committer.prototype.execute);
    return this.#one(sql, params, true, site).then(shaper(true, false, site));
  }

  /**
   * Runs `[[sql, params], ...]` atomically; resolves to one `{ changes, lastInsertRowid,
   * rows }` per statement.
   */
  transaction(statements) {
    const site = this.#site(Committer.prototype.transaction);
    return this.#many(statements, true, site).then(shaper(false, false, site));
  }

  /** Like `execute`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  tryExecute(sql, params) {
    const site = this.#site(Committer.prototype.tryExecute);
    return this.#one(sql, params, false, site).then(shaper(true, false, site));
  }

  /** Like `transaction`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  tryTransaction(statements) {
    const site = this.#site(Committer.prototype.tryTransaction);
    return this.#many(statements, false, site).then(shaper(false, false, site));
  }

  /**
   * Queues `sql` once per parameter set, each its own transaction, in one call to the addon;
   * returns one promise per set, in order, each settled on its own. Every set is checked
   * before any is queued: a bad one throws (TypeError/RangeError naming it) and queues
   * nothing, as does a call that can queue none (closed, refused statement). While the
   * queue is full the sets wait for room, in order, as `execute` does.
   */
  submitMany(sql, paramsList) {
    const site = callSite(Committer.prototype.submitMany);
    if (this.#closing !== null) throw failure(closedError(), site);
    checkSql(sql, '');
    const sets = paramSets(paramsList);
    const n = sets.length;
    // The sets as the addon takes them: arrays of values as they are, so `valuesList` is
    // `sets` itself until a set needs converting (then a copy of it).
    let valuesList = sets;
    let namesList;
    for (let i = 0; i < n; i++) {
      const params = sets[i];
      try {
        if (Array.isArray(params)) {
          checkValues(params, '');
          continue;
        }
        const [values, names] = normalizeParams(params, '');
        if (valuesList === sets) valuesList = sets.slice();
        valuesList[i] = values;
        if (names !== undefined) {
          namesList ??= new Array(n);
          namesList[i] = names;
        }
      } catch (e) {
        throw new e.constructor(`paramsList[${i}]: ${e.message}`);
      }
    }
    if (n === 0) return [];
    const first = this.#nextToken;
    this.#nextToken += n;
    const refused = this.#submitMany(first, sql, valuesList, namesList, true);
    const accepted = refused === null ? n : refused[0];
    if (accepted === 0) throw failure(refused[1], site);
    const inflight = this.#inflight;
    const native = this.#native;
    const group = new Group(first, accepted, site);
    const promises = new Array(n);
    for (let k = 0; k < accepted; k++) {
      promises[k] = new Promise(capture);
      group.resolvers[2 * k] = capturedResolve;
      group.resolvers[2 * k + 1] = capturedReject;
      inflight.add(first + k, group, native);
    }
    // Those after a set the addon could not queue were not tried: they fail the same way.
    for (let k = accepted; k < n; k++) promises[k] = Promise.reject(failure(refused[1], site));
    return promises;
  }

  /** The caller's frames above `fn` when stacks are captured (option `captureStack`). */
  #site(fn) {
    return this.#captureStack ? callSite(fn) : null;
  }

  /**
   * Submits one statement; returns the promise of its outcome (see `results`), rejected
   * with what kept it from being queued (a TypeError/RangeError, or the addon's error as a
   * LitecommitError).
   */
  #one(sql, params, wait, site) {
    try {
      if (this.#closing !== null) throw closedError();
      checkSql(sql, '');
      let values = params;
      let names;
      if (Array.isArray(params)) checkValues(params, '');
      else [values, names] = normalizeParams(params, '');
      const token = this.#nextToken++;
      // Up to SPREAD_VALUES values go as arguments of their own, after their count.
      const refused =
        values !== undefined && values.length <= SPREAD_VALUES
          ? this.#submit(token, sql, names, wait, values.length, ...values)
          : this.#submit(token, sql, names, wait, values);
      if (refused !== null) throw refused;
      return this.#pending(token);
    } catch (e) {
      return Promise.reject(failure(e, site));
    }
  }

  /** Submits a transaction; returns as `#one` does. */
  #many(statements, wait, site) {
    try {
      if (this.#closing !== null) throw closedError();
      const flat = flattenTransaction(statements);
      const token = this.#nextToken++;
      const refused = this.#native.submitTransaction(token, flat, wait);
      if (refused) throw refused;
      return this.#pending(token);
    } catch (e) {
      return Promise.reject(failure(e, site));
    }
  }

  /** The promise of the outcome of the accepted submission `token`. */
  #pending(token) {
    const promise = new Promise(capture);
    this.#inflight.add(token, capturedResolve, this.#native);
    return promise;
  }

  /** Runs a read-only statement on the read pool; resolves to row objects. */
  async query(sql, params) {
    const site = this.#site(Committer.prototype.query);
    const raw = await this.#query(sql, params);
    if (raw[0]) throw failure(raw[0], site);
    return rowObjects(raw[1]);
  }

  /** `[error, [columns, rows]]` of a query; rejects only with a TypeError/RangeError. */
  #query(sql, params) {
    if (this.#closing !== null) return Promise.reject(closedError());
    try {
      checkSql(sql, '');
      const [values, names] = normalizeParams(params, '');
      return this.#native.query(sql, values, names);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  static {
    // `execute`, `transaction` and `query` with rows as arrays of values (in column order,
    // duplicate column names kept), for the adapters.
    internals.execute = (db, sql, params) => {
      const site = db.#site(internals.execute);
      return db.#one(sql, params, true, site).then(shaper(true, true, site));
    };
    internals.transaction = (db, statements) => {
      const site = db.#site(internals.transaction);
      return db.#many(statements, true, site).then(shaper(false, true, site));
    };
    internals.query = async (db, sql, params) => {
      const site = db.#site(internals.query);
      const raw = await db.#query(sql, params);
      if (raw[0]) throw failure(raw[0], site);
      return raw[1][1];
    };
    /** Whether `db` is a Committer of this module. */
    internals.isCommitter = (db) => typeof db === 'object' && db !== null && #native in db;
  }

  /** Resolves once every transaction submitted before it is committed (and settled). */
  async flush() {
    if (this.#closing !== null) throw closedError();
    const site = this.#site(Committer.prototype.flush);
    const inflight = this.#inflight;
    const native = this.#native;
    const mark = this.#nextToken - 1;
    await inflight.waitFor(() => inflight.submittedUpTo(native, mark));
    unwrap(await native.flush(), site);
    await inflight.waitFor(() => inflight.settledUpTo(mark));
  }

  /** Runs a WAL checkpoint now: 'passive' (default), 'full', 'restart' or 'truncate'. */
  async checkpoint(mode = 'passive') {
    if (this.#closing !== null) throw closedError();
    if (typeof mode !== 'string') {
      throw new TypeError(`mode: expected a string, got ${describe(mode)}`);
    }
    const site = this.#site(Committer.prototype.checkpoint);
    return unwrap(await this.#native.checkpoint(mode), site);
  }

  /** The metrics in the Prometheus text exposition format. */
  metricsText() {
    if (this.#closing !== null) throw closedError();
    return this.#native.metricsText();
  }

  /** The same figures as the metrics, as a plain object. */
  stats() {
    if (this.#closing !== null) throw closedError();
    return this.#native.stats();
  }

  /** Whether `close()` has been called. */
  get closed() {
    return this.#closing !== null;
  }

  /**
   * Stops accepting work, commits everything already submitted, settles every promise,
   * and closes the database. Idempotent: every call returns the same promise.
   */
  close() {
    if (this.#closing === null) {
      const inflight = this.#inflight;
      const native = this.#native;
      const site = this.#site(Committer.prototype.close);
      this.#closing = (async () => {
        // The addon hands over the submissions still waiting for room, then closes.
        const closed = await native.close();
        await inflight.waitFor(() => inflight.pending.size === 0);
        unwrap(closed, site);
      })();
    }
    return this.#closing;
  }
}

// `await using db = new Committer(...)` closes it, where the runtime has the symbol.
if (typeof Symbol.asyncDispose === 'symbol') {
  Object.defineProperty(Committer.prototype, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.close();
    },
    writable: true,
    configurable: true,
  });
}

/** First keywords of statements that only read (a WITH is decided by what follows it). */
const READ_VERBS = new Set(['SELECT', 'VALUES']);
const WRITE_VERBS = new Set(['INSERT', 'REPLACE', 'UPDATE', 'DELETE']);
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * The statement's verb as SQLite's grammar places it: its first keyword, uppercased, and
 * for `WITH ...` the SELECT, VALUES, INSERT, REPLACE, UPDATE or DELETE that follows the
 * common table expressions (outside parentheses). Comments, quoted strings and quoted
 * names are skipped. `''` when there is none.
 */
function statementVerb(sql) {
  const n = sql.length;
  let depth = 0;
  let first = true;
  let i = 0;
  while (i < n) {
    const c = sql[i];
    if (c === '\uFEFF') {
      i++; // a byte-order mark, which SQLite skips too
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      // A quoted string or name; the quote doubled stands for itself (not inside [...]).
      const close = c === '[' ? ']' : c;
      let end = sql.indexOf(close, i + 1);
      while (end !== -1 && close !== ']' && sql[end + 1] === close) end = sql.indexOf(close, end + 2);
      if (end === -1) return '';
      i = end + 1;
      first = false;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      depth--;
      i++;
    } else if (WORD.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(sql[j])) j++;
      if (depth === 0) {
        const word = sql.slice(i, j).toUpperCase();
        if (first && word !== 'WITH') return word;
        if (!first && (READ_VERBS.has(word) || WRITE_VERBS.has(word))) return word;
        first = false;
      }
      i = j;
    } else {
      i++;
    }
  }
  return '';
}

/** Whether the statement only reads (SELECT, VALUES, or WITH ... SELECT): the adapters
 * send those to the read pool and everything else to the writer. */
internals.reads = (sql) => READ_VERBS.has(statementVerb(sql));
internals.statementVerb = statementVerb;

/** The parameter sets of `submitMany` as an array: an array as it is, another iterable copied. */
function paramSets(paramsList) {
  if (Array.isArray(paramsList)) return paramsList;
  if (paramsList !== null && typeof paramsList === 'object' && typeof paramsList[Symbol.iterator] === 'function') {
    return Array.from(paramsList);
  }
  throw new TypeError(`paramsList: expected an array (or iterable) of params, got ${describe(paramsList)}`);
}

function flattenTransaction(statements) {
  if (!Array.isArray(statements)) {
    throw new TypeError(`statements: expected an array of [sql, params], got ${describe(statements)}`);
  }
  const flat = [];
  statements.forEach((stmt, i) => {
    const prefix = `statement ${i}: `;
    if (!Array.isArray(stmt)) {
      throw new TypeError(`${prefix}expected [sql, params], got ${describe(stmt)}`);
    }
    checkSql(stmt[0], prefix);
    const [values, names] = normalizeParams(stmt[1], prefix);
    flat.push(stmt[0], values, names);
  });
  return flat;
}

module.exports = { Committer, LitecommitError };
// For the adapters in this package only (not enumerable: not part of the API).
Object.defineProperty(module.exports, 'internals', { value: internals });
