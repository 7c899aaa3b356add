import type { Committer } from './index';

/** A prom-client `Registry` (structurally: what `registerMetrics` needs of it). */
export interface RegistryLike {
  registerMetric(metric: unknown): void;
  getSingleMetric?(name: string): unknown;
}

/** The constant label that tells committers apart: `'db'`. */
export declare const DB_LABEL: 'db';

/**
 * Registers the committer's metrics in `registry` (prom-client's default registry when
 * omitted) and returns it. Several committers can share one registry: each sample carries
 * its committer's `db` label (the `metricsLabel` option, by default the database file's
 * name), which must differ between the open committers of a registry. Throws when the
 * committer is closed or its label is taken.
 */
export declare function registerMetrics<R extends RegistryLike>(committer: Committer, registry?: R): R;

/** Parses Prometheus text exposition into families of samples. */
export declare function parse(text: string): Record<
  string,
  { help: string; type: string; values: { metricName: string; labels: Record<string, string>; value: number }[] }
>;
