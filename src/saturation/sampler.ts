/**
 * Feeds the window: from every scrape the proxy makes anyway (poll rounds,
 * fleet rounds), and, when nothing polls, from a loop of its own every
 * --saturation-interval. Scrapes go through the shared fetch, so a sample
 * taken while /metrics is being served costs the upstream nothing.
 */
import { Every } from '../every.js';
import type { ExpositionFormat } from '../exposition/model.js';
import { scrapeTarget, type TargetOutcome } from '../fleet/targets-scrape.js';
import type { Logger } from '../logger.js';
import type { Target } from '../targets/target-set.js';
import { extractParts } from './extract.js';
import type { SaturationWindow } from './window.js';

export interface SamplerOptions {
  window: SaturationWindow;
  targets: () => Target[];
  /** Own loop; undefined when another loop (poll mode) feeds the window. */
  intervalMs?: number;
  timeoutMs: number;
  log: Logger;
}

export class SaturationSampler {
  private readonly loop: Every | undefined;
  private readonly failing = new Set<string>();

  constructor(private readonly options: SamplerOptions) {
    this.loop = options.intervalMs ? new Every(options.intervalMs, () => this.sample()) : undefined;
  }

  start(): void {
    void this.loop?.start();
  }

  close(): Promise<void> {
    return this.loop?.stop() ?? Promise.resolve();
  }

  private async sample(): Promise<void> {
    const targets = this.options.targets();
    const outcomes = await Promise.all(targets.map((t) => scrapeTarget(t, this.options.timeoutMs)));
    this.observeOutcomes(outcomes, Date.now());
  }

  /** A round of target scrapes (the sampler's own, or a fleet round), each in the classic format. */
  observeOutcomes(outcomes: TargetOutcome[], timeMs: number): void {
    this.options.window.setTargets(this.options.targets().map((t) => t.name));
    for (const o of outcomes) {
      if (o.exposition !== undefined && !o.error) this.observeText(o.target.name, o.exposition.text, 'prometheus', timeMs);
      else this.failed(o.target.name, o.error?.message ?? 'no answer');
    }
  }

  /** One target's exposition (poll mode's single upstream). */
  observeText(target: string, text: string, format: ExpositionFormat, timeMs: number): void {
    try {
      this.options.window.observe(target, extractParts(text, format), timeMs);
      if (this.failing.delete(target)) this.options.log.info({ event: 'saturation_sample_recovered', target }, `saturation samples from ${target} again`);
    } catch (err) {
      // The exposition was served (or merged) already; here it only fails to give saturation samples.
      this.failed(target, `its saturation series do not parse: ${(err as Error).message}`);
    }
  }

  private failed(target: string, message: string): void {
    this.options.window.fail(target, message);
    if (this.failing.has(target)) return;
    this.failing.add(target);
    this.options.log.warn(
      { event: 'saturation_sample_failed', target, err: message },
      `no saturation sample from ${target}: ${message}; its values age until it answers`,
    );
  }
}
