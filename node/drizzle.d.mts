// Types of litecommit/drizzle for ESM importers (Drizzle's ESM declarations; see drizzle.d.ts).
import type { DrizzleConfig } from 'drizzle-orm';
import type {
  AsyncBatchRemoteCallback,
  AsyncRemoteCallback,
  SqliteRemoteDatabase,
} from 'drizzle-orm/sqlite-proxy';
import type { Committer } from './index.js';

/** The callbacks `drizzle(callback, batchCallback, config)` of `drizzle-orm/sqlite-proxy` takes. */
export interface DrizzleCallbacks {
  /**
   * Runs one statement: SELECT, VALUES and WITH ... SELECT on the read pool (`query`),
   * anything else as its own group-committed transaction (`execute`). Rows are arrays of
   * values in column order. BEGIN, COMMIT, SAVEPOINT, ... reject with
   * `LITECOMMIT_REFUSED` (interactive transactions are not supported).
   */
  callback: AsyncRemoteCallback;
  /** Runs `db.batch([...])` as one atomic transaction (`transaction`). */
  batchCallback: AsyncBatchRemoteCallback;
}

/** The callbacks for `drizzle-orm/sqlite-proxy`, running on `committer`. */
export declare function callbacks(committer: Committer): DrizzleCallbacks;

/**
 * A Drizzle database on `committer`: writes are group-committed, reads use the read pool,
 * `db.batch([...])` is atomic. `db.transaction(...)` rejects with `LITECOMMIT_REFUSED`.
 */
export declare function drizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  committer: Committer,
  config?: DrizzleConfig<TSchema>,
): SqliteRemoteDatabase<TSchema>;
