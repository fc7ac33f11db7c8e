/**
 * Where OTLP goes (Parseable's /v1/metrics or any OTLP/HTTP receiver), and the
 * headers it needs. Credentials come from the URL or the environment and only
 * ever live in the Authorization header, which is never logged.
 */
import { ConfigError } from '../errors.js';
import { parseUpstream } from '../upstream/target.js';
/** Stream names Parseable accepts; also what the relay takes from a sender's X-P-Stream. */
export const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
export function resolveDestination(options, flag) {
    const target = parseUpstream(options.url, undefined, flag);
    const headers = {};
    for (const raw of options.headers ?? []) {
        const colon = raw.indexOf(':');
        const name = colon > 0 ? raw.slice(0, colon).trim() : '';
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name))
            throw new ConfigError('--otlp-header', `"${name || raw}" is not "Name: value"`);
        if (/^(authorization|content-type|content-length|content-encoding)$/i.test(name)) {
            throw new ConfigError('--otlp-header', `${name} is set by the proxy; use OTLP_USERNAME/OTLP_PASSWORD for credentials`);
        }
        headers[name.toLowerCase()] = raw.slice(colon + 1).trim();
    }
    if (options.stream !== undefined) {
        if (!STREAM_NAME.test(options.stream))
            throw new ConfigError('--otlp-stream', `"${options.stream}" is not a stream name (letters, digits, _ and -)`);
        headers['x-p-stream'] = options.stream;
    }
    if (options.logSource)
        headers['x-p-log-source'] = options.logSource;
    if (options.username !== undefined || options.password !== undefined) {
        if (target.authorization)
            throw new ConfigError(flag, 'credentials in the URL and OTLP_USERNAME/OTLP_PASSWORD are exclusive; use one');
        if (!options.username)
            throw new ConfigError('OTLP_USERNAME', 'is empty while OTLP_PASSWORD is set');
        headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    }
    else if (target.authorization) {
        headers.authorization = target.authorization;
    }
    return { url: target.url, display: target.display, headers };
}
