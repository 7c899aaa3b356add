'use strict';
// Builds the native addon litecommit.node with cargo. This is the install script: when a
// project runs `npm install <checkout>/node`, npm links this folder without installing its
// own dependencies, so the build must need nothing but Node and Rust.
//   node build-addon.js [--debug] [--bench]
// --bench adds the benchmark helper (cargo feature `bench`) that node/bench/bench.js needs;
// the addon users get is built without it.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const cargo = process.env.CARGO || 'cargo';
const args = ['build', '-p', 'litecommit-node', '--lib', '--message-format=json-render-diagnostics'];
if (!process.argv.includes('--debug')) args.push('--release');
if (process.argv.includes('--bench')) args.push('--features', 'bench');

const run = spawnSync(cargo, args, {
  cwd: __dirname,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 1 << 30,
});
if (run.error) {
  console.error(`litecommit: cannot run ${cargo} (install Rust: https://rustup.rs): ${run.error.message}`);
  process.exit(1);
}
if (run.status !== 0) process.exit(run.status ?? 1);

// cargo names the library it built (lib*.so, lib*.dylib or *.dll) in its JSON messages.
let built = null;
for (const line of run.stdout.split('\n')) {
  if (!line.startsWith('{')) continue;
  const m = JSON.parse(line);
  if (m.reason === 'compiler-artifact' && m.target.kind.includes('cdylib')) {
    built = m.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) ?? built;
  }
}
if (built === null) {
  console.error('litecommit: cargo did not report the library it built');
  process.exit(1);
}

// Renamed into place: a running process may still have the previous file mapped.
const dest = path.join(__dirname, 'litecommit.node');
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, dest);
console.log(`litecommit: built ${dest}`);
