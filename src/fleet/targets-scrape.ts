import { UpstreamGarbage, type UpstreamError } from '../errors.js';
import { canonicalBytes, type NamesMode } from '../exposition/canonical-names.js';
import { filterBytes, type FamilySelection } from '../exposition/family-filter.js';
import { newLabels, type MetricFamily } from '../exposition/model.js';
import { ExpositionParseError, parseExposition } from '../exposition/parser.js';
import { renderText, toClassicFamilies } from '../exposition/render.js';
import type { Logger } from '../logger.js';
import type { Target } from '../targets/target-set.js';
import { ExpositionText, sharedText } from '../upstream/scrape.js';
import type { TextMerge } from './text-merge.js';

export interface TargetOutcome {
  target: Target;
  /** The exposition in the classic format. */
  exposition?: ExpositionText;
  error?: UpstreamError;
  seconds: number;
  /** Samples it gave the merge. */
  samples?: number;
}

/** Scrape one target; failure is an outcome, not an exception. */
export async function scrapeTarget(target: Target, timeoutMs: number): Promise<TargetOutcome> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    let exposition = await sharedText(target.upstream, timeoutMs);
    // Asked for the classic format; an upstream that answers OpenMetrics anyway is reshaped into it.
    if (exposition.format === 'openmetrics') {
      const classic = renderText(parseExposition(exposition.text, 'openmetrics').flatMap(toClassicFamilies));
      exposition = new ExpositionText(Buffer.from(classic), 'prometheus', exposition.timeMs);
    }
    return { target, exposition, seconds: seconds() };
  } catch (err) {
    const e = err instanceof ExpositionParseError ? UpstreamGarbage(err.message) : (err as UpstreamError);
    if (err instanceof ExpositionParseError) target.upstream.recordFailure(e);
    return { target, error: e, seconds: seconds() };
  }
}

/**
 * Merge every answer; a target whose text is not a valid exposition fails as garbage and adds
 * nothing. `families` (--keep/--drop) leaves out what is not served: after the saturation
 * sampler saw the whole answer, before the merge pays for it.
 */
export function mergeOutcomes(merge: TextMerge, outcomes: TargetOutcome[], families?: FamilySelection, names: NamesMode = 'upstream'): void {
  for (const o of outcomes) {
    if (o.exposition === undefined) continue;
    try {
      const body = o.exposition.body;
      merge.add(o.target.name, canonicalBytes(families ? filterBytes(body, families) : body, names));
      o.samples = merge.samples.get(o.target.name);
    } catch (err) {
      if (!(err instanceof ExpositionParseError)) throw err;
      o.error = UpstreamGarbage(err.message);
      o.target.upstream.recordFailure(o.error);
    }
    o.exposition = undefined; // the merge holds what it needs
  }
}

export const TARGET_META_PREFIX = 'vllm_metrics_proxy_target_';

/** What the per-target gauges say of one scrape: the merge's outcomes and the collector's scrapes both give it. */
export interface TargetStatus {
  name: string;
  /** The kind of error when the target failed. */
  errorKind?: string;
  seconds: number;
  samples?: number;
}

export const statusOf = (o: TargetOutcome): TargetStatus => ({ name: o.target.name, errorKind: o.error?.kind, seconds: o.seconds, samples: o.samples });

/**
 * What a scrape of each target gave, as gauges beside its data: `up`, how long
 * it took, how many samples, and for a failed one, why (`error{kind=...}`).
 * With `label`, one series per target (the merged /metrics); without, the
 * caller's grouping names the target (a Pushgateway group).
 */
export function targetMeta(statuses: TargetStatus[], label: string | undefined): MetricFamily[] {
  const gauge = (name: string, help: string, rows: Array<[TargetStatus, number, Record<string, string>?]>): MetricFamily => {
    const full = `${TARGET_META_PREFIX}${name}`;
    return {
      name: full,
      type: 'gauge',
      help,
      samples: rows.map(([o, value, extra]) => {
        const labels = newLabels();
        if (label !== undefined) labels[label] = o.name;
        Object.assign(labels, extra);
        return { name: full, labels, value };
      }),
    };
  };
  return [
    gauge(
      'up',
      'Whether the target answered this scrape with a valid exposition (1) or not (0).',
      statuses.map((o) => [o, o.errorKind ? 0 : 1]),
    ),
    gauge(
      'scrape_duration_seconds',
      'How long the target took to answer this scrape, or to fail.',
      statuses.map((o) => [o, o.seconds]),
    ),
    gauge(
      'samples',
      'Samples the target contributed to this scrape.',
      statuses.map((o) => [o, o.samples ?? 0]),
    ),
    gauge(
      'error',
      'Why a target is down: 1 with the kind of error (unreachable, timeout, status, garbage, ...).',
      statuses.filter((o) => o.errorKind).map((o) => [o, 1, { kind: o.errorKind! }]),
    ),
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
        this.log.warn(
          { event: 'target_down', target: target.name, upstream: target.upstream.target.display, kind: error.kind, code: error.code },
          `target ${target.name} is down: ${error.message}`,
        );
      }
      this.up.set(target.name, false);
      return;
    }
    if (was === false)
      this.log.info({ event: 'target_up', target: target.name, upstream: target.upstream.target.display }, `target ${target.name} answers again`);
    this.up.set(target.name, true);
  }

  forget(name: string): void {
    this.up.delete(name);
  }
}
