'use strict';
// litecommit/drizzle with the real drizzle-orm package: queries built by Drizzle run on a
// Committer, reads on the read pool, writes group-committed, batches atomic.
const test = require('node:test');
const assert = require('node:assert/strict');
const { eq, sql } = require('drizzle-orm');
const { sqliteTable, integer, text } = require('drizzle-orm/sqlite-core');
const { drizzle: proxy } = require('drizzle-orm/sqlite-proxy');
const { Committer, LitecommitError } = require('..');
const { drizzle, callbacks } = require('../drizzle');
const { tempDb, runScript } = require('./helpers');

const users = sqliteTable('users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  age: integer('age'),
});

const posts = sqliteTable('posts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  userId: integer('user_id').notNull(),
  title: text('title').notNull(),
});

const SCHEMA = [
  'CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, age INTEGER)',
  'CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, title TEXT NOT NULL)',
];

async function open(options) {
  const committer = new Committer(tempDb(), options);
  // flush() ends the batch at once under any flush policy.
  await Promise.all([committer.transaction(SCHEMA.map((s) => [s])), committer.flush()]);
  return { committer, db: drizzle(committer, { schema: { users, posts } }) };
}

test('insert, select, update, delete and RETURNING through Drizzle', async () => {
  const { committer, db } = await open();
  const inserted = await db.insert(users).values({ name: 'ada', age: 36 });
  assert.equal(inserted.changes, 1);
  assert.equal(inserted.lastInsertRowid, 1);
  const returned = await db.insert(users).values({ name: 'alan', age: 41 }).returning();
  assert.deepEqual(returned, [{ id: 2, name: 'alan', age: 41 }]);
  const one = await db.insert(users).values({ name: 'grace' }).returning({ id: users.id }).get();
  assert.deepEqual(one, { id: 3 });

  assert.deepEqual(await db.select().from(users).where(eq(users.name, 'ada')), [{ id: 1, name: 'ada', age: 36 }]);
  assert.deepEqual(await db.select({ name: users.name }).from(users).where(eq(users.id, 3)).get(), { name: 'grace' });
  assert.equal(await db.select().from(users).where(eq(users.id, 99)).get(), undefined);
  assert.deepEqual(await db.select({ id: users.id, name: users.name }).from(users).orderBy(users.id).values(), [
    [1, 'ada'],
    [2, 'alan'],
    [3, 'grace'],
  ]);

  const updated = await db.update(users).set({ age: 37 }).where(eq(users.name, 'ada')).returning({ age: users.age });
  assert.deepEqual(updated, [{ age: 37 }]);
  const plainUpdate = await db.update(users).set({ age: 1 }).where(sql`${users.age} IS NULL`);
  assert.equal(plainUpdate.changes, 1);
  const deleted = await db.delete(users).where(eq(users.name, 'alan')).returning({ id: users.id });
  assert.deepEqual(deleted, [{ id: 2 }]);
  assert.deepEqual(await db.select({ name: users.name, age: users.age }).from(users).orderBy(users.id), [
    { name: 'ada', age: 37 },
    { name: 'grace', age: 1 },
  ]);

  // A join whose columns share names (users.id, posts.id): rows are arrays, none is lost.
  await db.insert(posts).values([
    { userId: 1, title: 'notes' },
    { userId: 3, title: 'compilers' },
  ]);
  const joined = await db.select().from(users).innerJoin(posts, eq(posts.userId, users.id)).orderBy(posts.id);
  assert.deepEqual(joined, [
    { users: { id: 1, name: 'ada', age: 37 }, posts: { id: 1, userId: 1, title: 'notes' } },
    { users: { id: 3, name: 'grace', age: 1 }, posts: { id: 2, userId: 3, title: 'compilers' } },
  ]);
  // Raw SQL through Drizzle, and a CTE that reads.
  const withRows = await db.all(sql`WITH n AS (SELECT count(*) AS c FROM users) SELECT c FROM n`);
  assert.deepEqual(withRows, [[2]]);
  await committer.close();
});

test('reads go to the read pool, writes (RETURNING ones too) to the writer', async () => {
  const { committer, db } = await open();
  const committed = () => committer.stats().transactionsCommitted;
  let before = committed();
  await db.select().from(users);
  await db.select({ n: sql`count(*)` }).from(users).get();
  await db.all(sql`WITH x AS (SELECT 1 AS v) SELECT v FROM x`);
  assert.equal(committed(), before, 'SELECT and WITH ... SELECT commit nothing');
  before = committed();
  await db.insert(users).values({ name: 'a' }).returning(); // Drizzle's 'all'
  await db.insert(users).values({ name: 'b' }).returning().get(); // Drizzle's 'get'
  await db.run(sql`WITH x(n) AS (VALUES ('c')) INSERT INTO users (name) SELECT n FROM x`);
  assert.equal(committed(), before + 3, 'each write is a committed transaction');
  await committer.close();
});

test('concurrent inserts through Drizzle share batches', async () => {
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
    Array.from({ length: 5 }, (_, i) => db.insert(users).values({ name: `u${i}`, age: i }).returning({ id: users.id })),
  );
  assert.deepEqual(results.map(([r]) => r.id).sort(), [1, 2, 3, 4, 5]);
  const after = committer.stats();
  assert.equal(after.batches - before.batches, 1, 'one batch');
  assert.equal(after.maxBatchSize, 5);
  assert.equal(after.transactionsCommitted - before.transactionsCommitted, 5);
  assert.deepEqual(await db.select({ n: sql`count(*)` }).from(users).get(), { n: 5 });
  await committer.close();
});

test('db.batch is one atomic transaction whose reads see its own writes', async () => {
  const { committer, db } = await open();
  const before = committer.stats().transactionsCommitted;
  const [ins, upd, all, first] = await db.batch([
    db.insert(users).values({ name: 'x', age: 1 }).returning({ id: users.id }),
    db.update(users).set({ age: 2 }).where(eq(users.name, 'x')),
    db.select().from(users),
    db.query.users.findFirst({ columns: { age: true }, where: eq(users.name, 'x') }), // Drizzle's 'get'
  ]);
  assert.deepEqual(ins, [{ id: 1 }]);
  assert.equal(upd.changes, 1);
  assert.deepEqual(all, [{ id: 1, name: 'x', age: 2 }]);
  assert.deepEqual(first, { age: 2 });
  assert.equal(committer.stats().transactionsCommitted, before + 1, 'the batch is one transaction');

  // A failing statement rolls the whole batch back.
  await assert.rejects(
    db.batch([db.insert(users).values({ name: 'y' }), db.insert(users).values({ name: 'x' })]),
    (e) => {
      assert.ok(e instanceof LitecommitError);
      assert.equal(e.code, 'SQLITE_CONSTRAINT_UNIQUE');
      assert.equal(e.statementIndex, 1);
      return true;
    },
  );
  assert.deepEqual(await db.select({ name: users.name }).from(users), [{ name: 'x' }]);
  await committer.close();
});

test('interactive transactions are refused with a clear error; nothing is written', async () => {
  const { committer, db } = await open();
  let ran = false;
  await assert.rejects(
    db.transaction(async (tx) => {
      ran = true;
      await tx.insert(users).values({ name: 'never' });
    }),
    (e) => {
      assert.ok(e instanceof LitecommitError);
      assert.equal(e.code, 'LITECOMMIT_REFUSED');
      assert.match(e.message, /interactive transactions .* not supported.*db\.batch/s);
      return true;
    },
  );
  assert.equal(ran, false);
  // Drizzle built from the callbacks alone sends BEGIN, which is refused the same way.
  const { callback, batchCallback } = callbacks(committer);
  const plain = proxy(callback, batchCallback);
  await assert.rejects(
    plain.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'never' });
    }),
    (e) => {
      assert.equal(e.cause.code, 'LITECOMMIT_REFUSED');
      assert.match(e.cause.message, /interactive transactions/);
      return true;
    },
  );
  assert.deepEqual(await db.select().from(users), []);
  await committer.close();
});

test('errors reach Drizzle with their code, and the caller in the stack', async () => {
  const { committer, db } = await open();
  await db.insert(users).values({ name: 'taken' });
  let err = null;
  try {
    await db.insert(users).values({ name: 'taken' });
  } catch (e) {
    err = e;
  }
  // Drizzle wraps driver errors: its DrizzleQueryError has ours as the cause.
  assert.ok(err.cause instanceof LitecommitError);
  assert.equal(err.cause.code, 'SQLITE_CONSTRAINT_UNIQUE');
  // Both stacks lead back to this file through the awaiting async functions.
  assert.match(err.cause.stack, /drizzle\.test\.js/);
  assert.match(err.stack, /drizzle\.test\.js/);
  assert.throws(() => drizzle({}), TypeError);
  assert.throws(() => callbacks(null), TypeError);
  await committer.close();
});

test('litecommit/drizzle as an ES module', async () => {
  const r = await runScript(
    `import { Committer } from 'litecommit';
import { drizzle, callbacks } from 'litecommit/drizzle';
import { sqliteTable, integer, text } from 'drizzle-orm/sqlite-core';
const kv = sqliteTable('kv', { k: text('k').primaryKey(), v: integer('v') });
const committer = new Committer('esm.db');
await committer.execute('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)');
const db = drizzle(committer);
await db.insert(kv).values({ k: 'a', v: 1 });
console.log(JSON.stringify(await db.select().from(kv)), typeof callbacks);
await committer.close();
`,
    [],
    { name: 'esm.mjs' },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '[{"k":"a","v":1}] function');
});
