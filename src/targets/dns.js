import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
/** vLLM's default port, when the discovery URL names none. */
const DEFAULT_PORT = 8000;
export function parseDiscoverUrl(raw, flag = '--discover') {
    let url;
    try {
        url = new URL(raw);
    }
    catch {
        throw new ConfigError(flag, `"${raw}" is not a URL (expected dns://vllm-headless.ns.svc:8000/metrics)`);
    }
    if (url.protocol !== 'dns:')
        throw new ConfigError(flag, `unsupported scheme ${url.protocol} (use dns://name:port/path)`);
    if (url.username || url.password)
        throw new ConfigError(flag, 'credentials do not belong in the discovery URL; use --upstream-token');
    if (!url.hostname)
        throw new ConfigError(flag, `"${raw}" names no host`);
    const port = url.port ? Number(url.port) : DEFAULT_PORT;
    const path = `${url.pathname && url.pathname !== '/' ? url.pathname : '/metrics'}${url.search}`;
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port, path, display: `dns://${url.host}${path}` };
}
/** A resolver that answers "no such name" and "no records of this type" with an empty list. */
export function dnsResolver(server) {
    const r = new Resolver({ timeout: 2_000, tries: 2 });
    if (server)
        r.setServers([server]);
    return r;
}
const EMPTY = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);
async function records(lookup) {
    try {
        return await lookup;
    }
    catch (err) {
        if (EMPTY.has(err.code ?? ''))
            return [];
        throw err;
    }
}
/**
 * Every A and AAAA record of the name, as targets named `address:port`, sorted
 * so that an unchanged answer in another order is no change. A failure of the
 * resolver itself (timeout, refused) rejects, so the caller keeps what it had.
 */
export async function resolveTargets(d, resolver) {
    const literal = isIP(d.host);
    const [v4, v6] = literal
        ? [literal === 4 ? [d.host] : [], literal === 6 ? [d.host] : []]
        : await Promise.all([records(resolver.resolve4(d.host)), records(resolver.resolve6(d.host))]);
    const hosts = [...v4.sort(), ...v6.sort().map((a) => `[${a}]`)];
    return hosts.map((h) => ({ name: `${h}:${d.port}`, url: `http://${h}:${d.port}${d.path}` }));
}
