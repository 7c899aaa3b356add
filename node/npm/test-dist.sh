#!/usr/bin/env bash
# Installs the packed npm packages (node npm/dist.js) in a fresh project on a PATH without
# cargo, rustc or rustup, as a user without Rust would, and checks: the tarball's contents,
# that the addon comes from the platform package, the README's CommonJS and ESM examples,
# the types with the latest TypeScript (tsc --strict, no @types/node), and the error on a
# platform with no addon.
#   node/npm/test-dist.sh DIST_DIR PLATFORM    (e.g. dist/node linux-x64-gnu)
set -euo pipefail

dist=$(cd "$1" && pwd)
platform=$2
node_dir=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$node_dir/package.json').version")
main_tgz=$dist/litecommit-$version.tgz
platform_tgz=$dist/litecommit-$platform-$version.tgz

fail() { echo "test-dist-node: FAIL: $*" >&2; exit 1; }

# The main tarball: what a user needs, no Rust sources, tests, benchmark or build script.
listing=$(tar tzf "$main_tgz")
for f in README.md LICENSE package.json index.js index.mjs index.d.ts prometheus.js prometheus.d.ts \
  drizzle.js drizzle.mjs drizzle.d.ts drizzle.d.mts kysely.js kysely.mjs kysely.d.ts kysely.d.mts; do
  grep -qx "package/$f" <<<"$listing" || fail "$f missing from $(basename "$main_tgz")"
done
if grep -E '\.rs$|Cargo\.toml|/test/|/bench/|build-addon\.js|\.node$' <<<"$listing"; then
  fail "$(basename "$main_tgz") ships files users do not need (above)"
fi
tar xzOf "$main_tgz" package/package.json | node -e "
  const p = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  if (p.scripts) throw new Error('the main package has scripts: ' + JSON.stringify(p.scripts));
  if (p.optionalDependencies?.['litecommit-$platform'] !== '$version')
    throw new Error('litecommit-$platform@$version is not an optional dependency');"
listing=$(tar tzf "$platform_tgz")
grep -qx "package/litecommit.$platform.node" <<<"$listing" || fail "no addon in $(basename "$platform_tgz")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/litecommit-dist-node.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/app"
for tool in node npm npx; do ln -s "$(command -v "$tool")" "$tmp/bin/$tool"; done
export PATH=$tmp/bin:/usr/bin:/bin
for tool in cargo rustc rustup; do
  if command -v "$tool" >/dev/null; then fail "$tool is on the PATH of the check ($(command -v "$tool"))"; fi
done

cd "$tmp/app"
echo '{ "name": "app", "version": "1.0.0", "private": true }' >package.json
npm install --no-audit --no-fund --loglevel=error "$main_tgz" "$platform_tgz" typescript@latest
[ ! -e node_modules/litecommit/litecommit.node ] || fail "a local build was installed"
node -e "
  require('litecommit');
  const addon = Object.keys(require.cache).find((f) => f.endsWith('litecommit.$platform.node'));
  if (!addon) throw new Error('the addon did not come from litecommit-$platform');
  console.log('addon:', addon);"

# The README's examples: the first js block is CommonJS, the second an ES module.
node -e "
  const fs = require('fs');
  const blocks = [...fs.readFileSync('node_modules/litecommit/README.md', 'utf8').matchAll(/\`\`\`js\n([\s\S]*?)\`\`\`/g)];
  if (blocks.length < 2) throw new Error('the README has no CommonJS and ESM examples');
  fs.writeFileSync('readme.cjs', blocks[0][1]);
  fs.writeFileSync('readme.mjs', blocks[1][1]);"
out=$(node readme.cjs)
[ "$out" = $'[ { v: 11 } ]\n[ { n: 101 } ]' ] || fail "CommonJS example printed: $out"
out=$(node readme.mjs)
[ "$out" = $'true SQLITE_CONSTRAINT_UNIQUE\n[ { msg: \'hello\' } ]' ] || fail "ESM example printed: $out"

# Types, with no @types/node: BLOBs are Uint8Array, rows are typed, misuse is an error.
cat >typed.ts <<'TS'
import { Committer, LitecommitError, type Options, type Row, type SqlResultValue } from 'litecommit';

export async function run(path: string): Promise<number> {
  const options: Options = { durability: 'full' };
  const db = new Committer(path, options);
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)');
  const r = await db.execute('INSERT INTO t (b) VALUES (?)', [new Uint8Array([1, 2])]);
  const rowid: number | bigint = r.lastInsertRowid;
  const typed = await db.query<{ b: Uint8Array }>('SELECT b FROM t');
  const bytes: Uint8Array = typed[0].b;
  const rows: Row[] = await db.query('SELECT * FROM t');
  const value: SqlResultValue = rows[0].b;
  try {
    await db.transaction([['INSERT INTO t (id) VALUES (?)', [rowid]]]);
  } catch (e) {
    if (e instanceof LitecommitError) return e.statementIndex ?? -1;
  }
  await db.close();
  return bytes.length + (value === null ? 0 : 1);
}
TS
cp typed.ts typed.mts
tsc=(npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022)
echo "tsc $(npx tsc --version)"
"${tsc[@]}" typed.ts typed.mts || fail "tsc rejects a correct program"
cat >bad.ts <<'TS'
import { Committer } from 'litecommit';
new Committer('x.db', { durabilty: 'full' }).execute('SELECT ?', [new Date()]);
TS
if "${tsc[@]}" bad.ts >bad.out; then fail "tsc accepts a misspelt option and a Date parameter"; fi
grep -q durabilty bad.out && grep -q Date bad.out || fail "tsc did not report both mistakes: $(cat bad.out)"

# Without the platform package (and no local build), loading names the platform.
mkdir -p "$tmp/bare/node_modules"
cp -r node_modules/litecommit "$tmp/bare/node_modules/"
cd "$tmp/bare"
if node -e "require('litecommit')" 2>err.out; then fail "litecommit loaded without an addon"; fi
grep -q "no native addon for this platform, $platform" err.out || fail "unclear error: $(cat err.out)"
echo "test-dist-node: OK (litecommit $version + litecommit-$platform installed and used without Rust)"
