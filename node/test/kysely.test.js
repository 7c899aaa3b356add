'use strict';
// litecommit/kysely with the real kysely package: queries built by Kysely run on a
// Committer, reads on the read pool, writes group-committed; transactions are refused.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Kysely, sql } = require('kysely');
const { Committer, LitecommitError } = require('..');
const { LitecommitDialect } = require('../kysely');
const { tempDb, runScript } = require('./helpers');

async function open(options) {
  const committer = new Committer(tempDb(), options);
  // flush() ends the batch at once under any flush policy.
  await Promise.all([
    committer.execute('CREATE TABLE person (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, age INTEGER)'),
    committer.flush(),
  ]);
  return { committer, db: new Kysely({ dialect: new LitecommitDialect({ committer }) }) };
}

test('insert, select, update, delete and RETURNING through Kysely', async () => {
  const { committer, db } = await open();
  const inserted = await db.insertInto('person').values({ name: 'ada', age: 36 }).executeTakeFirstOrThrow();
  assert.equal(inserted.insertId, 1n);
  assert.equal(inserted.numInsertedOrUpdatedRows, 1n);
  const returned = await db.insertInto('person').values({ name: 'alan', age: 41 }).returningAll().execute();
  assert.deepEqual(returned, [{ id: 2, name: 'alan', age: 41 }]);

  assert.deepEqual(await db.selectFrom('person').selectAll().where('name', '=', 'ada').execute(), [
    { id: 1, name: 'ada', age: 36 },
  ]);
  const updated = await db.updateTable('person').set({ age: 37 }).where('name', '=', 'ada').executeTakeFirst();
  assert.equal(updated.numUpdatedRows, 1n);
  const deleted = await db.deleteFrom('person').where('id', '=', 2).returning('name').execute();
  assert.deepEqual(deleted, [{ name: 'alan' }]);
  const cte = await db
    .with('old', (q) => q.selectFrom('person').select('name').where('age', '>', 30))
    .selectFrom('old')
    .selectAll()
    .execute();
  assert.deepEqual(cte, [{ name: 'ada' }]);
  const { rows } = await sql`SELECT count(*) AS n FROM person`.execute(db);
  assert.deepEqual(rows, [{ n: 1 }]);
  // Schema changes go to the writer.
  await db.schema.createTable('pet').addColumn('name', 'text').execute();
  await db.schema.dropTable('pet').execute();
  // Streaming reads in chunks.
  await db.insertInto('person').values([{ name: 'b' }, { name: 'c' }]).execute();
  const streamed = [];
  for await (const row of db.selectFrom('person').select('name').orderBy('id').stream(2)) streamed.push(row.name);
  assert.deepEqual(streamed, ['ada', 'b', 'c']);
  // The introspector reads the schema through the read pool.
  const tables = await db.introspection.getTables();
  assert.deepEqual(
    tables.map((t) => [t.name, t.columns.map((c) => c.name)]),
    [['person', ['id', 'name', 'age']]],
  );
  await db.destroy();
  // destroy() leaves the committer to its owner.
  assert.equal(committer.closed, false);
  await committer.close();
});

test('reads go to the read pool, writes (RETURNING ones too) to the writer', async () => {
  const { committer, db } = await open();
  const committed = () => committer.stats().transactionsCommitted;
  let before = committed();
  await db.selectFrom('person').selectAll().execute();
  await db.with('x', (q) => q.selectFrom('person').select('id')).selectFrom('x').selectAll().execute();
  assert.equal(committed(), before, 'SELECT and WITH ... SELECT commit nothing');
  before = committed();
  await db.insertInto('person').values({ name: 'a' }).returning('id').execute();
  await db.updateTable('person').set({ age: 1 }).execute();
  assert.equal(committed(), before + 2, 'each write is a committed transaction');
  await committer.close();
});

test('concurrent inserts through Kysely share batches', async () => {
  // The ticker policy with a timer that never fires flushes exactly when 5 are queued:
  // the five inserts below are certain to share one batch.
  const { committer, db } = await open({
    flushPolicy: 'ticker',
    maxBatchSize: 5,
    maxWaitMs: 600_000,
    dynamicBatchSize: false,
    checkpoint: false,
  });
  const before = committer.stats();
  const results = await Promise.all(
    Array.from({ length: 5 }, (_, i) => db.insertInto('person').values({ name: `p${i}` }).returning('id').executeTakeFirst()),
  );
  assert.deepEqual(results.map((r) => r.id).sort(), [1, 2, 3, 4, 5]);
  const after = committer.stats();
  assert.equal(after.batches - before.batches, 1, 'one batch');
  assert.equal(after.maxBatchSize, 5);
  assert.equal(after.transactionsCommitted - before.transactionsCommitted, 5);
  await committer.close();
});

test('transactions are refused with a clear error; nothing is written', async () => {
  const { committer, db } = await open();
  const refused = (e) => {
    assert.ok(e instanceof LitecommitError);
    assert.equal(e.code, 'LITECOMMIT_REFUSED');
    assert.match(e.message, /interactive transactions .* not supported.*committer\.transaction/s);
    return true;
  };
  let ran = false;
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      ran = true;
      await trx.insertInto('person').values({ name: 'never' }).execute();
    }),
    refused,
  );
  assert.equal(ran, false);
  await assert.rejects(db.startTransaction().execute(), refused);
  await assert.rejects(sql`BEGIN`.execute(db), refused);
  assert.deepEqual(await db.selectFrom('person').selectAll().execute(), []);
  // The way to an atomic group of Kysely queries: compile them, run them as one transaction.
  const queries = [
    db.insertInto('person').values({ name: 'x' }).compile(),
    db.insertInto('person').values({ name: 'x' }).compile(),
  ];
  await assert.rejects(committer.transaction(queries.map((q) => [q.sql, q.parameters])), {
    code: 'SQLITE_CONSTRAINT_UNIQUE',
    statementIndex: 1,
  });
  assert.deepEqual(await db.selectFrom('person').selectAll().execute(), []);
  await committer.close();
});

test('errors keep their code and lead back to the caller', async () => {
  const { committer, db } = await open();
  await db.insertInto('person').values({ name: 'taken' }).execute();
  let err = null;
  try {
    await db.insertInto('person').values({ name: 'taken' }).execute();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof LitecommitError);
  assert.equal(err.code, 'SQLITE_CONSTRAINT_UNIQUE');
  assert.match(err.stack, /kysely\.test\.js/);
  assert.throws(() => new LitecommitDialect({}), TypeError);
  assert.throws(() => new LitecommitDialect(), TypeError);
  await committer.close();
});

test('litecommit/kysely as an ES module', async () => {
  const r = await runScript(
    `import { Committer } from 'litecommit';
import { LitecommitDialect } from 'litecommit/kysely';
import { Kysely } from 'kysely';
const committer = new Committer('esm.db');
await committer.execute('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)');
const db = new Kysely({ dialect: new LitecommitDialect({ committer }) });
await db.insertInto('kv').values({ k: 'a', v: 1 }).execute();
console.log(JSON.stringify(await db.selectFrom('kv').selectAll().execute()));
await committer.close();
`,
    [],
    { name: 'esm.mjs' },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '[{"k":"a","v":1}]');
});
