import type { Logger } from '../logger.js';

/**
 * On SIGTERM or SIGINT: stop accepting, let in-flight work finish, exit 0. A
 * second signal, or the grace period running out (if there is one), exits at once with 1.
 */
export function onShutdown(log: Logger, graceMs: number | undefined, close: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ event: 'shutdown_forced', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ event: 'shutdown', signal, graceMs }, `${signal}: finishing in-flight requests`);
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
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
