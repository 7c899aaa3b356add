'use strict';
// litecommit for Node: a Promise API over the Rust engine. Parameters are checked here (so
// the errors name the parameter); the native addon converts values and delivers the
// completions of each batch in ONE threadsafe-function call, settling every promise of
// that batch from the token -> promise map kept below.

const native = loadNative();

/** Promises settled per macrotask before yielding to the event loop. */
const SETTLE_CHUNK = 128;

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
 * frame of the caller is on the stack. So the public methods are async functions that
 * await the submission and create the error themselves when it failed: V8 then appends
 * the frames of the async functions awaiting them (`at async handler (app.js:12:5)`), at
 * no cost until an error is made. Callers that do not `await` (`.then` chains) get no
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

/** `[values, names]` as the addon takes them; `names` only for named parameters. */
function normalizeParams(params, prefix) {
  if (params === undefined || params === null) return [undefined, undefined];
  if (Array.isArray(params)) {
    // Checked in place; the addon reads booleans and undefined as sqlValue maps them.
    for (let i = 0; i < params.length; i++) {
      checkValue(params[i], prefix, i);
    }
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

/** One submitted transaction: what the addon needs, and its promise's resolvers. */
class Submission {
  constructor(token, single, sql, values, names, arrays) {
    this.token = token;
    this.single = single; // execute (one result) or transaction (all results)
    this.sql = sql; // null for a transaction: `values` is then [sql, values, names, ...]
    this.values = values;
    this.names = names;
    this.arrays = arrays; // rows as arrays of values rather than objects
    this.resolve = null;
    this.reject = null; // called with the addon's error info (see `failure`)
  }

  /**
   * Hands it to the addon: queued, or with `wait` waiting (natively) for room in the queue.
   * `null` once accepted, or the error info (queue full, closed, refused).
   */
  submitTo(native, wait) {
    return this.sql === null
      ? native.submitTransaction(this.token, this.values, wait)
      : native.submit(this.token, this.sql, this.values, this.names, wait);
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
    this.pending = new Map(); // token -> Submission, queued or waiting, in token order
    this.waiters = []; // { ready: () => boolean, resolve }
    this.batches = []; // batches received and not fully settled yet, in order
    this.offset = 0; // completions of batches[0] already settled
    this.busy = null; // the native committer, strongly, while anything is pending
  }

  /**
   * Records a submission `native` accepted; on the first one, references the event loop
   * and holds `native` until nothing is pending.
   */
  add(entry, native) {
    if (this.busy === null) {
      native.ref();
      this.busy = native;
    }
    this.pending.set(entry.token, entry);
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
        const entry = this.pending.get(numbers[j]);
        if (entry === undefined) continue;
        this.pending.delete(numbers[j]);
        const status = numbers[j + 1];
        if (status === DONE_SIMPLE) {
          const r = { changes: numbers[j + 2], lastInsertRowid: numbers[j + 3], rows: [] };
          entry.resolve(entry.single ? r : [r]);
        } else if (status === DONE_FULL) {
          let all;
          try {
            all = resultRows(entry.single ? extras[i].slice(-1) : extras[i], entry.arrays);
          } catch (e) {
            entry.reject(unrepresentable(e));
            continue;
          }
          entry.resolve(entry.single ? all[0] : all);
        } else {
          entry.reject(extras[i]);
        }
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

  /** Every promise with a token <= `mark` is settled (tokens enter `pending` in order). */
  settledUpTo(mark) {
    const first = this.pending.keys().next();
    return first.done || first.value > mark;
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
    this.#captureStack = js.captureStack;
  }

  /**
   * Runs one statement as a transaction; resolves to `{ changes, lastInsertRowid, rows }`
   * once it is durable.
   */
  async execute(sql, params) {
    const site = this.#site(Committer.prototype.execute);
    try {
      return await this.#one(sql, params, true, false);
    } catch (e) {
      throw failure(e, site);
    }
  }

  /**
   * Runs `[[sql, params], ...]` atomically; resolves to one `{ changes, lastInsertRowid,
   * rows }` per statement.
   */
  async transaction(statements) {
    const site = this.#site(Committer.prototype.transaction);
    try {
      return await this.#many(statements, true, false);
    } catch (e) {
      throw failure(e, site);
    }
  }

  /** Like `execute`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  async tryExecute(sql, params) {
    const site = this.#site(Committer.prototype.tryExecute);
    try {
      return await this.#one(sql, params, false, false);
    } catch (e) {
      throw failure(e, site);
    }
  }

  /** Like `transaction`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  async tryTransaction(statements) {
    const site = this.#site(Committer.prototype.tryTransaction);
    try {
      return await this.#many(statements, false, false);
    } catch (e) {
      throw failure(e, site);
    }
  }

  /** The caller's frames above `fn` when stacks are captured (option `captureStack`). */
  #site(fn) {
    return this.#captureStack ? callSite(fn) : null;
  }

  /** Submits one statement; rejects with a TypeError/RangeError or the addon's error info. */
  #one(sql, params, wait, arrays) {
    if (this.#closing !== null) return Promise.reject(closedError());
    let values, names;
    try {
      checkSql(sql, '');
      [values, names] = normalizeParams(params, '');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(new Submission(this.#nextToken++, true, sql, values, names, arrays), wait);
  }

  /** Submits a transaction; rejects as `#one` does. */
  #many(statements, wait, arrays) {
    if (this.#closing !== null) return Promise.reject(closedError());
    let flat;
    try {
      flat = flattenTransaction(statements);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(new Submission(this.#nextToken++, false, null, flat, null, arrays), wait);
  }

  #submit(entry, wait) {
    const inflight = this.#inflight;
    const native = this.#native;
    return new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      let err;
      try {
        err = entry.submitTo(native, wait);
      } catch (e) {
        return reject(e);
      }
      if (err) reject(err);
      else inflight.add(entry, native);
    });
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
    internals.execute = async (db, sql, params) => {
      const site = db.#site(internals.execute);
      try {
        return await db.#one(sql, params, true, true);
      } catch (e) {
        throw failure(e, site);
      }
    };
    internals.transaction = async (db, statements) => {
      const site = db.#site(internals.transaction);
      try {
        return await db.#many(statements, true, true);
      } catch (e) {
        throw failure(e, site);
      }
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
