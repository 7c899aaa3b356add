'use strict';
// Exposes the metrics of one or more committers through a prom-client registry
// (prom-client is an optional peer dependency). Each metric family of `metricsText()`
// becomes one prom-client metric whose values are every registered committer's samples,
// read at scrape time, so each committer's own registry stays the single source of truth.
// The committers are told apart by the constant label `db` (the `metricsLabel` option,
// by default the database file's name).

/** The constant label that tells committers apart. */
const DB_LABEL = 'db';

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

/** The `db` label of parsed families (that of their first sample). */
function dbLabel(families) {
  for (const f of Object.values(families)) {
    if (f.values.length > 0) return f.values[0].labels[DB_LABEL] ?? '';
  }
  return '';
}

/**
 * The committers registered in one registry, and the prom-client metric of each family.
 * A scrape reads every committer once: the first family read in a tick takes a snapshot
 * that the other families of the same scrape share.
 */
class Shared {
  constructor() {
    /** `{ committer, label, last }`: `last` is its latest figures, kept once it is closed. */
    this.members = [];
    /** One prom-client metric per family name. */
    this.metrics = new Map();
    this.snapshot = null;
  }

  /** Every member's current figures (the last ones read for a closed committer). */
  read() {
    if (this.snapshot === null) {
      for (const m of this.members) {
        if (!m.committer.closed) m.last = parse(m.committer.metricsText());
      }
      this.snapshot = this.members.map((m) => m.last);
      queueMicrotask(() => {
        this.snapshot = null;
      });
    }
    return this.snapshot;
  }

  /**
   * Adds `committer` and returns its figures; throws when it is closed or when an open
   * committer with the same `db` label is there.
   */
  add(committer) {
    if (committer.closed) throw new Error('registerMetrics: the committer is closed');
    const figures = parse(committer.metricsText());
    const label = dbLabel(figures);
    const same = this.members.find((m) => m.label === label);
    if (same && !same.committer.closed) {
      throw new Error(
        `a committer with the metrics label ${DB_LABEL}="${label}" is already registered: ` +
          'open one of them with another metricsLabel',
      );
    }
    // A closed committer with the same label (the same database reopened) makes way.
    this.members = this.members.filter((m) => m !== same);
    this.members.push({ committer, label, last: figures });
    this.snapshot = null;
    return figures;
  }

  /** Removes `committer`. */
  remove(committer) {
    this.members = this.members.filter((m) => m.committer !== committer);
    this.snapshot = null;
  }

  /** The prom-client metric of family `name`, created on first use. */
  metric(name, found) {
    let metric = this.metrics.get(name);
    if (metric === undefined) {
      const shared = this;
      metric = {
        name,
        help: found.help || name,
        type: found.type,
        aggregator: 'sum',
        get() {
          const values = shared.read().flatMap((families) => families[name]?.values ?? []);
          return { name, help: this.help, type: this.type, aggregator: 'sum', values };
        },
        reset() {},
      };
      this.metrics.set(name, metric);
    }
    return metric;
  }
}

/** The committers of each registry (a registry cleared or collected loses its entry). */
const registries = new WeakMap();

/**
 * Registers the committer's metrics in `registry` (prom-client's default registry when
 * omitted) and returns that registry. Several committers can share one registry: each
 * sample carries its committer's `db` label, which must differ between the open committers
 * of a registry (set `metricsLabel` when two database files have the same name).
 * After a committer is closed the last figures read stay exposed, until a committer with
 * the same label takes its place.
 */
function registerMetrics(committer, registry) {
  if (registry === undefined) registry = require('prom-client').register;
  let shared = registries.get(registry);
  // After `registry.clear()` (or one of its metrics replaced), start over.
  const holds = (m) => typeof registry.getSingleMetric !== 'function' || registry.getSingleMetric(m.name) === m;
  if (shared === undefined || ![...shared.metrics.values()].every(holds)) {
    shared = new Shared();
    registries.set(registry, shared);
  }
  const figures = shared.add(committer);
  try {
    for (const [name, found] of Object.entries(figures)) {
      registry.registerMetric(shared.metric(name, found));
    }
  } catch (e) {
    shared.remove(committer);
    throw e;
  }
  return registry;
}

module.exports = { registerMetrics, parse, DB_LABEL };
