// Compiled (not run) by package.test.js: every public name of index.d.ts in use.
import {
  Committer,
  LitecommitError,
  type CheckpointMode,
  type CheckpointResult,
  type Options,
  type Params,
  type Row,
  type SqlResultValue,
  type SqlValue,
  type StatementResult,
  type Stats,
} from 'litecommit';
import { registerMetrics, parse, DB_LABEL, type RegistryLike } from 'litecommit/prometheus';

async function main(): Promise<void> {
  const options: Options = { durability: 'full', maxBatchSize: 100, checkpoint: true, metricsLabel: 'orders' };
  const db = new Committer('typed.db', options);
  const values: SqlValue[] = [null, undefined, 1, 2n, 'x', true, Buffer.from('b'), new Uint8Array(1)];
  const named: Params = { a: 1, ':b': 'two' };
  const r: StatementResult = await db.execute('INSERT INTO t VALUES (?)', values);
  const id: number | bigint = r.lastInsertRowid;
  const n: number = r.changes;
  const results: StatementResult[] = await db.transaction([['SELECT 1'], ['SELECT :a', named]]);
  await db.tryExecute('SELECT 1');
  await db.tryTransaction([['SELECT 1', []]]);
  const each: Promise<StatementResult>[] = db.submitMany('INSERT INTO t VALUES (?)', [[1], [2n], { a: 'x' }, undefined]);
  const returned: StatementResult<{ id: number }>[] = await Promise.all(
    db.submitMany<{ id: number }>('INSERT INTO t VALUES (?) RETURNING rowid AS id', new Set([[3]])),
  );
  console.log(each.length, returned[0].rows[0].id);
  const rows: Row[] = await db.query('SELECT * FROM t');
  const cell: SqlResultValue = rows[0]['v'];
  // Row types given by the caller, for query and for RETURNING rows.
  const counted = await db.query<{ n: number }>('SELECT count(*) AS n FROM t');
  const total: number = counted[0].n;
  const inserted: StatementResult<{ id: number }> = await db.execute<{ id: number }>('INSERT INTO t VALUES (1) RETURNING rowid AS id');
  const newId: number = inserted.rows[0].id;
  const tried = await db.tryExecute<{ id: number }>('INSERT INTO t VALUES (2) RETURNING rowid AS id');
  const stacked = new Committer('stacked.db', { captureStack: true });
  console.log(total, newId, tried.rows[0].id, await stacked.close());
  await db.flush();
  const mode: CheckpointMode = 'truncate';
  const c: CheckpointResult = await db.checkpoint(mode);
  const s: Stats = db.stats();
  const text: string = db.metricsText();
  const closed: boolean = db.closed;
  try {
    await db.close();
  } catch (e) {
    if (e instanceof LitecommitError) {
      const code: string = e.code;
      const index: number | null = e.statementIndex;
      console.log(code, index, e.errno, e.extendedCode, e.message);
    }
  }
  {
    await using scoped = new Committer('scoped.db');
    await scoped.execute('SELECT 1');
  }
  const disposed: Promise<void> = new Committer('disposed.db')[Symbol.asyncDispose]();
  await disposed;
  const registry: RegistryLike = { registerMetric() {} };
  registerMetrics(db, registry);
  const families = parse(text);
  const label: 'db' = DB_LABEL;
  console.log(id, n, results, cell, c.busy, s.transactionsCommitted, closed, families, label);
}
void main();
