import { ConfigError } from '../errors.js';
export const SERVICE_NAME = 'vllm';
/** Series are grouped into one resource per served model. */
export const MODEL_LABEL = 'model_name';
export const MODEL_ATTRIBUTE = 'vllm.model_name';
/** The attributes naming one scraped vLLM (its address with credentials masked). */
export function targetAttributes(target) {
    const url = target.upstream.target.url;
    return {
        'service.name': SERVICE_NAME,
        'service.instance.id': target.name,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        'url.full': target.upstream.target.display,
    };
}
/** `--otlp-resource key=value`, repeatable: deployment-level attributes on every resource. */
export function parseResourceAttributes(pairs, flag = '--otlp-resource') {
    const out = {};
    for (const pair of pairs) {
        const eq = pair.indexOf('=');
        const key = eq > 0 ? pair.slice(0, eq).trim() : '';
        if (!/^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(key))
            throw new ConfigError(flag, `"${pair}" is not key=value (a key of letters, digits, _ . - /)`);
        out[key] = pair.slice(eq + 1).trim();
    }
    return out;
}
