/**
 * The flags that say what to scrape and how, shared by `serve` and `collect`:
 * targets from --upstream, a targets file or DNS, and the upstream's timeout,
 * size limit, credentials and TLS.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { bytesArg, durationArg, envFlag, envOption } from './options.js';
import { readSecret } from '../secret.js';
import type { Logger } from '../logger.js';
import { parseTargetSpec, type TargetSpec } from '../targets/spec.js';
import type { TargetSet } from '../targets/target-set.js';
import type { UpstreamOptions } from '../upstream/upstream.js';

export interface TargetFlags {
  upstream?: string[];
  targetsFile?: string;
  discover?: string;
  discoverInterval: number;
  dnsServer?: string;
  timeout: number;
  maxBodyBytes: number;
  upstreamToken?: string;
  upstreamTokenFile?: string;
  caFile?: string;
  insecure?: boolean;
  upstreamGzip?: boolean;
}

export const DEFAULT_UPSTREAM = 'http://localhost:8000/metrics';

export const collectValues = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** VLLM_METRICS_URL may list several targets: `a=http://x/metrics,http://y/metrics`. */
function splitUrlList(raw: string): string[] {
  return raw.split(/,(?=\s*(?:[^=,/:]+=)?https?:\/\/)/).filter((s) => s.trim() !== '');
}

export function addTargetOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--upstream <[name=]url>',
        'upstream metrics URL, repeatable (user:pass@ in it for basic auth; name= names the target); default http://localhost:8000/metrics',
      )
        .env('VLLM_METRICS_URL')
        .argParser(collectValues),
    )
    .addOption(envOption('--targets-file <path>', 'YAML or JSON list of targets, re-read when it changes or on SIGHUP', 'VLLM_METRICS_TARGETS_FILE'))
    .addOption(envOption('--discover <dns-url>', 'scrape every A/AAAA record of a name: dns://name:port/path', 'VLLM_METRICS_DISCOVER'))
    .addOption(
      envOption('--discover-interval <duration>', 'how often --discover re-resolves the name', 'VLLM_METRICS_DISCOVER_INTERVAL', durationArg, 30_000, '30s'),
    )
    .addOption(envOption('--dns-server <host:port>', 'DNS server for --discover instead of the system resolver', 'VLLM_METRICS_DNS_SERVER'))
    .addOption(
      envOption(
        '--timeout <duration>',
        'deadline for one upstream scrape, headers and body (500ms, 10s, 1m)',
        'VLLM_METRICS_TIMEOUT',
        durationArg,
        10_000,
        '10s',
      ),
    )
    .addOption(
      envOption(
        '--max-body-bytes <size>',
        'largest upstream exposition accepted (bytes, or 64MiB)',
        'VLLM_METRICS_MAX_BODY_BYTES',
        bytesArg,
        64 * 1024 * 1024,
        '64MiB',
      ),
    )
    .addOption(envOption('--upstream-token <token>', 'bearer token for the upstream (prefer the variable or the file)', 'VLLM_METRICS_TOKEN'))
    .addOption(envOption('--upstream-token-file <path>', 'file holding the bearer token', 'VLLM_METRICS_TOKEN_FILE'))
    .addOption(envOption('--ca-file <path>', 'PEM file of CAs that sign the upstream certificate', 'VLLM_METRICS_CA_FILE'))
    .option('--insecure', 'do not verify the upstream TLS certificate (env VLLM_METRICS_INSECURE=true)')
    .option('--upstream-gzip', 'ask the upstream for gzip (env VLLM_METRICS_UPSTREAM_GZIP=true)');
}

/** The static targets, and whether any was given a name (which asks for labelled output). */
export function targetSpecs(flags: TargetFlags): { specs: TargetSpec[]; named: boolean } {
  const given = (flags.upstream ?? []).flatMap(splitUrlList);
  const specs = (given.length || flags.targetsFile || flags.discover ? given : [DEFAULT_UPSTREAM]).map((raw) => parseTargetSpec(raw, '--upstream'));
  return { specs, named: given.some((raw) => /^[^:/]+=/.test(raw.trim())) };
}

export function upstreamOptions(flags: TargetFlags, url: string): UpstreamOptions {
  return {
    url,
    token: readSecret(flags.upstreamToken, flags.upstreamTokenFile, '--upstream-token'),
    timeoutMs: flags.timeout,
    maxBodyBytes: flags.maxBodyBytes,
    caFile: flags.caFile,
    insecure: envFlag(flags.insecure, 'VLLM_METRICS_INSECURE', '--insecure'),
    gzip: envFlag(flags.upstreamGzip, 'VLLM_METRICS_UPSTREAM_GZIP', '--upstream-gzip'),
  };
}

/** SIGHUP re-reads the targets file and re-resolves discovery (only when either is in use). */
export function reloadOnSighup(log: Logger, targets: TargetSet | undefined): void {
  if (!targets?.dynamic) return;
  process.on('SIGHUP', () => {
    log.info({ event: 'sighup' }, 'SIGHUP: re-reading the targets file and re-resolving discovery');
    void targets.reload();
    void targets.resolve();
  });
}

export const labelNameArg = (text: string): string => {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(text) || text.startsWith('__'))
    throw new InvalidArgumentError(`"${text}" is not a label name (letters, digits, _; not starting with __)`);
  return text;
};
