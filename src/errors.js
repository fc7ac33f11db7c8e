/**
 * Every error the proxy answers or logs with, declared in one place. The code
 * is what logs and tests match on; `kind` labels the self-metric
 * `vllm_metrics_proxy_upstream_errors_total`.
 */
import createError from '@fastify/error';
const make = (code, message, statusCode, kind) => {
    const Ctor = createError(code, message, statusCode);
    return (...args) => {
        const err = new Ctor(...args);
        err.kind = kind;
        return err;
    };
};
export const UpstreamUnreachable = make('VMP_UPSTREAM_UNREACHABLE', 'upstream unreachable: %s', 502, 'unreachable');
export const UpstreamTls = make('VMP_UPSTREAM_TLS', 'upstream TLS verification failed: %s', 502, 'tls');
export const UpstreamTimeout = make('VMP_UPSTREAM_TIMEOUT', 'upstream did not answer within %s', 504, 'timeout');
export const UpstreamStatus = make('VMP_UPSTREAM_STATUS', 'upstream answered HTTP %s', 502, 'status');
export const UpstreamTooLarge = make('VMP_UPSTREAM_TOO_LARGE', 'upstream body exceeds --max-body-bytes (%s bytes)', 502, 'too_large');
export const UpstreamGarbage = make('VMP_UPSTREAM_GARBAGE', 'upstream body is not a Prometheus text exposition: %s', 502, 'garbage');
export const UpstreamEncoding = make('VMP_UPSTREAM_ENCODING', 'upstream body could not be decoded: %s', 502, 'encoding');
export const UpstreamReset = make('VMP_UPSTREAM_RESET', 'upstream connection failed mid-body: %s', 502, 'reset');
export function isUpstreamError(err) {
    return err instanceof Error && typeof err.kind === 'string' && err.code?.startsWith('VMP_');
}
/** A configuration value that cannot be used; the message names the flag. */
export class ConfigError extends Error {
    flag;
    code = 'VMP_CONFIG';
    constructor(flag, message) {
        super(`${flag}: ${message}`);
        this.flag = flag;
    }
}
/** A data file (collected or post-processed) that cannot be read as one: the message names the file and, where it can, the line. */
export class DataFileError extends Error {
    path;
    code = 'VMP_DATA_FILE';
    constructor(path, message, options) {
        super(`${path}: ${message}`, options);
        this.path = path;
    }
}
