'use strict';
// litecommit/drizzle: a Committer as the database of Drizzle ORM's `sqlite-proxy` driver.
//
// Drizzle hands each statement to a callback `(sql, params, method)` with method 'run',
// 'all', 'values' or 'get', and `db.batch([...])` to a batch callback. Statements are
// routed by what they do, not by the method (an `INSERT ... RETURNING` comes as 'all' or
// 'get'): SELECT, VALUES and WITH ... SELECT go to `query` (the read pool), everything
// else to `execute` (the writer, group-committed with other writes). A batch is one atomic
// `transaction([...])` on the writer, whose reads see the batch's earlier writes.
// Interactive transactions (`db.transaction(async (tx) => ...)`) are refused: litecommit
// commits a transaction as a whole, so reads inside it could not see its own writes.

const { LitecommitError, internals } = require('./index.js');

/** First keywords of statements that control transactions, which Drizzle sends for `db.transaction`. */
const TRANSACTION_CONTROL = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE']);

const INTERACTIVE =
  'litecommit/drizzle: interactive transactions (db.transaction(async (tx) => ...)) are not ' +
  'supported: litecommit commits each transaction as a whole, so reads inside one could not ' +
  'see its own writes. Use db.batch([...]), which runs its statements atomically.';

function refused() {
  return new LitecommitError({ code: 'LITECOMMIT_REFUSED', message: INTERACTIVE });
}

function checkCommitter(committer) {
  if (!internals.isCommitter(committer)) {
    throw new TypeError('litecommit/drizzle: expected a Committer from litecommit');
  }
}

/** The result Drizzle expects for `method`: `rows` is the first row for 'get', else all rows. */
function shaped(method, rows, result) {
  const out = { rows: method === 'get' ? rows[0] : rows };
  if (result !== undefined) {
    out.changes = result.changes;
    out.lastInsertRowid = result.lastInsertRowid;
  }
  return out;
}

/**
 * The two callbacks `drizzle(callback, batchCallback, config)` of `drizzle-orm/sqlite-proxy`
 * takes, running on `committer`. Rows are arrays of values in column order, as Drizzle
 * maps them; a write also reports `changes` and `lastInsertRowid`.
 */
function callbacks(committer) {
  checkCommitter(committer);
  async function callback(sql, params, method) {
    const verb = internals.statementVerb(sql);
    if (TRANSACTION_CONTROL.has(verb)) throw refused();
    if (internals.reads(sql)) {
      return shaped(method, await internals.query(committer, sql, params));
    }
    const result = await internals.execute(committer, sql, params);
    return shaped(method, result.rows, result);
  }
  async function batchCallback(batch) {
    if (batch.some((q) => TRANSACTION_CONTROL.has(internals.statementVerb(q.sql)))) throw refused();
    const results = await internals.transaction(committer, batch.map((q) => [q.sql, q.params]));
    return results.map((r, i) => shaped(batch[i].method, r.rows, r));
  }
  return { callback, batchCallback };
}

/** Rejects: see INTERACTIVE. */
async function transaction() {
  throw refused();
}

/** `proxy(callbacks..., config)` with `transaction` refusing at once (see INTERACTIVE). */
function connect(proxy, committer, config) {
  const { callback, batchCallback } = callbacks(committer);
  const db = proxy(callback, batchCallback, config ?? {});
  Object.defineProperty(db, 'transaction', { value: transaction, writable: true, configurable: true });
  return db;
}

/**
 * A Drizzle database (`drizzle-orm/sqlite-proxy`) on `committer`; `config` is Drizzle's
 * (`schema`, `logger`, `casing`, ...). Needs the `drizzle-orm` package.
 */
function drizzle(committer, config) {
  checkCommitter(committer);
  return connect(require('drizzle-orm/sqlite-proxy').drizzle, committer, config);
}

module.exports = { drizzle, callbacks };
// For drizzle.mjs, which passes the ESM build of Drizzle (not enumerable: not API).
Object.defineProperty(module.exports, 'connect', { value: connect });
