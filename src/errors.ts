/**
 * Every error the project throws on purpose, declared in one place, on one base.
 *
 * - `code` (`VMP_*`) is what logs, tests and callers match on; docs/errors.md
 *   lists every code, and a test fails when one is missing there.
 * - `name` is the class name, so a stack trace or a pino `err` says which it is.
 * - `kind`, where an error becomes a self-metric label
 *   (`vllm_metrics_proxy_upstream_errors_total{kind}`), is a small closed set.
 *
 * Modules that throw an error also re-export its class where callers used to
 * find it (e.g. `StoreError` from store/store.ts), so the public API is unchanged.
 */

/** The base of every error of this project. */
export class VmpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type UpstreamErrorKind = 'unreachable' | 'tls' | 'timeout' | 'status' | 'too_large' | 'garbage' | 'encoding' | 'reset';

/** Every upstream error kind, in the order the self-metric pre-registers them. */
export const UPSTREAM_ERROR_KINDS: readonly UpstreamErrorKind[] = ['unreachable', 'tls', 'timeout', 'status', 'too_large', 'garbage', 'encoding', 'reset'];

/** An upstream /metrics fetch that failed: the HTTP status the proxy answers with, and the kind it is counted under. */
export class UpstreamError extends VmpError {
  constructor(
    code: string,
    message: string,
    readonly statusCode: number,
    readonly kind: UpstreamErrorKind,
  ) {
    super(code, message);
  }
}

const upstream =
  (code: string, template: string, statusCode: number, kind: UpstreamErrorKind) =>
  (detail: unknown): UpstreamError =>
    new UpstreamError(code, template.replace('%s', String(detail)), statusCode, kind);

export const UpstreamUnreachable = upstream('VMP_UPSTREAM_UNREACHABLE', 'upstream unreachable: %s', 502, 'unreachable');
export const UpstreamTls = upstream('VMP_UPSTREAM_TLS', 'upstream TLS verification failed: %s', 502, 'tls');
export const UpstreamTimeout = upstream('VMP_UPSTREAM_TIMEOUT', 'upstream did not answer within %s', 504, 'timeout');
export const UpstreamStatus = upstream('VMP_UPSTREAM_STATUS', 'upstream answered HTTP %s', 502, 'status');
export const UpstreamTooLarge = upstream('VMP_UPSTREAM_TOO_LARGE', 'upstream body exceeds --max-body-bytes (%s bytes)', 502, 'too_large');
export const UpstreamGarbage = upstream('VMP_UPSTREAM_GARBAGE', 'upstream body is not a Prometheus text exposition: %s', 502, 'garbage');
export const UpstreamEncoding = upstream('VMP_UPSTREAM_ENCODING', 'upstream body could not be decoded: %s', 502, 'encoding');
export const UpstreamReset = upstream('VMP_UPSTREAM_RESET', 'upstream connection failed mid-body: %s', 502, 'reset');

export function isUpstreamError(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError;
}

/**
 * A configuration value that cannot be used. `flag` names it as the user wrote
 * it: a CLI flag (`--poll-interval`) or, from startProxy, an option path
 * (`poll.intervalMs`), which the CLI maps back to its flag.
 */
export class ConfigError extends VmpError {
  constructor(
    readonly flag: string,
    readonly reason: string,
  ) {
    super('VMP_CONFIG', `${flag}: ${reason}`);
  }
}

/** A data file (collected or post-processed, a request log) that cannot be read as one: the message names the file and, where it can, the line. */
export class DataFileError extends VmpError {
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('VMP_DATA_FILE', `${path}: ${message}`, options);
  }
}

/** A Prometheus or OpenMetrics text that does not parse; `line` is 1-based, 0 when the error is about the whole text. */
export class ExpositionParseError extends VmpError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super('VMP_EXPOSITION_PARSE', line > 0 ? `line ${line}: ${reason}` : reason);
  }
}

/** An OTLP request body the relay cannot decode (answered 400 with this message). */
export class OtlpDecodeError extends VmpError {
  constructor(message: string) {
    super('VMP_OTLP_DECODE', message);
  }
}

/** A Pushgateway request that failed. */
/** Parseable's management API refused or failed (`parseable setup`): the message says what to do. */
export class ParseableError extends VmpError {
  constructor(
    message: string,
    /** The HTTP status, or 0 when Parseable was not reached. */
    readonly status: number,
  ) {
    super('VMP_PARSEABLE', message);
  }
}

export class GatewayError extends VmpError {
  constructor(
    message: string,
    /** The HTTP status, or 0 when the gateway was not reached. */
    readonly status: number,
  ) {
    super('VMP_PUSHGATEWAY', message);
  }

  /** Worth another try: the gateway was not reached, was busy, or failed itself. */
  get retriable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** A Prometheus HTTP API query that failed (saturation from Prometheus). */
export class PrometheusError extends VmpError {
  constructor(
    message: string,
    /** The HTTP status, or 0 when Prometheus was not reached or its answer was not an API answer. */
    readonly status: number,
    readonly retriable: boolean,
  ) {
    super('VMP_PROMETHEUS', message);
  }
}

/** A store that cannot write (or open) its destination; the message says why in words (disk full, permission denied). */
export class StoreError extends VmpError {
  constructor(
    readonly store: string,
    readonly location: string,
    cause: unknown,
  ) {
    const e = cause as NodeJS.ErrnoException;
    const why =
      e?.code === 'ENOSPC'
        ? 'the disk is full'
        : e?.code === 'EACCES' || e?.code === 'EPERM'
          ? 'permission denied'
          : e?.code === 'ENOENT'
            ? 'no such directory'
            : (e?.message ?? String(cause));
    super('VMP_STORE', `${store} store ${location}: ${why}`, { cause });
  }
}

/** postprocess given a file it wrote itself. */
export class AlreadyDerivedError extends VmpError {
  constructor() {
    super('VMP_ALREADY_POSTPROCESSED', 'the file is post-processed already (it holds delta, rate or quantile rows); post-process the .raw copy instead');
  }
}

/** The simulator's OpenAI-style API refusing a request, as vLLM would (`type` is vLLM's error type). */
export class SimulatedApiError extends VmpError {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super('VMP_SIMULATED_API', message);
  }
}

/** A batch the spool cannot write, read or find whole; `diskFull` when the disk has no room (new data is dropped and counted, the rest kept). */
export class SpoolError extends VmpError {
  readonly diskFull: boolean;
  constructor(
    readonly location: string,
    what: string,
    cause?: unknown,
  ) {
    const e = cause as NodeJS.ErrnoException | undefined;
    const why =
      e === undefined ? '' : e.code === 'ENOSPC' ? ': the disk is full' : e.code === 'EACCES' || e.code === 'EPERM' ? ': permission denied' : `: ${e.message}`;
    super('VMP_SPOOL', `${location}: ${what}${why}`, cause === undefined ? undefined : { cause });
    this.diskFull = e?.code === 'ENOSPC' || e?.code === 'EDQUOT';
  }
}
