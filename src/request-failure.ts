import { formatDuration } from './units.js';

/**
 * Why an HTTP request made with undici (and `AbortSignal.timeout`) got no
 * answer, in words for a log line or an error: the deadline, or the socket's
 * error code and message. Shared by the clients of other servers (the
 * Pushgateway, Prometheus).
 */
export function requestFailure(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const timedOut = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
  return timedOut ? `no answer within ${formatDuration(timeoutMs)}` : `${e.code ?? e.cause?.code ?? ''} ${e.message}`.trim();
}
