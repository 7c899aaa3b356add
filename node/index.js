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

function loadNative() {
  try {
    return require('./litecommit.node');
  } catch (e) {
    e.message =
      `litecommit: the native addon is not built (run \`npm run build\` in ${__dirname}): ` +
      e.message;
    throw e;
  }
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

function normalizeOptions(options) {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) {
    throw new TypeError(`options: expected a plain object, got ${describe(options)}`);
  }
  const out = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    if (!['string', 'number', 'bigint', 'boolean'].includes(typeof value)) {
      throw new TypeError(`option ${name}: expected a string, number, bigint or boolean, got ${describe(value)}`);
    }
    // The addon parses and range-checks the text: a fraction, NaN or a negative count is
    // rejected there with LITECOMMIT_INVALID_CONFIG naming the option.
    out[name] = String(value);
  }
  return out;
}

/** One submitted transaction: what the addon needs, and its promise's resolvers. */
class Submission {
  constructor(token, single, sql, values, names) {
    this.token = token;
    this.single = single; // execute (one result) or transaction (all results)
    this.sql = sql; // null for a transaction: `values` is then [sql, values, names, ...]
    this.values = values;
    this.names = names;
    this.resolve = null;
    this.reject = null;
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
          const all = extras[i];
          entry.resolve(entry.single ? all[all.length - 1] : all);
        } else {
          entry.reject(new LitecommitError(extras[i]));
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

/** `[error, value]` from the addon's pool tasks. */
function unwrap([err, value]) {
  if (err) throw new LitecommitError(err);
  return value;
}

/**
 * A group committer on one SQLite database: `await db.execute(...)` resolves once the
 * transaction is durable. See the README (section Node) for the full API.
 */
class Committer {
  #native;
  #inflight;
  #nextToken = 1;
  #closing = null;

  constructor(path, options) {
    if (typeof path !== 'string') {
      throw new TypeError(`path: expected a string, got ${describe(path)}`);
    }
    const opts = normalizeOptions(options);
    const inflight = new Inflight();
    // The callback must not reference `this` or the native object: the threadsafe function
    // holds it strongly, which would keep the committer from ever being collected.
    const opened = native.open(path, opts, (flat) => inflight.onBatch(flat));
    if (!(opened instanceof native.NativeCommitter)) throw new LitecommitError(opened);
    this.#native = opened;
    this.#inflight = inflight;
  }

  /**
   * Runs one statement as a transaction; resolves to `{ changes, lastInsertRowid, rows }`
   * once it is durable.
   */
  execute(sql, params) {
    return this.#one(sql, params, true);
  }

  /**
   * Runs `[[sql, params], ...]` atomically; resolves to one `{ changes, lastInsertRowid,
   * rows }` per statement.
   */
  transaction(statements) {
    return this.#many(statements, true);
  }

  /** Like `execute`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  tryExecute(sql, params) {
    return this.#one(sql, params, false);
  }

  /** Like `transaction`, but rejects at once with LITECOMMIT_QUEUE_FULL when the queue is full. */
  tryTransaction(statements) {
    return this.#many(statements, false);
  }

  #one(sql, params, wait) {
    if (this.#closing !== null) return Promise.reject(closedError());
    let values, names;
    try {
      checkSql(sql, '');
      [values, names] = normalizeParams(params, '');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(new Submission(this.#nextToken++, true, sql, values, names), wait);
  }

  #many(statements, wait) {
    if (this.#closing !== null) return Promise.reject(closedError());
    let flat;
    try {
      flat = flattenTransaction(statements);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(new Submission(this.#nextToken++, false, null, flat, null), wait);
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
      if (err) reject(new LitecommitError(err));
      else inflight.add(entry, native);
    });
  }

  /** Runs a read-only statement on the read pool; resolves to row objects. */
  query(sql, params) {
    if (this.#closing !== null) return Promise.reject(closedError());
    try {
      checkSql(sql, '');
      const [values, names] = normalizeParams(params, '');
      return this.#native.query(sql, values, names).then(unwrap);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves once every transaction submitted before it is committed (and settled). */
  async flush() {
    if (this.#closing !== null) throw closedError();
    const inflight = this.#inflight;
    const native = this.#native;
    const mark = this.#nextToken - 1;
    await inflight.waitFor(() => inflight.submittedUpTo(native, mark));
    unwrap(await native.flush());
    await inflight.waitFor(() => inflight.settledUpTo(mark));
  }

  /** Runs a WAL checkpoint now: 'passive' (default), 'full', 'restart' or 'truncate'. */
  async checkpoint(mode = 'passive') {
    if (this.#closing !== null) throw closedError();
    if (typeof mode !== 'string') {
      throw new TypeError(`mode: expected a string, got ${describe(mode)}`);
    }
    return unwrap(await this.#native.checkpoint(mode));
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
      this.#closing = (async () => {
        // The addon hands over the submissions still waiting for room, then closes.
        const closed = await native.close();
        await inflight.waitFor(() => inflight.pending.size === 0);
        unwrap(closed);
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
