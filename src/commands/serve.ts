import type { Command } from 'commander';
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
    .action(async (flags: ServeFlags) => {
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
      };
      const log = createLogger(config.logLevel);
      const proxy = await startProxy(config, log);
      onShutdown(log, config.upstream.timeoutMs + 5_000, () => proxy.close());
    });
}
