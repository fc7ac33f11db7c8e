import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { ConfigError } from '../errors.js';

export interface TlsOptions {
  /** PEM bundle of the CAs that sign the upstream certificate (instead of the system store). */
  caFile?: string;
  /** Skip certificate verification. Only by explicit choice. */
  insecure?: boolean;
}

/**
 * One keep-alive connection pool for all scrapes of the upstream. Timeouts are
 * enforced per scrape by the caller's deadline; undici's own are set as a
 * backstop so a stuck socket can never outlive it.
 */
export function createDispatcher(tls: TlsOptions, timeoutMs: number, caFlag = '--ca-file'): Agent {
  let ca: string | undefined;
  if (tls.caFile) {
    try {
      ca = readFileSync(tls.caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(caFlag, `cannot read ${tls.caFile}: ${(err as Error).message}`);
    }
  }
  return new Agent({
    connect: {
      rejectUnauthorized: !tls.insecure,
      ...(ca ? { ca } : {}),
      timeout: timeoutMs,
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
  });
}
