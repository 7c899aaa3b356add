// ESM entry of litecommit/drizzle: the same adapter, on Drizzle's ESM build.
import { drizzle as proxy } from 'drizzle-orm/sqlite-proxy';
import adapter from './drizzle.js';

export const { callbacks } = adapter;

/**
 * A Drizzle database (`drizzle-orm/sqlite-proxy`) on `committer`; `config` is Drizzle's
 * (`schema`, `logger`, `casing`, ...).
 */
export function drizzle(committer, config) {
  return adapter.connect(proxy, committer, config);
}
