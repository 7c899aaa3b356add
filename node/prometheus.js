'use strict';
// Exposes a committer's metrics through a prom-client registry (prom-client is an optional
// peer dependency). Each metric family of `metricsText()` becomes a collector that reads
// the committer's current figures at scrape time, so the committer's own registry stays
// the single source of truth.

/** The families every committer exports (labelled ones appear after their first sample). */
const FAMILIES = {
  batch_committer_flushes_total: 'counter',
  batch_committer_batch_size: 'histogram',
  batch_committer_flush_duration_ms: 'histogram',
  batch_committer_checkpoint_total: 'counter',
  batch_committer_checkpoint_duration_ms: 'histogram',
  batch_committer_wal_size_mb: 'histogram',
  batch_committer_wal_frames_log: 'histogram',
  batch_committer_wal_frames_checkpointed: 'histogram',
  batch_committer_checkpoint_busy_total: 'counter',
  batch_committer_checkpoint_efficiency: 'histogram',
  batch_committer_commit_latency_ms: 'histogram',
  batch_committer_queue_depth: 'gauge',
  batch_committer_transactions_total: 'counter',
};

const number = (s) => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

/** Parses the text exposition format into `{ name: { help, type, values } }`. */
function parse(text) {
  const families = {};
  const family = (name) => (families[name] ??= { help: '', type: 'untyped', values: [] });
  let current = null;
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^# HELP (\S+) (.*)$/.exec(line))) {
      family(m[1]).help = m[2].replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    } else if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) {
      family(m[1]).type = m[2];
      current = m[1];
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line))) {
      const name = current && m[1].startsWith(current) ? current : m[1];
      const labels = {};
      for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[k] = v.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
      family(name).values.push({ metricName: m[1], labels, value: number(m[3]) });
    }
  }
  return families;
}

/**
 * Registers the committer's metrics in `registry` (prom-client's default registry when
 * omitted) and returns that registry. Use one registry per committer (the metric names are
 * the same for every committer), e.g. `new Registry()` and `Registry.merge([...])`.
 * After the committer is closed the last figures read stay exposed.
 */
function registerMetrics(committer, registry) {
  if (registry === undefined) registry = require('prom-client').register;
  let last = {};
  const snapshot = () => {
    if (!committer.closed) last = parse(committer.metricsText());
    return last;
  };
  const names = new Set(Object.keys(FAMILIES));
  for (const name of Object.keys(snapshot())) names.add(name);
  for (const name of names) {
    const found = last[name];
    registry.registerMetric({
      name,
      help: found?.help || name,
      type: found?.type ?? FAMILIES[name] ?? 'untyped',
      aggregator: 'sum',
      get() {
        const f = snapshot()[name];
        return { name, help: this.help, type: this.type, aggregator: 'sum', values: f ? f.values : [] };
      },
      reset() {},
    });
  }
  return registry;
}

module.exports = { registerMetrics, parse };
