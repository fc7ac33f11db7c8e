import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs, one JSON line per event. Anything that could carry a
 * credential is redacted by path, as a second line of defence: upstream URLs
 * are logged in their redacted form and tokens are never passed to the logger.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vllm-metrics-proxy' },
      redact: {
        paths: ['authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'token', '*.token', 'password', '*.password'],
        censor: '***',
      },
    },
    destination,
  );
}
