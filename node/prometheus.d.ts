import type { Committer } from './index';

/** A prom-client `Registry` (structurally: what `registerMetrics` needs of it). */
export interface RegistryLike {
  registerMetric(metric: unknown): void;
}

/**
 * Registers the committer's metrics in `registry` (prom-client's default registry when
 * omitted) and returns it. Use one registry per committer.
 */
export declare function registerMetrics<R extends RegistryLike>(committer: Committer, registry?: R): R;

/** Parses Prometheus text exposition into families of samples. */
export declare function parse(text: string): Record<
  string,
  { help: string; type: string; values: { metricName: string; labels: Record<string, string>; value: number }[] }
>;
