'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const client = require('prom-client');
const { Committer } = require('..');
const { registerMetrics, parse } = require('../prometheus');
const { tempDb } = require('./helpers');

test('registerMetrics exposes the committer metrics through a prom-client registry', async () => {
  const db = new Committer(tempDb());
  const registry = registerMetrics(db, new client.Registry());
  // The application's own metrics sit next to the committer's.
  new client.Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] }).inc(3);
  await db.execute('CREATE TABLE t (v INTEGER)');
  await Promise.all(Array.from({ length: 10 }, (_, i) => db.execute('INSERT INTO t VALUES (?)', [i])));
  await assert.rejects(db.execute('INSERT INTO nowhere VALUES (1)'));
  const text = await registry.metrics();
  assert.match(text, /^app_requests_total 3$/m);
  assert.match(text, /^# TYPE batch_committer_batch_size histogram$/m);
  assert.match(text, /^batch_committer_batch_size_bucket\{le="\+Inf"\} \d+$/m);
  assert.match(text, /^batch_committer_transactions_total\{outcome="committed"\} 11$/m);
  assert.match(text, /^batch_committer_transactions_total\{outcome="failed"\} 1$/m);
  assert.match(text, /^# TYPE batch_committer_queue_depth gauge$/m);
  // Same figures as metricsText().
  const ours = parse(db.metricsText());
  const theirs = parse(text);
  assert.deepEqual(theirs.batch_committer_commit_latency_ms, ours.batch_committer_commit_latency_ms);
  const json = await registry.getMetricsAsJSON();
  assert.ok(json.some((m) => m.name === 'batch_committer_flushes_total' && m.values.length > 0));
  await db.close();
  // After close the last figures stay exposed.
  assert.match(await registry.metrics(), /outcome="committed"\} 11/);
});

test('registerMetrics defaults to the global registry', async () => {
  const db = new Committer(tempDb());
  try {
    assert.equal(registerMetrics(db), client.register);
    assert.match(await client.register.metrics(), /batch_committer_queue_depth/);
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
