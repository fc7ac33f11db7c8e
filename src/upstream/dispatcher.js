import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { ConfigError } from '../errors.js';
/**
 * One keep-alive connection pool for all scrapes of the upstream. Timeouts are
 * enforced per scrape by the caller's deadline; undici's own are set as a
 * backstop so a stuck socket can never outlive it.
 */
export function createDispatcher(tls, timeoutMs) {
    let ca;
    if (tls.caFile) {
        try {
            ca = readFileSync(tls.caFile, 'utf8');
        }
        catch (err) {
            throw new ConfigError('--ca-file', `cannot read ${tls.caFile}: ${err.message}`);
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
