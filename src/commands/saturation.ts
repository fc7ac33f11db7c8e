/**
 * `vllm-metrics-proxy saturation --prometheus-url URL`: the saturation signals
 * from Prometheus, as a table or JSON. Exit 0 with a report (an empty one
 * included: "no data" is an answer), 1 when Prometheus could not give one.
 */
import type { Command } from 'commander';
import { applyEnginePrefixes, durationArg, enginePrefixOption, envOption } from './options.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';
import { PrometheusClient } from '../saturation/prometheus-client.js';
import { PrometheusSaturation } from '../saturation/prometheus-source.js';
import { saturationTable } from '../saturation/render.js';
import { labelNameArg } from './target-flags.js';

interface SaturationFlags {
  prometheusUrl?: string;
  model?: string;
  namespace?: string;
  json?: boolean;
  window: number;
  targetLabel: string;
  timeout: number;
  caFile?: string;
  bearerTokenFile?: string;
  cacheTtl: number;
  maxStaleness: number;
  watch?: boolean;
  enginePrefix?: string[];
}

export function saturationCommand(program: Command): void {
  program
    .command('saturation')
    .description('saturation signals for autoscalers (KV cache, queue, throughput, token means, prefix-cache hits) from Prometheus')
    .addOption(envOption('--prometheus-url <url>', 'Prometheus base URL (http://prometheus:9090); basic auth may be in it', 'PROMETHEUS_URL'))
    .addOption(envOption('--model <name>', 'only this model_name', 'SATURATION_MODEL'))
    .addOption(envOption('--namespace <name>', 'only series with this namespace label (Kubernetes)', 'SATURATION_NAMESPACE'))
    .option('--json', "print the report as JSON (the shape of serve's /saturation)")
    .addOption(envOption('--window <duration>', 'window of the maxima and rates', 'SATURATION_WINDOW', durationArg, 60_000, '1m'))
    .addOption(
      envOption(
        '--target-label <name>',
        'label naming a replica (exported_instance behind a fleet proxy scraped without honor_labels)',
        'SATURATION_TARGET_LABEL',
        labelNameArg,
        'instance',
      ),
    )
    .addOption(envOption('--timeout <duration>', 'deadline of one query', 'PROMETHEUS_TIMEOUT', durationArg, 10_000, '10s'))
    .addOption(envOption('--ca-file <path>', "PEM bundle of the CAs that sign Prometheus' certificate", 'PROMETHEUS_CA_FILE'))
    .addOption(
      envOption(
        '--bearer-token-file <path>',
        'file holding a bearer token, read before every query (a Kubernetes service account token)',
        'PROMETHEUS_BEARER_TOKEN_FILE',
      ),
    )
    .addOption(
      envOption(
        '--cache-ttl <duration>',
        'with --watch: how often to query (answers are cached this long)',
        'SATURATION_CACHE_TTL',
        durationArg,
        10_000,
        '10s',
      ),
    )
    .addOption(
      envOption('--max-staleness <duration>', 'a value whose newest sample is older is reported stale', 'SATURATION_MAX_STALENESS', durationArg, 120_000, '2m'),
    )
    .option('--watch', 'print a report every --cache-ttl until interrupted')
    .addOption(enginePrefixOption())
    .action(async (flags: SaturationFlags) => {
      applyEnginePrefixes(flags.enginePrefix);
      if (!flags.prometheusUrl) throw new ConfigError('--prometheus-url', 'is required (or PROMETHEUS_URL)');
      const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
      const client = new PrometheusClient({ url: flags.prometheusUrl, timeoutMs: flags.timeout, caFile: flags.caFile, bearerTokenFile: flags.bearerTokenFile });
      const source = new PrometheusSaturation({
        client,
        windowMs: flags.window,
        targetLabel: flags.targetLabel,
        model: flags.model,
        namespace: flags.namespace,
        cacheTtlMs: flags.cacheTtl,
        maxStalenessMs: flags.maxStaleness,
        log,
      });
      const print = async (): Promise<boolean> => {
        const report = await source.report();
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : saturationTable(report));
        if (report.status === 'error') process.stderr.write(`error: ${report.error}\n`);
        return report.status !== 'error';
      };
      if (!flags.watch) {
        const ok = await print();
        await source.close();
        process.exit(ok ? 0 : 1);
      }
      process.on('SIGINT', () => process.exit(0));
      process.on('SIGTERM', () => process.exit(0));
      for (;;) {
        await source.refresh(); // each report is the one just fetched, not the cache of the last round
        await print();
        await new Promise((resolve) => setTimeout(resolve, flags.cacheTtl));
      }
    });
}
