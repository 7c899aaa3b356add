'use strict';
// litecommit/kysely: a Kysely dialect on a Committer.
//
// Kysely's SQLite adapter, query compiler and introspector, with a driver whose
// connections route each query by what it does: SELECT, VALUES and WITH ... SELECT go to
// `query` (the read pool), everything else to `execute` (the writer, group-committed with
// other writes). Connections hold no state, so any number of queries run at once and
// concurrent writes share batches. Transactions (`db.transaction()`,
// `db.startTransaction()`) are refused: litecommit commits a transaction as a whole, so
// reads inside it could not see its own writes; compile the queries and pass them to
// `committer.transaction([...])` instead.

const { LitecommitError, internals } = require('./index.js');

const INTERACTIVE =
  'litecommit/kysely: interactive transactions (db.transaction(), db.startTransaction()) are ' +
  'not supported: litecommit commits each transaction as a whole, so reads inside one could ' +
  'not see its own writes. Compile the queries (query.compile()) and run them atomically ' +
  'with committer.transaction([[sql, parameters], ...]).';

/** First keywords of statements that control transactions. */
const TRANSACTION_CONTROL = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE']);

function refused() {
  return new LitecommitError({ code: 'LITECOMMIT_REFUSED', message: INTERACTIVE });
}

/** A connection: stateless, so one is shared by every query. */
class LitecommitConnection {
  #committer;

  constructor(committer) {
    this.#committer = committer;
  }

  /** Runs a compiled query: reads on the read pool, the rest group-committed. */
  async executeQuery(compiledQuery) {
    const { sql, parameters } = compiledQuery;
    if (TRANSACTION_CONTROL.has(internals.statementVerb(sql))) throw refused();
    if (internals.reads(sql)) {
      return { rows: await this.#committer.query(sql, parameters) };
    }
    const r = await this.#committer.execute(sql, parameters);
    return { rows: r.rows, numAffectedRows: BigInt(r.changes), insertId: BigInt(r.lastInsertRowid) };
  }

  /** Yields the rows of a query in chunks of `chunkSize` (read all at once first). */
  async *streamQuery(compiledQuery, chunkSize = 100) {
    const { rows } = await this.executeQuery(compiledQuery);
    const size = Math.max(1, Math.floor(chunkSize));
    for (let i = 0; i < rows.length; i += size) yield { rows: rows.slice(i, i + size) };
  }
}

/** Kysely's driver: hands out the one stateless connection, refuses transactions. */
class LitecommitDriver {
  #connection;

  constructor(committer) {
    this.#connection = new LitecommitConnection(committer);
  }

  async init() {}

  async acquireConnection() {
    return this.#connection;
  }

  async beginTransaction() {
    throw refused();
  }

  async commitTransaction() {
    throw refused();
  }

  async rollbackTransaction() {
    throw refused();
  }

  async releaseConnection() {}

  /** Leaves the committer open: it belongs to the caller, who closes it. */
  async destroy() {}
}

/**
 * A Kysely dialect on `config.committer`: `new Kysely({ dialect: new LitecommitDialect({
 * committer }) })`. Needs the `kysely` package.
 */
class LitecommitDialect {
  #committer;

  constructor(config) {
    const committer = config === null || typeof config !== 'object' ? undefined : config.committer;
    if (!internals.isCommitter(committer)) {
      throw new TypeError('litecommit/kysely: expected { committer } with a Committer from litecommit');
    }
    this.#committer = committer;
  }

  createDriver() {
    return new LitecommitDriver(this.#committer);
  }

  createQueryCompiler() {
    return new (require('kysely').SqliteQueryCompiler)();
  }

  createAdapter() {
    return new (require('kysely').SqliteAdapter)();
  }

  createIntrospector(db) {
    return new (require('kysely').SqliteIntrospector)(db);
  }
}

module.exports = { LitecommitDialect };
