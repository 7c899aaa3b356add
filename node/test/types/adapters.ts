// Compiled (not run) by package.test.js, as CommonJS (adapters.ts) and as an ES module (a
// copy named adapters.mts): litecommit/drizzle and litecommit/kysely against the
// declarations of drizzle-orm and kysely. With --skipLibCheck: Drizzle's own declarations
// do not pass a library check (Drizzle's documentation asks for skipLibCheck).
import { Committer } from 'litecommit';
import { callbacks, drizzle, type DrizzleCallbacks } from 'litecommit/drizzle';
import { LitecommitDialect, type LitecommitDialectConfig } from 'litecommit/kysely';
import { drizzle as proxy, type SqliteRemoteDatabase } from 'drizzle-orm/sqlite-proxy';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import { Kysely } from 'kysely';

async function main(): Promise<void> {
  const db = new Committer('adapters.db');
  const table = sqliteTable('t', { v: integer('v') });
  const orm: SqliteRemoteDatabase<{ table: typeof table }> = drizzle(db, { schema: { table } });
  const ormRows: { v: number | null }[] = await orm.select().from(table);
  const found: { v: number | null } | undefined = await orm.query.table.findFirst();
  const fromCallbacks: DrizzleCallbacks = callbacks(db);
  const plain = proxy(fromCallbacks.callback, fromCallbacks.batchCallback);
  await plain.batch([plain.insert(table).values({ v: 1 }), plain.select().from(table)]);
  const dialectConfig: LitecommitDialectConfig = { committer: db };
  const k = new Kysely<{ t: { v: number } }>({ dialect: new LitecommitDialect(dialectConfig) });
  const kRows: { v: number }[] = await k.selectFrom('t').selectAll().execute();
  console.log(ormRows, found, kRows);
  await db.close();
}
void main();
