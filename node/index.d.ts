// Type declarations of litecommit's Node API (CommonJS `require('litecommit')` and ESM).

/** A value that can be bound to a parameter. Booleans are stored as 0/1. */
export type SqlValue = null | undefined | number | bigint | string | boolean | Uint8Array;

/**
 * A value read back: integers outside ±2^53 come back as `bigint`, BLOBs as `Uint8Array`
 * (a Node `Buffer` at run time).
 */
export type SqlResultValue = null | number | bigint | string | Uint8Array;

/** Positional (`?`, `?NNN`) values, or named (`:name`, `@name`, `$name`) values by name. */
export type Params = readonly SqlValue[] | { readonly [name: string]: SqlValue };

/** A row, keyed by column name. */
export type Row = Record<string, SqlResultValue>;

/**
 * What one statement did. `T` is the type of its `RETURNING` rows (`Row` unless given:
 * `execute<{ id: number }>(...)`); it is not checked at run time.
 */
export interface StatementResult<T = Row> {
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
  /** The connection's last insert rowid after the statement (`bigint` outside ±2^53). */
  lastInsertRowid: number | bigint;
  /** Rows of a `RETURNING` clause (empty otherwise). */
  rows: T[];
}

export type CheckpointMode = 'passive' | 'full' | 'restart' | 'truncate';

export interface CheckpointResult {
  mode: CheckpointMode;
  /** Frames in the WAL. */
  logFrames: number;
  /** Frames copied back into the database. */
  checkpointedFrames: number;
  /** Whether SQLite reported busy (some frames could not be checkpointed). */
  busy: boolean;
}

/**
 * Options, in camelCase (the same meaning as the configuration in the README). Values are
 * checked at open: a fraction, a negative or out-of-range count is a LitecommitError.
 */
export interface Options {
  /**
   * Capture the caller's stack when each call is made, so that a rejection's stack shows
   * where the call was made even when nothing awaits the promise (`.then` chains,
   * callbacks). Default false: it costs throughput (see the README), and callers that
   * `await` see their frames without it. Handled in JavaScript, not by the engine.
   */
  captureStack?: boolean;
  /** 'full' (default: fsync per batch), 'normal' or 'off'. */
  durability?: 'full' | 'normal' | 'off';
  /** 'adaptive' (default) or 'ticker'. */
  flushPolicy?: 'adaptive' | 'ticker';
  maxBatchSize?: number;
  maxWaitMs?: number;
  lingerMs?: number;
  queueCapacity?: number;
  busyTimeoutMs?: number;
  readConnections?: number;
  /** Run the background checkpoint scheduler (default true). */
  checkpoint?: boolean;
  passiveThresholdMb?: number;
  restartThresholdMb?: number;
  checkpointBusyTimeoutMs?: number;
  walHardLimitMb?: number;
  walHardLimitPauseMs?: number;
  dynamicBatchSize?: boolean;
  truncateWhenIdle?: boolean;
  idleVacuumPages?: number;
  idleVacuumBudgetMs?: number;
  idleMs?: number;
  cacheSizeKib?: number;
  mmapSize?: number;
  /** Bytes; negative keeps the WAL file at its high-water mark. */
  journalSizeLimit?: number;
  foreignKeys?: boolean;
  statementCacheCapacity?: number;
  /** Value of the constant label `db` on every metric (default: the database file's name). */
  metricsLabel?: string;
}

/** The committer's figures, the same as its Prometheus metrics. */
export interface Stats {
  transactionsCommitted: number;
  transactionsFailed: number;
  transactionsAborted: number;
  batches: number;
  /** Batches by flush trigger (`adaptive`, `size`, `timer`, `flush`, `close`). */
  flushes: Record<string, number>;
  maxBatchSize: number;
  meanBatchSize: number;
  meanFlushMs: number;
  meanCommitLatencyMs: number;
  /** Checkpoints by mode. */
  checkpoints: Record<string, number>;
  checkpointsBusy: number;
  checkpointRunning: boolean;
  walFrames: number;
  walBacklogFrames: number;
  walFileBytes: number;
  /** Transactions queued when the latest batch was formed. */
  queueDepth: number;
  /** Messages (transactions and flush barriers) in the queue right now. */
  queueLength: number;
  /** Calls handing work to the queue right now (blocked while the queue is full). */
  submitting: number;
  /** Longest time the writer paused for a checkpoint, in ms. */
  maxWriterStallMs: number;
}

/** The error every promise of litecommit rejects with (TypeError/RangeError for bad arguments). */
export declare class LitecommitError extends Error {
  name: 'LitecommitError';
  /**
   * `'SQLITE_CONSTRAINT_UNIQUE'`, `'SQLITE_BUSY'`, ... for SQLite errors; `'LITECOMMIT_CLOSED'`,
   * `'LITECOMMIT_QUEUE_FULL'`, `'LITECOMMIT_REFUSED'`, `'LITECOMMIT_PARAMETER'`,
   * `'LITECOMMIT_INVALID_CONFIG'`, `'LITECOMMIT_OPEN'`, `'LITECOMMIT_FORKED'`,
   * `'LITECOMMIT_TIMEOUT'`, `'LITECOMMIT_INTERNAL'` otherwise.
   */
  code: string;
  /** Index of the failing statement within its transaction, or null. */
  statementIndex: number | null;
  /** SQLite primary result code, or null. */
  errno: number | null;
  /** SQLite extended result code, or null. */
  extendedCode: number | null;
}

declare global {
  interface SymbolConstructor {
    /** The method `await using` calls (lib es2025/esnext declares it too: the same type). */
    readonly asyncDispose: unique symbol;
  }
}

/**
 * A group committer on one SQLite database.
 *
 * Every submission it accepts is committed or its promise rejected; none is dropped. That
 * holds when JavaScript stops first, too: `process.exit()`, an uncaught exception,
 * `worker.terminate()` or the committer being garbage-collected unclosed commit every
 * accepted submission, including those still waiting for room in a full queue (they wait
 * in the addon, not in JavaScript), before the database is closed; their promises can no
 * longer settle then.
 */
export declare class Committer {
  /**
   * Opens (creating if needed) the database at `path`. Throws a LitecommitError on bad
   * options (`LITECOMMIT_INVALID_CONFIG`: unknown name, out of range, not an integer where
   * one is needed) and when SQLite cannot open the file (SQLite's code, e.g.
   * `SQLITE_NOTADB` for a file that is not a database, `SQLITE_BUSY` when it is locked).
   */
  constructor(path: string, options?: Options);
  /**
   * Runs one statement as a transaction; resolves once it is durable. When the queue is
   * full it waits for room, in submission order.
   */
  execute<T = Row>(sql: string, params?: Params): Promise<StatementResult<T>>;
  /** Runs the statements atomically; resolves to one result per statement once durable. */
  transaction(statements: ReadonlyArray<readonly [sql: string, params?: Params]>): Promise<StatementResult[]>;
  /** Like `execute`, rejecting at once with `LITECOMMIT_QUEUE_FULL` when the queue is full. */
  tryExecute<T = Row>(sql: string, params?: Params): Promise<StatementResult<T>>;
  /** Like `transaction`, rejecting at once with `LITECOMMIT_QUEUE_FULL` when the queue is full. */
  tryTransaction(statements: ReadonlyArray<readonly [sql: string, params?: Params]>): Promise<StatementResult[]>;
  /**
   * Runs `sql` once per parameter set, each as its own transaction (unlike one
   * `transaction`, a set that fails fails alone), all queued by one call; returns one
   * promise per set, in order, each resolving as `execute` does. Every set is checked
   * before any is queued: a bad one throws a TypeError/RangeError naming it
   * (`paramsList[2]: parameter 1: ...`) and nothing is queued; so does a call that can queue
   * none (a LitecommitError: `LITECOMMIT_CLOSED`, a refused statement). While the queue is
   * full the sets wait for room, in order. Rejections carry the stack of this call.
   */
  submitMany<T = Row>(sql: string, paramsList: Iterable<Params | null | undefined>): Promise<StatementResult<T>>[];
  /**
   * Runs a read-only statement on the read pool. `T` is the type of its rows (`Row` unless
   * given: `query<{ n: number }>('SELECT count(*) AS n FROM t')`); it is not checked at
   * run time.
   */
  query<T = Row>(sql: string, params?: Params): Promise<T[]>;
  /** Resolves once every transaction submitted before it is committed. */
  flush(): Promise<void>;
  /** Runs a WAL checkpoint now (default 'passive'). */
  checkpoint(mode?: CheckpointMode): Promise<CheckpointResult>;
  /** The metrics in the Prometheus text exposition format. */
  metricsText(): string;
  /** The same figures as the metrics. */
  stats(): Stats;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /** Commits everything submitted, settles every promise, closes the database. Idempotent. */
  close(): Promise<void>;
  /** `close()`, for `await using db = new Committer(path)`. */
  [Symbol.asyncDispose](): Promise<void>;
}
