import type { Logger } from '../logger.js';

/**
 * On SIGTERM or SIGINT: stop accepting, let in-flight work finish, exit 0. A
 * second signal, or the grace period running out (if there is one), exits at once with 1.
 * The function returned takes the same path for a reason of the program's own
 * (`--duration` ran out), so the log says why it stopped.
 */
export function onShutdown(log: Logger, graceMs: number | undefined, close: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const stop = (cause: { signal: NodeJS.Signals } | { reason: string }) => {
    const why = 'signal' in cause ? cause.signal : cause.reason;
    if (stopping) {
      log.warn({ event: 'shutdown_forced', ...cause }, `${why} while stopping: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info({ event: 'shutdown', ...cause, graceMs }, `${why}: finishing in-flight work`);
    if (graceMs !== undefined) {
      const force = setTimeout(() => {
        log.error({ event: 'shutdown_timeout', graceMs }, 'in-flight requests did not finish in time: exiting');
        process.exit(1);
      }, graceMs);
      force.unref();
    }
    close().then(
      () => {
        log.info({ event: 'stopped' }, 'stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ event: 'shutdown_failed', err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const handler = (signal: NodeJS.Signals) => stop({ signal });
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return (reason) => stop({ reason });
}
