'use strict';
// Packs the npm packages of a release into a directory (napi-rs's layout): the main package
// `litecommit` (JavaScript, types, README, LICENSE; no Rust sources, no install script) with
// one optional dependency per platform, and one package per platform holding only that
// platform's prebuilt addon, installed by npm where its `os`, `cpu` and `libc` match.
//   node npm/dist.js --out DIR --platforms linux-x64-gnu,linux-arm64-gnu \
//     [--addon linux-x64-gnu=path/to/liblitecommit_node.so ...]
// --platforms: the main package's optional dependencies; --addon: the platform packages to
// pack, each from its built library. Prints the tarballs it wrote.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const NODE_DIR = path.join(__dirname, '..');
const LICENSE = path.join(NODE_DIR, '..', 'LICENSE');

/** The options: --out, --platforms (comma-separated), --addon (repeated platform=path). */
function parseArgs(argv) {
  const opts = { out: null, platforms: [], addons: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--out') opts.out = path.resolve(value);
    else if (flag === '--platforms') opts.platforms = value.split(',').filter(Boolean);
    else if (flag === '--addon') {
      const at = value.indexOf('=');
      if (at < 1) usage(`--addon takes platform=path, not ${value}`);
      opts.addons.push({ platform: value.slice(0, at), file: path.resolve(value.slice(at + 1)) });
    } else usage(`unknown option ${flag}`);
  }
  if (opts.out === null || opts.platforms.length === 0) usage('--out and --platforms are required');
  for (const { platform, file } of opts.addons) {
    if (!opts.platforms.includes(platform)) usage(`--addon ${platform} is not in --platforms`);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) usage(`--addon ${platform}: no file ${file}`);
  }
  return opts;
}

function usage(problem) {
  console.error(`dist.js: ${problem}\nusage: node npm/dist.js --out DIR --platforms P1,P2 [--addon P=FILE ...]`);
  process.exit(2);
}

/** npm's `os`, `cpu` and `libc` of a platform name such as 'linux-arm64-gnu'. */
function constraints(platform) {
  const [os, cpu, abi] = platform.split('-');
  const fields = { os: [os], cpu: [cpu] };
  if (os === 'linux') fields.libc = [abi === 'musl' ? 'musl' : 'glibc'];
  return fields;
}

/** `npm pack` of a staged package directory into `out`; returns the tarball's path. */
function pack(dir, out) {
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return path.join(out, JSON.parse(json)[0].filename);
}

/** A fresh staging directory for one package. */
function stage(out, name) {
  const dir = path.join(out, 'stage', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(LICENSE, path.join(dir, 'LICENSE'));
  return dir;
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const main = JSON.parse(fs.readFileSync(path.join(NODE_DIR, 'package.json'), 'utf8'));
  fs.mkdirSync(opts.out, { recursive: true });
  const tarballs = [];

  for (const { platform, file } of opts.addons) {
    const name = `${main.name}-${platform}`;
    const binary = `${main.name}.${platform}.node`;
    const dir = stage(opts.out, name);
    fs.copyFileSync(file, path.join(dir, binary));
    writeJson(path.join(dir, 'package.json'), {
      name,
      version: main.version,
      description: `The ${platform} native addon of ${main.name} (installed by ${main.name}; do not depend on it)`,
      license: main.license,
      homepage: main.homepage,
      repository: main.repository,
      main: binary,
      files: [binary],
      ...constraints(platform),
      engines: main.engines,
    });
    fs.writeFileSync(
      path.join(dir, 'README.md'),
      `# ${name}\n\nThe prebuilt ${platform} native addon of [${main.name}](https://www.npmjs.com/package/${main.name}).\n` +
        `npm installs it as an optional dependency of \`${main.name}\` on matching machines: depend on \`${main.name}\`.\n`,
    );
    tarballs.push(pack(dir, opts.out));
  }

  const dir = stage(opts.out, main.name);
  for (const f of main.files) fs.copyFileSync(path.join(NODE_DIR, f), path.join(dir, f));
  fs.copyFileSync(path.join(NODE_DIR, 'README.md'), path.join(dir, 'README.md'));
  // Users install prebuilt addons: no build scripts, no development dependencies.
  delete main.scripts;
  delete main.devDependencies;
  main.optionalDependencies = Object.fromEntries(opts.platforms.map((p) => [`${main.name}-${p}`, main.version]));
  writeJson(path.join(dir, 'package.json'), main);
  tarballs.push(pack(dir, opts.out));

  for (const t of tarballs) console.log(t);
}

main();
