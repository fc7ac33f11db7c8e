import { Option, type Command } from 'commander';
import { ConfigError } from '../errors.js';
import { bytesArg, durationArg, envFlag, envOption, logLevelArg, portArg, readSecret } from '../config.js';
import { createLogger } from '../logger.js';
import { startProxy, type ProxyConfig } from '../server/proxy.js';
import { onShutdown } from './shutdown.js';

interface ServeFlags {
  upstream: string;
  host: string;
  port: number;
  timeout: number;
  maxBodyBytes: number;
  upstreamToken?: string;
  upstreamTokenFile?: string;
  caFile?: string;
  insecure?: boolean;
  upstreamGzip?: boolean;
  readyMaxAge: number;
  logLevel: string;
  otlpForwardUrl?: string;
  otlpPushUrl?: string;
  otlpPushInterval: number;
  otlpStream: string;
  otlpLogSource: string;
  otlpHeader: string[];
  otlpTimeout: number;
  otlpQueueMaxBytes: number;
  otlpMaxRequestBytes: number;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

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
  program
    .command('serve')
    .description('serve the upstream vLLM /metrics with Prometheus-legal names on /metrics')
    .addOption(envOption('--upstream <url>', 'upstream metrics URL (user:pass@ in it for basic auth)', 'VLLM_METRICS_URL', undefined, 'http://localhost:8000/metrics'))
    .addOption(envOption('--host <address>', 'address to listen on', 'HOST', undefined, '0.0.0.0'))
    .addOption(envOption('--port <port>', 'port to listen on', 'PORT', portArg, 9090))
    .addOption(envOption('--timeout <duration>', 'deadline for one upstream scrape, headers and body (500ms, 10s, 1m)', 'VLLM_METRICS_TIMEOUT', durationArg, 10_000, '10s'))
    .addOption(envOption('--max-body-bytes <size>', 'largest upstream exposition accepted (bytes, or 64MiB)', 'VLLM_METRICS_MAX_BODY_BYTES', bytesArg, 64 * 1024 * 1024, '64MiB'))
    .addOption(envOption('--upstream-token <token>', 'bearer token for the upstream (prefer the variable or the file)', 'VLLM_METRICS_TOKEN'))
    .addOption(envOption('--upstream-token-file <path>', 'file holding the bearer token', 'VLLM_METRICS_TOKEN_FILE'))
    .addOption(envOption('--ca-file <path>', 'PEM file of CAs that sign the upstream certificate', 'VLLM_METRICS_CA_FILE'))
    .option('--insecure', 'do not verify the upstream TLS certificate (env VLLM_METRICS_INSECURE=true)')
    .option('--upstream-gzip', 'ask the upstream for gzip (env VLLM_METRICS_UPSTREAM_GZIP=true)')
    .addOption(envOption('--ready-max-age <duration>', '/ready answers from memory if the upstream answered this recently', 'READY_MAX_AGE', durationArg, 30_000, '30s'))
    .addOption(envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'LOG_LEVEL', logLevelArg, 'info'))
    .addOption(envOption('--otlp-forward-url <url>', 'turn on the OTLP relay (POST /v1/metrics) and forward OTLP/JSON here, e.g. http://parseable:8000/v1/metrics', 'OTLP_FORWARD_URL'))
    .addOption(envOption('--otlp-push-url <url>', 'scrape the upstream every interval and push it as OTLP/JSON here', 'OTLP_PUSH_URL'))
    .addOption(envOption('--otlp-push-interval <duration>', 'how often the direct push scrapes and exports', 'OTLP_PUSH_INTERVAL', durationArg, 10_000, '10s'))
    .addOption(envOption('--otlp-stream <name>', 'X-P-Stream header: the Parseable stream', 'OTLP_STREAM', undefined, 'vLLMmetrics'))
    .addOption(envOption('--otlp-log-source <name>', 'X-P-Log-Source header', 'OTLP_LOG_SOURCE', undefined, 'otel-metrics'))
    .addOption(new Option('--otlp-header <header>', 'extra header "Name: value" for OTLP requests, repeatable (env OTLP_HEADERS=a=1,b=2)').argParser(collect))
    .addOption(envOption('--otlp-timeout <duration>', 'deadline for one OTLP request', 'OTLP_TIMEOUT', durationArg, 10_000, '10s'))
    .addOption(envOption('--otlp-queue-max-bytes <size>', 'relay queue bound; the oldest batch is dropped beyond it', 'OTLP_QUEUE_MAX_BYTES', bytesArg, 32 * 1024 * 1024, '32MiB'))
    .addOption(envOption('--otlp-max-request-bytes <size>', 'largest OTLP request the relay takes (compressed or not)', 'OTLP_MAX_REQUEST_BYTES', bytesArg, 16 * 1024 * 1024, '16MiB'))
    .action(async (flags: ServeFlags) => {
      const otlpOn = flags.otlpForwardUrl || flags.otlpPushUrl;
      const config: ProxyConfig = {
        host: flags.host,
        port: flags.port,
        readyMaxAgeMs: flags.readyMaxAge,
        logLevel: flags.logLevel,
        upstream: {
          url: flags.upstream,
          token: readSecret(flags.upstreamToken, flags.upstreamTokenFile, '--upstream-token'),
          timeoutMs: flags.timeout,
          maxBodyBytes: flags.maxBodyBytes,
          caFile: flags.caFile,
          insecure: envFlag(flags.insecure, 'VLLM_METRICS_INSECURE', '--insecure'),
          gzip: envFlag(flags.upstreamGzip, 'VLLM_METRICS_UPSTREAM_GZIP', '--upstream-gzip'),
        },
        otlp: otlpOn
          ? {
              forwardUrl: flags.otlpForwardUrl,
              pushUrl: flags.otlpPushUrl,
              pushIntervalMs: flags.otlpPushInterval,
              timeoutMs: flags.otlpTimeout,
              maxQueueBytes: flags.otlpQueueMaxBytes,
              maxRequestBytes: flags.otlpMaxRequestBytes,
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
      const proxy = await startProxy(config, log);
      onShutdown(log, config.upstream.timeoutMs + 5_000, () => proxy.close());
    });
}
