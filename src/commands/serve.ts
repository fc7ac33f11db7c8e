import { OTLP_NAMES, type OtlpNames } from '../otlp/genai-names.js';
import { NAMES_MODES, type NamesMode } from '../exposition/canonical-names.js';
import { Option, type Command } from 'commander';
import { ConfigError } from '../errors.js';
import {
  applyEnginePrefixes,
  bytesArg,
  durationArg,
  enginePrefixOption,
  envFlag,
  envOption,
  listFromEnv,
  listenArg,
  logLevelArg,
  portArg,
  positiveIntArg,
  positiveNumberArg,
} from './options.js';
import type { ClientLimits } from '../http/fastify.js';
import { readSecret } from '../secret.js';
import { createLogger } from '../logger.js';
import { parseResourceAttributes } from '../otlp/resource.js';
import { startProxy, type ProxyConfig, type SaturationConfig } from '../server/proxy.js';
import { onShutdown } from './shutdown.js';
import {
  addTargetOptions,
  collectValues,
  DEFAULT_UPSTREAM,
  labelNameArg,
  reloadOnSighup,
  targetSpecs,
  upstreamOptions,
  type TargetFlags,
} from './target-flags.js';

interface ServeFlags extends TargetFlags {
  keep?: string[];
  enginePrefix?: string[];
  names: string;
  drop?: string[];
  merge?: boolean;
  targetLabel: string;
  fleetAggregates?: boolean;
  fleetRateWindow: number;
  pollInterval?: number;
  maxStaleness?: number;
  coalesce: boolean;
  pushUrl?: string;
  pushInterval: number;
  pushJob: string;
  pushDeleteOnShutdown?: boolean;
  host: string;
  port: number;
  readyMaxAge: number;
  clientHeaderTimeout: number;
  clientRequestTimeout: number;
  clientIdleTimeout: number;
  maxConnections: number;
  logLevel: string;
  otlpForwardUrl?: string;
  otlpPushUrl?: string;
  otlpPushInterval: number;
  otlpStream: string;
  otlpLogSource: string;
  otlpHeader: string[];
  otlpResource?: string[];
  otlpNames: string;
  otlpRelayToken?: string;
  api?: boolean;
  apiUpstream?: string;
  apiTimeout: number;
  requestUsage?: boolean;
  requestLog?: string;
  requestLogMaxSize: number;
  requestLogUrl?: string;
  requestLogStream: string;
  requestServerView: boolean;
  otlpRelayTokenFile?: string;
  otlpRelayListen?: { host: string; port: number };
  otlpTimeout: number;
  otlpQueueMaxBytes: number;
  otlpMaxRequestBytes: number;
  saturation?: boolean;
  saturationWindow?: number;
  saturationInterval?: number;
  saturationMaxStaleness?: number;
  saturationFromPrometheus?: string;
  saturationCacheTtl: number;
  saturationModel?: string;
  saturationNamespace?: string;
  saturationTargetLabel?: string;
  prometheusTimeout: number;
  prometheusCaFile?: string;
  prometheusBearerTokenFile?: string;
  spoolDir?: string;
  spoolMaxBytes: number;
  spoolDrainRate: number;
}

/** OTEL_EXPORTER_OTLP_HEADERS style: `a=1,b=2`. */
function headersFromEnv(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError('--otlp-header (from OTLP_HEADERS)', `"${pair.trim()}" is not name=value`);
      return `${decodeURIComponent(pair.slice(0, eq).trim())}: ${decodeURIComponent(pair.slice(eq + 1).trim())}`;
    });
}

export function serveCommand(program: Command): void {
  const cmd = program.command('serve');
  addTargetOptions(cmd)
    .description('serve the upstream vLLM /metrics with Prometheus-legal names on /metrics')
    .addOption(
      new Option('--keep <glob>', "serve only the families matching, as the upstream names them ('vllm:*'), repeatable (env VLLM_METRICS_KEEP=a,b)").argParser(
        collectValues,
      ),
    )
    .addOption(new Option('--drop <glob>', "leave out the families matching ('python_gc_*'), repeatable (env VLLM_METRICS_DROP=a,b)").argParser(collectValues))
    .addOption(
      new Option(
        '--names <mode>',
        "upstream: vLLM's names as the upstream serves them; canonical: the current vLLM names whatever the version (a deprecated family under its replacement, never twice); both: the deprecated ones kept beside (docs/names.md)",
      )
        .choices(NAMES_MODES)
        .env('VLLM_METRICS_NAMES')
        .default('upstream'),
    )
    .addOption(enginePrefixOption())
    .option('--merge', 'fleet mode with a single --upstream: label its samples and add the target gauges (env VLLM_METRICS_MERGE=true)')
    .addOption(envOption('--target-label <name>', "label that names each sample's target in fleet mode", 'VLLM_METRICS_TARGET_LABEL', labelNameArg, 'instance'))
    .option('--fleet-aggregates', 'add vllm_metrics_proxy_fleet_* families: sums, maxima, rates across targets (env FLEET_AGGREGATES=true)')
    .addOption(
      envOption('--fleet-rate-window <duration>', 'window of the fleet rates and the prefix-cache hit ratio', 'FLEET_RATE_WINDOW', durationArg, 60_000, '1m'),
    )
    .addOption(
      envOption('--poll-interval <duration>', 'poll mode: scrape on this schedule and serve the latest result to every client', 'POLL_INTERVAL', durationArg),
    )
    .addOption(
      envOption('--max-staleness <duration>', 'poll mode: answer 503 when the latest data is older (default 3 poll intervals)', 'MAX_STALENESS', durationArg),
    )
    .option('--no-coalesce', 'give every client scrape its own upstream fetch (by default concurrent scrapes share one)')
    .addOption(envOption('--push-url <url>', 'push every target to this Prometheus Pushgateway (http://pushgateway:9091)', 'PUSHGATEWAY_URL'))
    .addOption(envOption('--push-interval <duration>', 'how often to push', 'PUSH_INTERVAL', durationArg, 15_000, '15s'))
    .addOption(envOption('--push-job <name>', 'the job grouping label of pushed groups (instance is the target name)', 'PUSH_JOB', undefined, 'vllm'))
    .option('--push-delete-on-shutdown', 'delete the pushed groups when the proxy stops (env PUSH_DELETE_ON_SHUTDOWN=true)')
    .addOption(envOption('--host <address>', 'address to listen on', 'HOST', undefined, '0.0.0.0'))
    .addOption(envOption('--port <port>', 'port to listen on', 'PORT', portArg, 9090))
    .addOption(
      envOption('--ready-max-age <duration>', '/ready answers from memory if the upstream answered this recently', 'READY_MAX_AGE', durationArg, 30_000, '30s'),
    )
    .addOption(
      envOption(
        '--client-header-timeout <duration>',
        "a client's request headers must be complete within this (slow clients)",
        'CLIENT_HEADER_TIMEOUT',
        durationArg,
        30_000,
        '30s',
      ),
    )
    .addOption(
      envOption(
        '--client-request-timeout <duration>',
        "a client's whole request, body included, within this",
        'CLIENT_REQUEST_TIMEOUT',
        durationArg,
        120_000,
        '2m',
      ),
    )
    .addOption(
      envOption(
        '--client-idle-timeout <duration>',
        'close a connection that sent and read nothing for this long (a client that stopped reading its answer)',
        'CLIENT_IDLE_TIMEOUT',
        durationArg,
        120_000,
        '2m',
      ),
    )
    .addOption(envOption('--max-connections <n>', 'open client connections per port; more are closed as they come', 'MAX_CONNECTIONS', positiveIntArg, 10_000))
    .addOption(envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'LOG_LEVEL', logLevelArg, 'info'))
    .addOption(
      envOption(
        '--otlp-forward-url <url>',
        'turn on the OTLP relay (POST /v1/metrics) and forward OTLP/JSON here, e.g. http://parseable:8000/v1/metrics',
        'OTLP_FORWARD_URL',
      ),
    )
    .addOption(envOption('--otlp-push-url <url>', 'scrape the upstream every interval and push it as OTLP/JSON here', 'OTLP_PUSH_URL'))
    .addOption(envOption('--otlp-push-interval <duration>', 'how often the direct push scrapes and exports', 'OTLP_PUSH_INTERVAL', durationArg, 10_000, '10s'))
    .addOption(envOption('--otlp-stream <name>', 'X-P-Stream header: the Parseable stream', 'OTLP_STREAM', undefined, 'vLLMmetrics'))
    .addOption(envOption('--otlp-log-source <name>', 'X-P-Log-Source header', 'OTLP_LOG_SOURCE', undefined, 'otel-metrics'))
    .addOption(
      new Option('--otlp-header <header>', 'extra header "Name: value" for OTLP requests, repeatable (env OTLP_HEADERS=a=1,b=2)').argParser(collectValues),
    )
    .addOption(
      envOption(
        '--otlp-relay-token <token>',
        'the relay takes only requests with Authorization: Bearer <token> (prefer the variable or the file: flags show in ps)',
        'OTLP_RELAY_TOKEN',
      ),
    )
    .addOption(envOption('--otlp-relay-token-file <path>', 'file holding the relay token', 'OTLP_RELAY_TOKEN_FILE'))
    .addOption(
      envOption(
        '--otlp-relay-listen <host:port>',
        'serve the relay on its own address (127.0.0.1:4318: only the pod itself can write) instead of --port',
        'OTLP_RELAY_LISTEN',
        listenArg,
      ),
    )
    .addOption(
      new Option('--otlp-resource <key=value>', 'resource attribute on every OTLP resource (relay and push), repeatable (env OTLP_RESOURCE=a=1,b=2)').argParser(
        collectValues,
      ),
    )
    .addOption(
      new Option(
        '--otlp-names <names>',
        "vllm: the metrics' own names; genai: OpenTelemetry's GenAI names where they match (gen_ai.server.time_to_first_token, ...), on the relay and the push",
      )
        .choices(OTLP_NAMES)
        .env('OTLP_NAMES')
        .default('vllm'),
    )
    .addOption(envOption('--otlp-timeout <duration>', 'deadline for one OTLP request', 'OTLP_TIMEOUT', durationArg, 10_000, '10s'))
    .addOption(
      envOption(
        '--otlp-queue-max-bytes <size>',
        'relay queue bound; the oldest batch is dropped beyond it',
        'OTLP_QUEUE_MAX_BYTES',
        bytesArg,
        32 * 1024 * 1024,
        '32MiB',
      ),
    )
    .addOption(
      envOption(
        '--otlp-max-request-bytes <size>',
        'largest OTLP request the relay takes (compressed or not)',
        'OTLP_MAX_REQUEST_BYTES',
        bytesArg,
        16 * 1024 * 1024,
        '16MiB',
      ),
    )
    .addOption(
      envOption(
        '--spool-dir <dir>',
        'keep what the relay, the direct push and --request-log-url accepted on disk here until Parseable took it, across restarts',
        'SPOOL_DIR',
      ),
    )
    .addOption(
      envOption(
        '--spool-max-bytes <size>',
        "bound of each sender's spool; the oldest batch is dropped beyond it",
        'SPOOL_MAX_BYTES',
        bytesArg,
        1024 * 1024 * 1024,
        '1GiB',
      ),
    )
    .addOption(
      envOption(
        '--spool-drain-rate <batches>',
        'after an outage, backlog batches sent per second at most, per sender',
        'SPOOL_DRAIN_RATE',
        positiveNumberArg,
        20,
      ),
    )
    .option('--api', "pass vLLM's API through this port, at the origin of --upstream (env VLLM_API=true)")
    .addOption(envOption('--api-upstream <url>', "pass vLLM's API through this port, from this origin (http://vllm:8000)", 'VLLM_API_URL'))
    .addOption(
      envOption(
        '--api-timeout <duration>',
        "deadline for vLLM's response headers and for each pause in its body",
        'VLLM_API_TIMEOUT',
        durationArg,
        600_000,
        '10m',
      ),
    )
    .option(
      '--request-usage',
      'ask vLLM for usage on every stream (stream_options.include_usage) and strip that chunk before the client sees it (env REQUEST_USAGE=true)',
    )
    .addOption(envOption('--request-log <file>', 'append one JSON line per API request to this file', 'REQUEST_LOG'))
    .addOption(
      envOption(
        '--request-log-max-size <size>',
        'rotate the request log past this size (FILE.1 ... FILE.5)',
        'REQUEST_LOG_MAX_SIZE',
        bytesArg,
        64 * 1024 * 1024,
        '64MiB',
      ),
    )
    .addOption(
      envOption(
        '--request-log-url <url>',
        "post request records to Parseable's JSON ingest (http://parseable:8000/api/v1/ingest), with OTLP_USERNAME/OTLP_PASSWORD",
        'REQUEST_LOG_URL',
      ),
    )
    .addOption(envOption('--request-log-stream <name>', 'X-P-Stream of the request records', 'REQUEST_LOG_STREAM', undefined, 'vLLMrequests'))
    .option(
      '--no-request-server-view',
      "do not read vLLM's /metrics around each API request (two coalesced fetches per request window; a busy vLLM pays for them)",
    )
    .option(
      '--saturation',
      "serve saturation signals on /saturation, and as vllm_metrics_proxy_saturation_* gauges on /metrics, from the proxy's own window (env SATURATION=true)",
    )
    .addOption(envOption('--saturation-window <duration>', 'window of the saturation maxima and rates (default 1m)', 'SATURATION_WINDOW', durationArg))
    .addOption(
      envOption(
        '--saturation-interval <duration>',
        'how often the window samples each target (default 5s; in poll mode every poll is a sample)',
        'SATURATION_INTERVAL',
        durationArg,
      ),
    )
    .addOption(
      envOption(
        '--saturation-max-staleness <duration>',
        'a saturation value whose newest sample is older is stale (default 3 sampling intervals; 2m from Prometheus)',
        'SATURATION_MAX_STALENESS',
        durationArg,
      ),
    )
    .addOption(
      envOption(
        '--saturation-from-prometheus <url>',
        "serve /saturation from this Prometheus (PromQL) instead of the proxy's window",
        'SATURATION_PROMETHEUS_URL',
      ),
    )
    .addOption(
      envOption(
        '--saturation-cache-ttl <duration>',
        'from Prometheus: query every TTL in the background, answer from the cache',
        'SATURATION_CACHE_TTL',
        durationArg,
        10_000,
        '10s',
      ),
    )
    .addOption(envOption('--saturation-model <name>', 'from Prometheus: only this model_name', 'SATURATION_MODEL'))
    .addOption(envOption('--saturation-namespace <name>', 'from Prometheus: only series with this namespace label', 'SATURATION_NAMESPACE'))
    .addOption(
      envOption('--saturation-target-label <name>', 'from Prometheus: the label naming a replica (default instance)', 'SATURATION_TARGET_LABEL', labelNameArg),
    )
    .addOption(envOption('--prometheus-timeout <duration>', 'from Prometheus: deadline of one query', 'PROMETHEUS_TIMEOUT', durationArg, 10_000, '10s'))
    .addOption(envOption('--prometheus-ca-file <path>', 'from Prometheus: PEM bundle of the CAs that sign its certificate', 'PROMETHEUS_CA_FILE'))
    .addOption(
      envOption(
        '--prometheus-bearer-token-file <path>',
        'from Prometheus: file holding a bearer token, read before every query',
        'PROMETHEUS_BEARER_TOKEN_FILE',
      ),
    )
    .action(async (flags: ServeFlags) => {
      applyEnginePrefixes(flags.enginePrefix);
      const otlpOn = flags.otlpForwardUrl || flags.otlpPushUrl;
      // A flag that would do nothing is refused, not ignored.
      if (flags.otlpNames !== 'vllm' && !otlpOn) throw new ConfigError('--otlp-names', 'only applies with --otlp-forward-url or --otlp-push-url');
      if (flags.otlpRelayListen && !flags.otlpForwardUrl)
        throw new ConfigError('--otlp-relay-listen', 'only applies with --otlp-forward-url (the relay it gives its own address)');
      // A name only means something as a label value: naming a target asks for the labelled (fleet) output.
      const { specs, named } = targetSpecs(flags);
      const fleetMode = specs.length > 1 || named || flags.targetsFile || flags.discover || envFlag(flags.merge, 'VLLM_METRICS_MERGE', '--merge');
      if (flags.maxStaleness !== undefined && flags.pollInterval === undefined) throw new ConfigError('--max-staleness', 'only applies with --poll-interval');
      const apiOn = flags.apiUpstream || envFlag(flags.api, 'VLLM_API', '--api');
      const needsApi = flags.requestLog ? '--request-log' : flags.requestLogUrl ? '--request-log-url' : flags.requestUsage ? '--request-usage' : undefined;
      if (!apiOn && needsApi) throw new ConfigError(needsApi, 'needs the API passthrough (--api or --api-upstream)');
      const apiUpstream = flags.apiUpstream ?? (apiOn ? apiOrigin(specs, fleetMode) : undefined);
      const saturation = saturationConfig(flags);
      const families = {
        keep: flags.keep?.length ? flags.keep : listFromEnv(process.env.VLLM_METRICS_KEEP),
        drop: flags.drop?.length ? flags.drop : listFromEnv(process.env.VLLM_METRICS_DROP),
      };
      const config: ProxyConfig = {
        saturation,
        spool: flags.spoolDir ? { dir: flags.spoolDir, maxBytes: flags.spoolMaxBytes, drainPerSecond: flags.spoolDrainRate } : undefined,
        host: flags.host,
        port: flags.port,
        readyMaxAgeMs: flags.readyMaxAge,
        clientLimits: clientLimits(flags),
        logLevel: flags.logLevel,
        fleet: fleetMode
          ? {
              static: specs,
              targetsFile: flags.targetsFile,
              discover: flags.discover,
              discoverIntervalMs: flags.discoverInterval,
              dnsServer: flags.dnsServer,
              label: flags.targetLabel,
              aggregateWindowMs: envFlag(flags.fleetAggregates, 'FLEET_AGGREGATES', '--fleet-aggregates') ? flags.fleetRateWindow : undefined,
            }
          : undefined,
        poll: flags.pollInterval ? { intervalMs: flags.pollInterval, maxStalenessMs: flags.maxStaleness ?? 3 * flags.pollInterval } : undefined,
        coalesce: flags.coalesce,
        pushgateway: flags.pushUrl
          ? {
              url: flags.pushUrl,
              job: flags.pushJob,
              intervalMs: flags.pushInterval,
              timeoutMs: flags.timeout,
              deleteOnShutdown: envFlag(flags.pushDeleteOnShutdown, 'PUSH_DELETE_ON_SHUTDOWN', '--push-delete-on-shutdown'),
            }
          : undefined,
        upstream: {
          ...upstreamOptions(flags, specs[0]?.url ?? DEFAULT_UPSTREAM),
          families: families.keep.length || families.drop.length ? families : undefined,
          names: flags.names as NamesMode,
        },
        api: apiUpstream
          ? {
              upstream: apiUpstream,
              timeoutMs: flags.apiTimeout,
              requestUsage: envFlag(flags.requestUsage, 'REQUEST_USAGE', '--request-usage'),
              serverView: flags.requestServerView,
              requestLog: flags.requestLog ? { path: flags.requestLog, maxBytes: flags.requestLogMaxSize } : undefined,
              ship: flags.requestLogUrl
                ? {
                    destination: {
                      url: flags.requestLogUrl,
                      stream: flags.requestLogStream,
                      // The Parseable account, from the environment only, as for OTLP.
                      username: process.env.OTLP_USERNAME || undefined,
                      password: process.env.OTLP_PASSWORD || undefined,
                    },
                    maxQueueBytes: flags.otlpQueueMaxBytes,
                    timeoutMs: flags.otlpTimeout,
                  }
                : undefined,
            }
          : undefined,
        otlp: otlpOn
          ? {
              forwardUrl: flags.otlpForwardUrl,
              pushUrl: flags.otlpPushUrl,
              pushIntervalMs: flags.otlpPushInterval,
              timeoutMs: flags.otlpTimeout,
              maxQueueBytes: flags.otlpQueueMaxBytes,
              maxRequestBytes: flags.otlpMaxRequestBytes,
              relayToken: readSecret(flags.otlpRelayToken, flags.otlpRelayTokenFile, '--otlp-relay-token'),
              relayListen: flags.otlpRelayListen,
              resource: parseResourceAttributes(flags.otlpResource?.length ? flags.otlpResource : listFromEnv(process.env.OTLP_RESOURCE)),
              names: flags.otlpNames as OtlpNames,
              destination: {
                stream: flags.otlpStream,
                logSource: flags.otlpLogSource,
                headers: flags.otlpHeader?.length ? flags.otlpHeader : headersFromEnv(process.env.OTLP_HEADERS),
                // Credentials only from the environment: flags show up in `ps`.
                username: process.env.OTLP_USERNAME || undefined,
                password: process.env.OTLP_PASSWORD || undefined,
              },
            }
          : undefined,
      };
      const log = createLogger(config.logLevel);
      const proxy = await startProxy(config, log).catch((err: unknown) => {
        throw asFlagError(err);
      });
      onShutdown(log, config.upstream.timeoutMs + 5_000, () => proxy.close());
      reloadOnSighup(log, proxy.targets);
    });
}

/** The API lives at the origin of the one metrics URL (http://vllm:8000/metrics -> http://vllm:8000). */
function apiOrigin(specs: Array<{ url: string }>, fleetMode: unknown): string {
  if (fleetMode || specs.length > 1)
    throw new ConfigError('--api', 'in fleet mode, name the API with --api-upstream (a load balancer in front of the replicas)');
  try {
    return new URL(specs[0]?.url ?? DEFAULT_UPSTREAM).origin;
  } catch {
    throw new ConfigError('--api', `cannot take an origin from ${specs[0]?.url}`);
  }
}

/** The saturation flags into a config, or undefined when saturation is off; flags that only apply to one source say so. */
function saturationConfig(flags: ServeFlags): SaturationConfig | undefined {
  const fromPrometheus = flags.saturationFromPrometheus;
  const on = fromPrometheus !== undefined || envFlag(flags.saturation, 'SATURATION', '--saturation');
  if (!on) {
    const stray = flags.saturationWindow
      ? '--saturation-window'
      : flags.saturationInterval
        ? '--saturation-interval'
        : flags.saturationMaxStaleness
          ? '--saturation-max-staleness'
          : undefined;
    if (stray) throw new ConfigError(stray, 'only applies with --saturation or --saturation-from-prometheus');
    return undefined;
  }
  const windowMs = flags.saturationWindow ?? 60_000;
  if (fromPrometheus === undefined) {
    const promOnly =
      flags.saturationModel !== undefined
        ? '--saturation-model'
        : flags.saturationNamespace !== undefined
          ? '--saturation-namespace'
          : flags.saturationTargetLabel !== undefined
            ? '--saturation-target-label'
            : flags.prometheusCaFile !== undefined
              ? '--prometheus-ca-file'
              : flags.prometheusBearerTokenFile !== undefined
                ? '--prometheus-bearer-token-file'
                : undefined;
    if (promOnly)
      throw new ConfigError(
        promOnly,
        'only applies with --saturation-from-prometheus (the window reads every model of every target; /saturation?model= narrows the answer)',
      );
    return { windowMs, intervalMs: flags.saturationInterval, maxStalenessMs: flags.saturationMaxStaleness };
  }
  return {
    windowMs,
    // Refused by startProxy's check, which says why.
    intervalMs: flags.saturationInterval,
    maxStalenessMs: flags.saturationMaxStaleness,
    prometheus: {
      url: fromPrometheus,
      timeoutMs: flags.prometheusTimeout,
      caFile: flags.prometheusCaFile,
      bearerTokenFile: flags.prometheusBearerTokenFile,
      cacheTtlMs: flags.saturationCacheTtl,
      targetLabel: flags.saturationTargetLabel ?? 'instance',
      model: flags.saturationModel,
      namespace: flags.saturationNamespace,
      flags: { url: '--saturation-from-prometheus', caFile: '--prometheus-ca-file', bearerTokenFile: '--prometheus-bearer-token-file' },
    },
  };
}

/** The bounds on clients; a header deadline past the whole request's would never apply (Node refuses it too). */
function clientLimits(flags: ServeFlags): ClientLimits {
  if (flags.clientHeaderTimeout > flags.clientRequestTimeout)
    throw new ConfigError('--client-header-timeout', `must not be longer than --client-request-timeout (${flags.clientRequestTimeout / 1000}s)`);
  return {
    headerTimeoutMs: flags.clientHeaderTimeout,
    requestTimeoutMs: flags.clientRequestTimeout,
    idleTimeoutMs: flags.clientIdleTimeout,
    maxConnections: flags.maxConnections,
  };
}

/**
 * startProxy names a refused option by its path; a user of `serve` typed a
 * flag. Every path the config check can name, and the flag that sets it.
 */
export const OPTION_FLAGS: Record<string, string> = {
  host: '--host',
  port: '--port',
  readyMaxAgeMs: '--ready-max-age',
  logLevel: '--log-level',
  'upstream.timeoutMs': '--timeout',
  'upstream.maxBodyBytes': '--max-body-bytes',
  'fleet.label': '--target-label',
  'fleet.discoverIntervalMs': '--discover-interval',
  'fleet.aggregateWindowMs': '--fleet-rate-window',
  'poll.intervalMs': '--poll-interval',
  'poll.maxStalenessMs': '--max-staleness',
  'pushgateway.intervalMs': '--push-interval',
  'pushgateway.timeoutMs': '--timeout',
  otlp: '--otlp-forward-url',
  'otlp.forwardUrl': '--otlp-forward-url',
  'otlp.pushUrl': '--otlp-push-url',
  'otlp.pushIntervalMs': '--otlp-push-interval',
  'otlp.timeoutMs': '--otlp-timeout',
  'otlp.maxQueueBytes': '--otlp-queue-max-bytes',
  'otlp.maxRequestBytes': '--otlp-max-request-bytes',
  'otlp.relayListen': '--otlp-relay-listen',
  'api.timeoutMs': '--api-timeout',
  'api.requestLog.maxBytes': '--request-log-max-size',
  'api.ship.destination.url': '--request-log-url',
  'saturation.windowMs': '--saturation-window',
  'saturation.intervalMs': '--saturation-interval',
  'saturation.maxStalenessMs': '--saturation-max-staleness',
  'saturation.prometheus': '--saturation-from-prometheus',
  'saturation.prometheus.cacheTtlMs': '--saturation-cache-ttl',
  'saturation.prometheus.timeoutMs': '--prometheus-timeout',
  'spool.dir': '--spool-dir',
  'spool.maxBytes': '--spool-max-bytes',
  'spool.drainPerSecond': '--spool-drain-rate',
};

/** The option paths in a ConfigError from startProxy, as flags; anything else as it is. */
function asFlagError(err: unknown): unknown {
  if (!(err instanceof ConfigError) || !(err.flag in OPTION_FLAGS)) return err;
  // Another option is named in the reason by a dotted path; longest first, so
  // `saturation.prometheus.cacheTtlMs` is not read as `saturation.prometheus`.
  const paths = Object.keys(OPTION_FLAGS)
    .filter((p) => p.includes('.'))
    .sort((a, b) => b.length - a.length);
  const reason = paths.reduce((text, path) => text.replaceAll(path, OPTION_FLAGS[path]!), err.reason);
  return new ConfigError(OPTION_FLAGS[err.flag]!, reason);
}
