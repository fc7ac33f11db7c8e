import type { MetricFamily, MetricType } from '../exposition/model.js';
import { StoreError } from '../errors.js';

/** One target's part of a collection round. */
export interface TargetScrape {
  target: string;
  /** Selected families, names sanitized; absent when the scrape failed. */
  families?: MetricFamily[];
  error?: string;
  /** The kind of error (unreachable, timeout, status, garbage, ...) when the scrape failed. */
  errorKind?: string;
  /** How long the scrape took, or took to fail. */
  seconds?: number;
}

/** Everything one round collected, handed to every store at once. */
export interface Round {
  /** When the round's scrapes answered (ms since the epoch). */
  timeMs: number;
  targets: TargetScrape[];
}

/**
 * What post-processing writes in place of counters and histograms: a
 * counter's `_delta` and `_rate`, a histogram's `_bucket_delta`,
 * `_count_delta`, `_sum_delta`, `_p50`/`_p90`/`_p99` and `_mean`, and a
 * `_resets` row for an interval in which the source restarted.
 */
export type DerivedType = 'delta' | 'rate' | 'quantile' | 'mean' | 'resets';

export const DERIVED_TYPES: ReadonlySet<string> = new Set<DerivedType>(['delta', 'rate', 'quantile', 'mean', 'resets']);

/** One sample as a row: what the row stores (JSONL, CSV, SQLite) write, and what post-processing reads and writes. */
export interface Row {
  timeMs: number;
  target: string;
  family: string;
  type: MetricType | DerivedType;
  /** The sample's name (`_bucket`, `_sum`, ... included). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Where rounds go. `write` is called once per round, in order, never
 * concurrently; when it resolves, the round is as durable as the store makes
 * it (on disk for the file stores: a killed collector loses nothing written).
 * A failure (disk full, unwritable path) rejects with an error that names the file.
 */
export interface Store {
  readonly name: string;
  /** Where it writes, for logs. */
  readonly location: string;
  write(round: Round): Promise<void>;
  close(): Promise<void>;
}

/** A store that writes rows as they are (JSONL, CSV, SQLite): post-processing writes its output through one. */
export interface RowStore extends Store {
  writeRows(rows: readonly Row[]): Promise<void>;
}

export function rowsOf(round: Round): Row[] {
  const rows: Row[] = [];
  for (const t of round.targets) {
    for (const f of t.families ?? []) {
      for (const s of f.samples) {
        rows.push({
          timeMs: s.timestampMs ?? round.timeMs,
          target: t.target,
          family: f.name,
          type: f.type,
          name: s.name,
          labels: { ...s.labels },
          value: s.value,
        });
      }
    }
  }
  return rows;
}

/** A store's error names its file and what went wrong, in words an operator acts on. */
export { StoreError };
