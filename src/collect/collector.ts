/**
 * Periodic collection: every interval, scrape every target, keep the selected
 * families, and hand the round to every store. Rounds never overlap and are
 * written in order; the interval runs from the start of one to the next.
 */
import { EventEmitter } from 'node:events';
import type { MetricFamily } from '../exposition/model.js';
import { sanitizeName } from '../exposition/sanitizer.js';
import { isUpstreamError } from '../errors.js';
import { Every } from '../every.js';
import type { Logger } from '../logger.js';
import type { Store, Round, TargetScrape } from '../store/store.js';
import type { Target } from '../targets/target-set.js';
import { sharedScrape } from '../upstream/scrape.js';
import { NOT_IN_VLLM, type Selection } from './selection.js';

/** Distinct family names remembered for the "no target serves it" check. */
const MAX_SERVED = 100_000;

export interface CollectorOptions {
  /** The targets of each round (a TargetSet's list, or a fixed one). */
  targets: () => Target[];
  intervalMs: number;
  timeoutMs: number;
  selection: Selection;
  stores: Store[];
  log: Logger;
}

export interface RoundResult {
  timeMs: number;
  samples: number;
  /** Targets that failed this round, with why. */
  errors: Array<{ target: string; error: string }>;
  /** Stores that failed to take this round, with why. */
  storeErrors: Array<{ store: string; error: string }>;
}

export interface CollectorStats {
  rounds: number;
  samples: number;
  /** Target scrapes that failed. */
  errors: number;
  /** Writes a store refused. */
  storeErrors: number;
  lastRoundMs: number;
}

export interface CollectorEvents {
  round: [RoundResult];
}

/**
 * `start()` runs the first round at once; `stop()` waits for the round in
 * progress, closes (flushes) every store and resolves. Each round emits
 * `round`. A store that fails (disk full) is logged when it starts and stops
 * failing; the other stores go on.
 */
export class Collector extends EventEmitter<CollectorEvents> {
  readonly stats: CollectorStats = { rounds: 0, samples: 0, errors: 0, storeErrors: 0, lastRoundMs: 0 };
  private readonly loop: Every;
  private stopping: Promise<void> | undefined;
  private reportedUnknown = false;
  private readonly failingStores = new Set<string>();
  /** Every family name (sanitized) the targets have served, selected or not. */
  readonly served = new Set<string>();

  constructor(private readonly o: CollectorOptions) {
    super();
    this.loop = new Every(o.intervalMs, () =>
      this.round().then(
        () => undefined,
        (err: Error) => void this.o.log.error({ event: 'round_failed', err: err.message }, `collection round failed: ${err.message}`),
      ),
    );
  }

  start(): void {
    void this.loop.start();
  }

  /** One round; only the loop runs it, so rounds never overlap and reach the stores in order. */
  private async round(): Promise<RoundResult> {
    const targets = this.o.targets();
    const scrapes = await Promise.all(targets.map((t) => this.scrape(t)));
    const round: Round = { timeMs: Date.now(), targets: scrapes };
    if (!this.reportedUnknown && scrapes.some((s) => s.families)) this.reportUnknown();
    const result: RoundResult = { timeMs: round.timeMs, samples: 0, errors: [], storeErrors: [] };
    for (const s of scrapes) {
      if (s.error) result.errors.push({ target: s.target, error: s.error });
      for (const f of s.families ?? []) result.samples += f.samples.length;
    }
    // Stores one after another: a failing one must not keep the others from their rounds.
    for (const store of this.o.stores) {
      try {
        await store.write(round);
        if (this.failingStores.delete(store.name))
          this.o.log.info({ event: 'store_recovered', store: store.name, location: store.location }, `${store.name} store writes again`);
      } catch (err) {
        result.storeErrors.push({ store: store.name, error: (err as Error).message });
        if (!this.failingStores.has(store.name))
          this.o.log.error({ event: 'store_failed', store: store.name, location: store.location }, (err as Error).message);
        this.failingStores.add(store.name);
      }
    }
    this.stats.rounds++;
    this.stats.samples += result.samples;
    this.stats.errors += result.errors.length;
    this.stats.storeErrors += result.storeErrors.length;
    this.stats.lastRoundMs = round.timeMs;
    this.emit('round', result);
    return result;
  }

  private async scrape(t: Target): Promise<TargetScrape> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const { families } = await sharedScrape(t.upstream, this.o.timeoutMs);
      return { target: t.name, families: this.select(families), seconds: seconds() };
    } catch (err) {
      return { target: t.name, error: (err as Error).message, errorKind: isUpstreamError(err) ? err.kind : 'error', seconds: seconds() };
    }
  }

  /** The selected families, names sanitized (stores and queries use one spelling). */
  private select(families: MetricFamily[]): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const f of families) {
      const name = sanitizeName(f.name);
      if (this.served.size < MAX_SERVED) this.served.add(name);
      if (!this.o.selection.matches(name)) continue;
      out.push({ ...f, name, samples: f.samples.map((s) => ({ ...s, name: sanitizeName(s.name) })) });
    }
    return out;
  }

  /** Said once, after the first round that reached a target: asked-for names no target serves. */
  private reportUnknown(): void {
    this.reportedUnknown = true;
    const missing = this.o.selection.unmatched(this.served);
    for (const pattern of missing) {
      const hint = NOT_IN_VLLM[pattern.replace(/[^a-zA-Z0-9_]/g, '_')];
      this.o.log.warn(
        { event: 'unknown_metric', metric: pattern, hint },
        `no target serves "${pattern}"${hint ? `: ${hint}` : ''}; nothing will be stored for it`,
      );
    }
    if (this.o.selection.patterns.length > 0 && missing.length === this.o.selection.patterns.length) {
      this.o.log.warn({ event: 'nothing_selected' }, 'none of the --metrics names matched: the stores will stay empty');
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.loop.stop();
      await Promise.all(this.o.stores.map((s) => s.close()));
    })();
    return this.stopping;
  }
}
