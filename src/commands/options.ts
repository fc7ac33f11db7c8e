/**
 * Flag parsing shared by the commands: every flag may come from an environment
 * variable, and every value is validated at start with an error that names the
 * flag (and the variable, when the value came from there).
 */
import { InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../errors.js';
import { useEnginePrefixes } from '../names/vocabulary.js';
import { parseBytes, parseDuration } from '../units.js';

const wrap =
  <T>(parse: (text: string) => T) =>
  (text: string): T => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };

export const durationArg = wrap((text) => {
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error('must be greater than zero');
  return ms;
});

export const bytesArg = wrap((text) => {
  const n = parseBytes(text);
  if (n <= 0) throw new Error('must be greater than zero');
  return n;
});

export const portArg = wrap((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`"${text}" is not a TCP port (0-65535)`);
  return n;
});

/** host:port, [v6]:port, or a bare port (then on loopback: the address only the pod itself reaches). */
export const listenArg = wrap((text) => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`"${text}" is not host:port (127.0.0.1:4318)`);
  const host = m[1] || m[2] || '127.0.0.1';
  return { host, port };
});

export const positiveIntArg = wrap((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${text}" is not a positive whole number`);
  return n;
});

export const positiveNumberArg = wrap((text) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`"${text}" is not a non-negative number`);
  return n;
});

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const logLevelArg = wrap((text) => {
  if (!LEVELS.includes(text)) throw new Error(`"${text}" is not one of ${LEVELS.join(', ')}`);
  return text;
});

/** An option whose value may also come from `env`. */
export function envOption<T>(flags: string, description: string, env: string, parse?: (text: string) => T, fallback?: T, fallbackText?: string): Option {
  const o = new Option(flags, description).env(env);
  if (parse) o.argParser(parse as (value: string, previous: unknown) => unknown);
  if (fallback !== undefined) o.default(fallback, fallbackText);
  return o;
}

/**
 * Boolean flags read their variable strictly. (commander treats any defined
 * variable as true, so VLLM_METRICS_INSECURE=false would turn verification off.)
 */
export function envFlag(cliValue: boolean | undefined, env: string, flag: string): boolean {
  if (cliValue) return true;
  const raw = process.env[env];
  if (raw === undefined || raw === '') return false;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${flag} (from ${env})`, `"${raw}" is not a boolean (use true or false)`);
}

/** A comma-separated list from a variable (VLLM_METRICS_KEEP=vllm:*,process_*). */
export function listFromEnv(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** `--engine-prefix`: another prefix vLLM's names come under, for every reader of names (src/names). */
export const enginePrefixOption = (): Option =>
  new Option(
    '--engine-prefix <prefix>',
    "another prefix vLLM's names come under, for saturation, fleet aggregates, reports and the server view (KServe: kserve_vllm:), repeatable (env VLLM_METRICS_ENGINE_PREFIX=a,b)",
  ).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);

/** Set the process's vocabulary from the flag or its variable, before any reader is built. */
export function applyEnginePrefixes(values: string[] | undefined): void {
  const prefixes = values?.length ? values : listFromEnv(process.env.VLLM_METRICS_ENGINE_PREFIX);
  try {
    useEnginePrefixes(prefixes);
  } catch (err) {
    throw new ConfigError(values?.length ? '--engine-prefix' : '--engine-prefix (from VLLM_METRICS_ENGINE_PREFIX)', (err as Error).message);
  }
}
