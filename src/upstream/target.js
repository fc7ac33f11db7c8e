import { ConfigError } from '../errors.js';
export function parseUpstream(raw, token, flag = '--upstream') {
    let url;
    try {
        url = new URL(raw);
    }
    catch {
        throw new ConfigError(flag, `"${redactUrlText(raw)}" is not a URL (expected http://host:port/metrics)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new ConfigError(flag, `unsupported scheme ${url.protocol} (use http or https)`);
    }
    const hasUserInfo = url.username !== '' || url.password !== '';
    if (hasUserInfo && token) {
        throw new ConfigError(flag, 'credentials in the URL and --upstream-token are exclusive; use one');
    }
    let authorization;
    if (token)
        authorization = `Bearer ${token}`;
    else if (hasUserInfo) {
        const user = decodeURIComponent(url.username);
        const pass = decodeURIComponent(url.password);
        authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    }
    const display = hasUserInfo ? `${url.protocol}//***@${url.host}${url.pathname}${url.search}` : url.href;
    url.username = '';
    url.password = '';
    return { url, display, authorization };
}
/** Best effort for text that did not even parse as a URL. */
function redactUrlText(raw) {
    return raw.replace(/\/\/[^@/]*@/, '//***@');
}
