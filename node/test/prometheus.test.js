'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const client = require('prom-client');
const { Committer } = require('..');
const { registerMetrics, parse, DB_LABEL } = require('../prometheus');
const { tempDb, tempDir } = require('./helpers');

/** Every family with its type and the values of its label. */
const FAMILIES = {
  litecommit_flushes_total: ['counter', 'trigger', ['adaptive', 'close', 'flush', 'size', 'timer']],
  litecommit_batch_size: ['histogram'],
  litecommit_flush_duration_seconds: ['histogram'],
  litecommit_checkpoints_total: ['counter', 'mode', ['full', 'passive', 'restart', 'truncate']],
  litecommit_checkpoint_duration_seconds: ['histogram', 'mode', ['full', 'passive', 'restart', 'truncate']],
  litecommit_checkpoint_wal_size_bytes: ['histogram'],
  litecommit_checkpoint_log_frames: ['histogram'],
  litecommit_checkpoint_checkpointed_frames: ['histogram'],
  litecommit_checkpoint_busy_total: ['counter', 'busy', ['false', 'true']],
  litecommit_checkpoint_efficiency_ratio: ['histogram'],
  litecommit_commit_latency_seconds: ['histogram'],
  litecommit_queue_depth: ['gauge'],
  litecommit_transactions_total: ['counter', 'outcome', ['aborted', 'committed', 'failed']],
  litecommit_wal_size_bytes: ['gauge'],
  litecommit_wal_backlog_frames: ['gauge'],
};

/** The value of the one sample `metricName` of `family` whose labels include `labels`. */
function value(family, metricName, labels) {
  const found = family.values.filter(
    (v) => v.metricName === metricName && Object.entries(labels).every(([k, x]) => v.labels[k] === x),
  );
  assert.equal(found.length, 1, `${metricName} ${JSON.stringify(labels)}: ${JSON.stringify(found)}`);
  return found[0].value;
}

/**
 * Every family is there once, named by the conventions, and has every label value for each
 * of `dbs`.
 */
function assertFamilies(text, dbs) {
  const lines = text.split('\n');
  for (const name of Object.keys(FAMILIES)) {
    assert.equal(lines.filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1, name);
  }
  const families = parse(text);
  const ours = Object.keys(families).filter((n) => n.startsWith('litecommit_'));
  assert.deepEqual(ours.sort(), Object.keys(FAMILIES).sort());
  for (const [name, [type, label, values]] of Object.entries(FAMILIES)) {
    const family = families[name];
    assert.equal(family.type, type, name);
    assert.ok(family.help && family.help !== name, name);
    assert.equal(type === 'counter', name.endsWith('_total'), name);
    assert.deepEqual([...new Set(family.values.map((v) => v.labels[DB_LABEL]))].sort(), [...dbs].sort(), name);
    if (!label) continue;
    const sample = type === 'histogram' ? `${name}_count` : name;
    for (const db of dbs) {
      const seen = family.values.filter((v) => v.metricName === sample && v.labels[DB_LABEL] === db);
      assert.deepEqual(seen.map((v) => v.labels[label]).sort(), values, `${name} ${db}`);
    }
  }
  return families;
}

test('registerMetrics exposes every family and label value from the start', async () => {
  const db = new Committer(tempDb());
  const registry = registerMetrics(db, new client.Registry());
  // The application's own metrics sit next to the committer's.
  new client.Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] }).inc(3);
  let families = assertFamilies(await registry.metrics(), ['test.db']);
  for (const outcome of ['committed', 'failed', 'aborted']) {
    const tx = families.litecommit_transactions_total;
    assert.equal(value(tx, 'litecommit_transactions_total', { outcome }), 0);
  }

  await db.execute('CREATE TABLE t (v INTEGER)');
  await Promise.all(Array.from({ length: 10 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i])));
  await assert.rejects(db.execute('INSERT INTO nowhere VALUES (1)'));
  const text = await registry.metrics();
  assert.match(text, /^app_requests_total 3$/m);
  families = assertFamilies(text, ['test.db']);
  const tx = families.litecommit_transactions_total;
  assert.equal(value(tx, 'litecommit_transactions_total', { db: 'test.db', outcome: 'committed' }), 11);
  assert.equal(value(tx, 'litecommit_transactions_total', { outcome: 'failed' }), 1);
  const sizes = families.litecommit_batch_size;
  assert.equal(value(sizes, 'litecommit_batch_size_bucket', { le: '+Inf' }), db.stats().batches);
  // Same figures as metricsText().
  const ours = parse(db.metricsText());
  assert.deepEqual(families.litecommit_commit_latency_seconds, ours.litecommit_commit_latency_seconds);
  const json = await registry.getMetricsAsJSON();
  assert.ok(json.some((m) => m.name === 'litecommit_flushes_total' && m.values.length === 5));
  await db.close();
  // After close the last figures stay exposed.
  assert.match(await registry.metrics(), /outcome="committed"\} 11$/m);
});

test('two committers share one registry, told apart by their db label', async () => {
  const dir = tempDir();
  const orders = new Committer(path.join(dir, 'orders.db'));
  const users = new Committer(path.join(dir, 'users.db'), { metricsLabel: 'people' });
  try {
    const registry = new client.Registry();
    assert.equal(registerMetrics(orders, registry), registry);
    assert.equal(registerMetrics(users, registry), registry);
    await orders.execute('CREATE TABLE t (x)');
    for (let i = 0; i < 4; i++) await orders.execute('INSERT INTO t VALUES (?)', [i]);
    await users.execute('CREATE TABLE u (x)');
    const families = assertFamilies(await registry.metrics(), ['orders.db', 'people']);
    const tx = families.litecommit_transactions_total;
    assert.equal(value(tx, 'litecommit_transactions_total', { db: 'orders.db', outcome: 'committed' }), 5);
    assert.equal(value(tx, 'litecommit_transactions_total', { db: 'people', outcome: 'committed' }), 1);
    assert.equal(value(tx, 'litecommit_transactions_total', { db: 'people', outcome: 'failed' }), 0);
  } finally {
    await orders.close();
    await users.close();
  }
});

test('a second open committer with the same label is refused; a closed one makes way', async () => {
  const dir = tempDir();
  const registry = new client.Registry();
  const a = new Committer(path.join(dir, 'app.db'));
  const b = new Committer(path.join(tempDir(), 'app.db'));
  const c = new Committer(path.join(dir, 'other.db'), { metricsLabel: 'app.db' });
  try {
    registerMetrics(a, registry);
    assert.throws(() => registerMetrics(b, registry), /metrics label db="app\.db".*metricsLabel/);
    assert.throws(() => registerMetrics(c, registry), /metricsLabel/);
    assert.throws(() => registerMetrics(a, registry), /metricsLabel/);
    await a.execute('CREATE TABLE t (x)');
    await a.close();
    // The closed committer's last figures give way to its successor's.
    registerMetrics(b, registry);
    const families = assertFamilies(await registry.metrics(), ['app.db']);
    const tx = families.litecommit_transactions_total;
    assert.equal(value(tx, 'litecommit_transactions_total', { outcome: 'committed' }), 0);
    assert.throws(() => registerMetrics(a, new client.Registry()), /closed/);
  } finally {
    await b.close();
    await c.close();
  }
});

test('registerMetrics defaults to the global registry and starts over after clear()', async () => {
  const db = new Committer(tempDb(), { metricsLabel: 'global-test' });
  try {
    assert.equal(registerMetrics(db), client.register);
    assert.match(await client.register.metrics(), /^litecommit_queue_depth\{db="global-test"\} 0$/m);
    client.register.clear();
    assert.equal(await client.register.metrics(), '\n');
    // The same label again: the cleared registry no longer holds the first registration.
    registerMetrics(db);
    assertFamilies(await client.register.metrics(), ['global-test']);
  } finally {
    client.register.clear();
    await db.close();
  }
});

test('parse reads the text exposition format', () => {
  const f = parse('# HELP a_total A help\n# TYPE a_total counter\na_total{x="1",y="q\\"z"} 2\na_total 3.5\nb +Inf\n');
  assert.deepEqual(f.a_total.values, [
    { metricName: 'a_total', labels: { x: '1', y: 'q"z' }, value: 2 },
    { metricName: 'a_total', labels: {}, value: 3.5 },
  ]);
  assert.equal(f.a_total.type, 'counter');
  assert.equal(f.a_total.help, 'A help');
  assert.equal(f.b.values[0].value, Infinity);
});
