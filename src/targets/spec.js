import { ConfigError } from '../errors.js';
import { parseUpstream } from '../upstream/target.js';
/**
 * `name=url` or a bare URL (named by its host:port, as Prometheus names an
 * instance). The URL is validated here so a bad one stops the start with the
 * flag named; credentials in it never reach the message.
 */
export function parseTargetSpec(raw, flag) {
    const text = raw.trim();
    const eq = text.indexOf('=');
    const scheme = text.indexOf('://');
    // An '=' before the scheme separates a name; one after it belongs to the URL's query.
    const named = eq > 0 && (scheme < 0 || eq < scheme);
    const url = named ? text.slice(eq + 1).trim() : text;
    const target = parseUpstream(url, undefined, flag);
    const name = named ? text.slice(0, eq).trim() : target.url.host;
    if (name === '')
        throw new ConfigError(flag, `empty target name in "${target.display}"`);
    return { name, url };
}
/** Refuse two targets with one name: their series would merge into one. */
export function checkUniqueNames(specs, flag) {
    const seen = new Set();
    for (const s of specs) {
        if (seen.has(s.name))
            throw new ConfigError(flag, `two targets are named "${s.name}"; give each a distinct name=url`);
        seen.add(s.name);
    }
    return specs;
}
