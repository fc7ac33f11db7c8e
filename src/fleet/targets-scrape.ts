import type { UpstreamError } from '../errors.js';
import { newLabels, type MetricFamily } from '../exposition/model.js';
import type { Logger } from '../logger.js';
import type { Target } from '../targets/target-set.js';
import { sharedScrape } from '../upstream/scrape.js';

export interface TargetOutcome {
  target: Target;
  families?: MetricFamily[];
  error?: UpstreamError;
  seconds: number;
}

/** Scrape one target; failure is an outcome, not an exception. */
export async function scrapeTarget(target: Target, timeoutMs: number): Promise<TargetOutcome> {
  const started = performance.now();
  try {
    const { families } = await sharedScrape(target.upstream, timeoutMs);
    return { target, families, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    return { target, error: err as UpstreamError, seconds: (performance.now() - started) / 1000 };
  }
}

export const TARGET_META_PREFIX = 'vllm_metrics_proxy_target_';

/**
 * What a scrape of each target gave, as gauges beside its data: `up`, how long
 * it took, how many samples, and for a failed one, why (`error{kind=...}`).
 * With `label`, one series per target (the merged /metrics); without, the
 * caller's grouping names the target (a Pushgateway group).
 */
export function targetMeta(outcomes: TargetOutcome[], label: string | undefined): MetricFamily[] {
  const gauge = (name: string, help: string, rows: Array<[TargetOutcome, number, Record<string, string>?]>): MetricFamily => {
    const full = `${TARGET_META_PREFIX}${name}`;
    return {
      name: full,
      type: 'gauge',
      help,
      samples: rows.map(([o, value, extra]) => {
        const labels = newLabels();
        if (label !== undefined) labels[label] = o.target.name;
        Object.assign(labels, extra);
        return { name: full, labels, value };
      }),
    };
  };
  return [
    gauge('up', 'Whether the target answered this scrape with a valid exposition (1) or not (0).', outcomes.map((o) => [o, o.error ? 0 : 1])),
    gauge('scrape_duration_seconds', 'How long the target took to answer this scrape, or to fail.', outcomes.map((o) => [o, o.seconds])),
    gauge('samples', 'Samples the target contributed to this scrape.', outcomes.map((o) => [o, o.families?.reduce((n, f) => n + f.samples.length, 0) ?? 0])),
    gauge('error', 'Why a target is down: 1 with the kind of error (unreachable, timeout, status, garbage, ...).', outcomes.filter((o) => o.error).map((o) => [o, 1, { kind: o.error!.kind }])),
  ];
}

/**
 * Logs a target going down and coming back, once each, however many scrapes
 * see it (the merged /metrics and the pushes share one tracker).
 */
export class TargetHealth {
  private readonly up = new Map<string, boolean>();

  constructor(private readonly log: Logger) {}

  observe(o: TargetOutcome): void {
    const { target, error } = o;
    const was = this.up.get(target.name);
    if (error) {
      if (was !== false) {
        this.log.warn({ event: 'target_down', target: target.name, upstream: target.upstream.target.display, kind: error.kind, code: error.code }, `target ${target.name} is down: ${error.message}`);
      }
      this.up.set(target.name, false);
      return;
    }
    if (was === false) this.log.info({ event: 'target_up', target: target.name, upstream: target.upstream.target.display }, `target ${target.name} answers again`);
    this.up.set(target.name, true);
  }

  forget(name: string): void {
    this.up.delete(name);
  }
}
