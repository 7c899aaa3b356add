'use strict';
// Runs every ```js example of the README's Node section and checks the output that the
// `console.log(...); // expected` comments promise.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runScript } = require('./helpers');

const README = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
const section = /<!-- section:node -->([\s\S]*?)<!-- \/section:node -->/.exec(README)[1];
const examples = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the README has Node examples', () => {
  assert.ok(examples.length >= 3);
});

examples.forEach((source, i) => {
  const esm = /^import /m.test(source);
  test(`README example ${i + 1} (${esm ? 'ESM' : 'CommonJS'}) runs and prints what it says`, async () => {
    const expected = [...source.matchAll(/console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) => m[1].trim());
    const r = await runScript(source, [], { name: esm ? 'example.mjs' : 'example.js' });
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), expected);
  });
});
