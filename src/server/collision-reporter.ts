import type { Collision } from '../exposition/sanitizer.js';
import type { Logger } from '../logger.js';
import type { SelfMetrics } from './self-metrics.js';

/** Remember at most this many reported collision names (logged once each). */
const MAX_REPORTED = 10_000;

/** Counts every collision, logs each name once. */
export function collisionReporter(deps: { metrics: SelfMetrics; log: Logger }): (c: Collision) => void {
  const reported = new Set<string>();
  return (c) => {
    deps.metrics.collisions.inc();
    if (reported.has(c.original) || reported.size >= MAX_REPORTED) return;
    reported.add(c.original);
    deps.log.warn(
      { event: 'name_collision', name: c.original, sanitized: c.sanitized, kept: c.kept },
      `dropping "${c.original}": its sanitized name "${c.sanitized}" is already used by "${c.kept}"`,
    );
  };
}
