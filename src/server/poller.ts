import { Every } from '../every.js';
import type { Logger } from '../logger.js';
import type { ExpositionSnapshot } from '../exposition/snapshot.js';
import type { SelfMetrics } from './self-metrics.js';

/**
 * Poll mode: the proxy scrapes on its own schedule and keeps the latest
 * exposition in memory, so any number of clients cost the upstream nothing.
 * Polls never overlap; the interval runs from the start of one to the start of
 * the next (a slow poll delays the next, it does not stack them).
 */
export class Poller {
  latest: ExpositionSnapshot | undefined;
  lastError: Error | undefined;
  private readonly loop: Every;
  private failing = false;

  constructor(
    private readonly produce: () => Promise<ExpositionSnapshot>,
    readonly intervalMs: number,
    private readonly log: Logger,
    private readonly metrics: SelfMetrics,
  ) {
    this.loop = new Every(intervalMs, () => this.poll());
  }

  /** Resolves after the first poll, whatever its outcome, so a client arriving at once finds data. */
  start(): Promise<void> {
    return this.loop.start();
  }

  private async poll(): Promise<void> {
    try {
      this.latest = await this.produce();
      this.lastError = undefined;
      this.metrics.pollTimeMs = this.latest.timeMs;
      this.metrics.polls.inc({ outcome: 'ok' });
      if (this.failing) this.log.info({ event: 'poll_recovered' }, 'poll succeeded again');
      this.failing = false;
    } catch (err) {
      this.lastError = err as Error;
      this.metrics.polls.inc({ outcome: 'error' });
      if (!this.failing)
        this.log.warn(
          { event: 'poll_failed', err: (err as Error).message },
          `poll failed, serving the previous data until --max-staleness: ${(err as Error).message}`,
        );
      this.failing = true;
    }
  }

  /** Age of the latest data in ms, or undefined when there is none. */
  age(now = Date.now()): number | undefined {
    return this.latest ? now - this.latest.timeMs : undefined;
  }

  close(): Promise<void> {
    return this.loop.stop();
  }
}
