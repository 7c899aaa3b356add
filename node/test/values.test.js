'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Committer } = require('..');
const { tempDb } = require('./helpers');

async function open() {
  const db = new Committer(tempDb());
  await db.execute('CREATE TABLE v (id INTEGER PRIMARY KEY, x)');
  return db;
}

/** Inserts `value` and reads it back with its SQLite type. */
async function roundTrip(db, value) {
  const { lastInsertRowid } = await db.execute('INSERT INTO v (x) VALUES (?)', [value]);
  const [row] = await db.query('SELECT x, typeof(x) AS t FROM v WHERE id = ?', [lastInsertRowid]);
  return row;
}

test('every supported JS value round-trips with the right SQLite type', async () => {
  const db = await open();
  assert.deepEqual(await roundTrip(db, null), { x: null, t: 'null' });
  assert.deepEqual(await roundTrip(db, undefined), { x: null, t: 'null' });
  assert.deepEqual(await roundTrip(db, 42), { x: 42, t: 'integer' });
  assert.deepEqual(await roundTrip(db, -7), { x: -7, t: 'integer' });
  assert.deepEqual(await roundTrip(db, 0), { x: 0, t: 'integer' });
  assert.deepEqual(await roundTrip(db, 1.5), { x: 1.5, t: 'real' });
  assert.deepEqual(await roundTrip(db, -0.25), { x: -0.25, t: 'real' });
  assert.deepEqual(await roundTrip(db, 1e300), { x: 1e300, t: 'real' });
  assert.deepEqual(await roundTrip(db, 12n), { x: 12, t: 'integer' });
  assert.deepEqual(await roundTrip(db, 'héllo ✓'), { x: 'héllo ✓', t: 'text' });
  assert.deepEqual(await roundTrip(db, ''), { x: '', t: 'text' });
  assert.deepEqual(await roundTrip(db, true), { x: 1, t: 'integer' });
  assert.deepEqual(await roundTrip(db, false), { x: 0, t: 'integer' });
  const buf = await roundTrip(db, Buffer.from([0, 1, 2, 255]));
  assert.equal(buf.t, 'blob');
  assert.ok(Buffer.isBuffer(buf.x));
  assert.deepEqual([...buf.x], [0, 1, 2, 255]);
  const u8 = await roundTrip(db, new Uint8Array([9, 8, 7]));
  assert.deepEqual([...u8.x], [9, 8, 7]);
  const empty = await roundTrip(db, Buffer.alloc(0));
  assert.equal(empty.t, 'blob');
  assert.equal(empty.x.length, 0);
  await db.close();
});

test('integers beyond ±2^53 come back as BigInt, never rounded', async () => {
  const db = await open();
  const max = 2n ** 63n - 1n;
  const min = -(2n ** 63n);
  const edge = 2n ** 53n; // the largest magnitude still returned as a number
  assert.deepEqual(await roundTrip(db, max), { x: max, t: 'integer' });
  assert.deepEqual(await roundTrip(db, min), { x: min, t: 'integer' });
  assert.deepEqual(await roundTrip(db, edge), { x: 2 ** 53, t: 'integer' });
  assert.deepEqual(await roundTrip(db, edge + 1n), { x: edge + 1n, t: 'integer' });
  assert.deepEqual(await roundTrip(db, -edge), { x: -(2 ** 53), t: 'integer' });
  assert.deepEqual(await roundTrip(db, -edge - 1n), { x: -edge - 1n, t: 'integer' });
  assert.deepEqual(await roundTrip(db, Number.MAX_SAFE_INTEGER), { x: Number.MAX_SAFE_INTEGER, t: 'integer' });
  // Computed in SQL, too.
  const [row] = await db.query('SELECT 9007199254740993 AS big, 9007199254740992 AS edge, -9007199254740993 AS neg');
  assert.deepEqual(row, { big: 9007199254740993n, edge: 9007199254740992, neg: -9007199254740993n });
  // lastInsertRowid as well, in both forms of result.
  const r = await db.execute('INSERT INTO v (id, x) VALUES (?, 1)', [2n ** 60n]);
  assert.equal(r.lastInsertRowid, 2n ** 60n);
  const [t] = await db.transaction([['INSERT INTO v (id, x) VALUES (?, 1) RETURNING id', [2n ** 53n + 1n]]]);
  assert.equal(t.lastInsertRowid, 2n ** 53n + 1n);
  assert.deepEqual(t.rows, [{ id: 2n ** 53n + 1n }]);
  const e = await db.execute('INSERT INTO v (id, x) VALUES (?, 1)', [2 ** 53]);
  assert.equal(e.lastInsertRowid, 2 ** 53);
  await db.close();
});

test('BigInt beyond 64 bits is a RangeError naming the parameter', async () => {
  const db = await open();
  await assert.rejects(db.execute('INSERT INTO v (x) VALUES (?)', [2n ** 63n]), {
    name: 'RangeError',
    message: /parameter 1/,
  });
  await assert.rejects(db.execute('INSERT INTO v (x) VALUES (:x)', { x: -(2n ** 63n) - 1n }), {
    name: 'RangeError',
    message: /parameter "x"/,
  });
  await assert.rejects(db.transaction([['SELECT 1'], ['INSERT INTO v (x) VALUES (?)', [2n ** 64n]]]), {
    name: 'RangeError',
    message: /statement 1: parameter 1/,
  });
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM v'), [{ n: 0 }]);
  await db.close();
});

test('unsupported values are a TypeError naming the parameter', async () => {
  const db = await open();
  const cases = [
    [{ a: 1 }, /parameter 2.*Object/],
    [new Date(0), /parameter 2.*Date/],
    [[1, 2], /parameter 2.*Array/],
    [Symbol('s'), /parameter 2.*symbol/],
    [() => 1, /parameter 2.*function/],
    [new Float64Array(2), /parameter 2.*Float64Array/],
    [new ArrayBuffer(2), /parameter 2.*ArrayBuffer/],
  ];
  for (const [value, message] of cases) {
    await assert.rejects(db.execute('INSERT INTO v (id, x) VALUES (?, ?)', [1, value]), { name: 'TypeError', message });
  }
  await assert.rejects(db.execute('SELECT :a', { a: new Map() }), { name: 'TypeError', message: /parameter "a".*Map/ });
  await assert.rejects(db.query('SELECT ?', [new Set()]), { name: 'TypeError', message: /parameter 1/ });
  await assert.rejects(db.transaction([['SELECT ?', [{}]]]), { name: 'TypeError', message: /statement 0: parameter 1/ });
  // Parameters themselves must be an array or a plain object; SQL a string.
  await assert.rejects(db.execute('SELECT ?', 'x'), { name: 'TypeError', message: /params/ });
  await assert.rejects(db.execute('SELECT ?', new Map()), { name: 'TypeError', message: /params/ });
  await assert.rejects(db.execute(42), { name: 'TypeError', message: /sql/ });
  await assert.rejects(db.transaction('SELECT 1'), { name: 'TypeError', message: /statements/ });
  await assert.rejects(db.transaction(['SELECT 1']), { name: 'TypeError', message: /statement 0/ });
  assert.deepEqual(await db.query('SELECT count(*) AS n FROM v'), [{ n: 0 }]);
  await db.close();
});

test('positional and named parameters in every SQLite form', async () => {
  const db = await open();
  assert.deepEqual(await db.query('SELECT ?2 AS b, ?1 AS a', ['A', 'B']), [{ b: 'B', a: 'A' }]);
  assert.deepEqual(await db.query('SELECT :a AS a, @b AS b, $c AS c', { a: 1, b: 2, c: 3 }), [{ a: 1, b: 2, c: 3 }]);
  assert.deepEqual(await db.query('SELECT :a AS a', { ':a': 'prefixed' }), [{ a: 'prefixed' }]);
  const nullProto = Object.assign(Object.create(null), { a: 5 });
  assert.deepEqual(await db.query('SELECT :a AS a', nullProto), [{ a: 5 }]);
  await assert.rejects(db.execute('SELECT ?, ?', [1]), { code: 'LITECOMMIT_PARAMETER', statementIndex: 0, message: /2 parameter.*1 given/ });
  await assert.rejects(db.execute('SELECT ?', [1, 2]), { code: 'LITECOMMIT_PARAMETER', statementIndex: 0, message: /1 parameter.*2 given/ });
  await assert.rejects(db.execute('SELECT :a', { b: 1 }), { code: 'LITECOMMIT_PARAMETER', statementIndex: 0, message: /"b"/ });
  await assert.rejects(db.transaction([['SELECT 1'], ['SELECT :a', { b: 1 }]]), { code: 'LITECOMMIT_PARAMETER', statementIndex: 1 });
  await db.close();
});

test('any number of values, in their order, positional or named, for execute and submitMany', async () => {
  const db = await open();
  for (const n of [0, 1, 7, 8, 9, 20]) {
    const values = Array.from({ length: n }, (_, i) => (i % 2 ? `s${i}` : i));
    const placeholders = values.map(() => '?').join(', ');
    const sql = `SELECT json_array(${placeholders}) AS a`;
    const expected = JSON.stringify(values);
    const { rows } = await db.execute(sql, values);
    assert.equal(rows[0].a, expected, `${n} positional`);
    const [many] = await Promise.all(db.submitMany(sql, [values]));
    assert.equal(many.rows[0].a, expected, `${n} positional, submitMany`);
    const named = Object.fromEntries(values.map((v, i) => [`p${i}`, v]));
    const namedSql = `SELECT json_array(${values.map((_, i) => `:p${i}`).join(', ')}) AS a`;
    assert.equal((await db.execute(namedSql, named)).rows[0].a, expected, `${n} named`);
  }
  // No array and an empty array differ only in the message when values are missing.
  await assert.rejects(db.execute('SELECT ?'), { code: 'LITECOMMIT_PARAMETER', message: /none given/ });
  await assert.rejects(db.execute('SELECT ?', []), { code: 'LITECOMMIT_PARAMETER', message: /0 given/ });
  assert.deepEqual((await db.execute('SELECT ? AS x', [undefined])).rows, [{ x: null }]);
  await db.close();
});

test('strings of every length around the read buffer of the addon round-trip whole', async () => {
  const db = await open();
  // Around 256 bytes of UTF-8, with characters of 1, 2, 3 and 4 bytes at the edge.
  const texts = [];
  for (let n = 240; n <= 262; n++) {
    for (const c of ['a', 'é', '€', '😀']) texts.push('x'.repeat(n - c.length) + c.repeat(1 + (n % 3)));
  }
  texts.push('long '.repeat(5000), '€'.repeat(3000));
  for (const text of texts) {
    const { lastInsertRowid } = await db.execute('INSERT INTO v (x) VALUES (?)', [text]);
    const [row] = await db.query('SELECT x FROM v WHERE id = ? AND x = ?', [lastInsertRowid, text]);
    assert.equal(row?.x, text, `${Buffer.byteLength(text)} bytes`);
  }
  // The SQL text itself, just as long.
  const padding = `/* ${'€'.repeat(80)} */`;
  const { rows } = await db.execute(`SELECT ? AS x ${padding}`, ['ok']);
  assert.deepEqual(rows, [{ x: 'ok' }]);
  await db.close();
});
