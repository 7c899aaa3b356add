// ESM entry of litecommit/kysely: the same dialect, with SQLite's compiler, adapter and
// introspector from Kysely's ESM build.
import { SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import cjs from './kysely.js';

/** A Kysely dialect on `config.committer`. */
export class LitecommitDialect extends cjs.LitecommitDialect {
  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  createIntrospector(db) {
    return new SqliteIntrospector(db);
  }
}
