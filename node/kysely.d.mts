// Types of litecommit/kysely for ESM importers (Kysely's ESM declarations; see kysely.d.ts).
import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler } from 'kysely';
import type { Committer } from './index.js';

export interface LitecommitDialectConfig {
  /** The committer every query runs on; `db.destroy()` leaves it open. */
  committer: Committer;
}

/**
 * Kysely's SQLite dialect on a Committer: SELECT, VALUES and WITH ... SELECT run on the
 * read pool, other statements as their own group-committed transactions. Transactions
 * (`db.transaction()`, `db.startTransaction()`) reject with `LITECOMMIT_REFUSED`.
 */
export declare class LitecommitDialect implements Dialect {
  constructor(config: LitecommitDialectConfig);
  createDriver(): Driver;
  createQueryCompiler(): QueryCompiler;
  createAdapter(): DialectAdapter;
  createIntrospector(db: Kysely<any>): DatabaseIntrospector;
}
