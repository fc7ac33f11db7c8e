import { Option, type Command } from 'commander';
import { durationArg, envOption, logLevelArg, portArg, positiveIntArg, positiveNumberArg } from './options.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';
import type { DialectId } from '../simulator/dialects.js';
import { startSimulator } from '../simulator/start.js';
import { onShutdown } from './shutdown.js';

export interface SimulateFlags {
  engines: number;
  models: number;
  rate: number;
  tick: number;
  seed: number;
  multiprocess?: boolean;
  maxModelLen: number;
  specDecode?: boolean;
  frozen?: boolean;
  vllmVersion: string;
  engine: string;
}

interface ApiFlags {
  decodeTps: number;
  prefillTps: number;
  maxNumSeqs: number;
  enablePerRequestMetrics?: boolean;
  enableForceIncludeUsage?: boolean;
}

/** Simulator flags shared by `simulate` and `demo`. */
export function addSimulatorOptions(cmd: Command): Command {
  return cmd
    .option('--engines <n>', 'data-parallel engines per model (the engine label)', positiveIntArg, 1)
    .option('--models <n>', 'served models (the model_name label)', positiveIntArg, 1)
    .option('--rate <req/s>', 'mean request arrivals per second per engine', positiveNumberArg, 4)
    .addOption(new Option('--tick <duration>', 'how often the metrics move').argParser(durationArg).default(1000, '1s'))
    .option('--seed <n>', 'random seed, for reproducible runs', positiveIntArg, 1)
    .option('--multiprocess', "render like prometheus_client's multiprocess mode (no _created, _sum before _bucket, le first)")
    .option('--max-model-len <tokens>', 'max_model_len, the top of the token histograms', positiveIntArg, 32768)
    .option('--spec-decode', 'add the speculative decoding counters')
    .option('--frozen', 'serve one exposition that never moves (the first minute of load, then nothing): for comparing outputs')
    .addOption(
      new Option(
        '--vllm-version <version>',
        'whose names: 0.6 (the V0 engine: gpu_cache_usage_perc, no engine label), 0.9 (new and deprecated names side by side) or latest (the new names only)',
      )
        .choices(['0.6', '0.9', 'latest'])
        .default('0.9'),
    )
    .addOption(
      new Option('--engine <engine>', "vllm, or sglang (SGLang's names and labels: sglang:num_running_reqs, ...)").choices(['vllm', 'sglang']).default('vllm'),
    );
}

/** Which dialect the flags ask for; SGLang has no vLLM version. */
function dialectOf(flags: SimulateFlags, given: (k: string) => boolean): DialectId {
  if (flags.engine === 'sglang') {
    if (given('vllmVersion')) throw new ConfigError('--vllm-version', 'is a vLLM version: not with --engine sglang');
    return 'sglang';
  }
  return `vllm-${flags.vllmVersion}` as DialectId;
}

export function simulatorOptions(flags: SimulateFlags, given: (k: string) => boolean = () => false) {
  const dialect = dialectOf(flags, given);
  if (flags.engines > 1 && dialect === 'vllm-0.6')
    throw new ConfigError('--engines', 'vLLM 0.6 (the V0 engine) has one engine per model: give --engines 1, or a later --vllm-version');
  return {
    dialect,
    engines: flags.engines,
    models: flags.models,
    rate: flags.rate,
    tickMs: flags.frozen ? 0 : flags.tick,
    seed: flags.seed,
    multiprocess: Boolean(flags.multiprocess),
    maxModelLen: flags.maxModelLen,
    specDecode: Boolean(flags.specDecode),
  };
}

export function simulateCommand(program: Command): void {
  const cmd = program
    .command('simulate')
    .description('a simulated vLLM with no GPU: /metrics (every v1 family, evolving under simulated load) and the OpenAI API, whose requests it counts');
  addSimulatorOptions(cmd)
    .addOption(envOption('--host <address>', 'address to listen on', 'HOST', undefined, '0.0.0.0'))
    .addOption(envOption('--port <port>', 'port to listen on', 'PORT', portArg, 8000))
    .addOption(envOption('--log-level <level>', 'log level', 'LOG_LEVEL', logLevelArg, 'info'))
    .option('--decode-tps <tokens/s>', 'API requests: output tokens per second of one sequence', positiveNumberArg, 60)
    .option('--prefill-tps <tokens/s>', 'API requests: prompt tokens per second', positiveNumberArg, 8000)
    .option('--max-num-seqs <n>', 'API requests: sequences an engine runs at once; more wait in its queue', positiveIntArg, 256)
    .option('--enable-per-request-metrics', 'as vLLM\'s flag: a request with "include_metrics": true gets its own metrics object')
    .option('--enable-force-include-usage', "as vLLM's flag: every stream ends with a usage chunk")
    .action(async (flags: SimulateFlags & ApiFlags & { host: string; port: number; logLevel: string }) => {
      const log = createLogger(flags.logLevel);
      const running = await startSimulator(
        simulatorOptions(flags, (k) => cmd.getOptionValueSource(k) === 'cli'),
        { host: flags.host, port: flags.port },
        log,
        {
          decodeTokensPerSecond: flags.decodeTps,
          prefillTokensPerSecond: flags.prefillTps,
          maxNumSeqs: flags.maxNumSeqs,
          perRequestMetrics: Boolean(flags.enablePerRequestMetrics),
          forceIncludeUsage: Boolean(flags.enableForceIncludeUsage),
        },
      );
      log.info({ event: 'listening', url: running.url, engines: flags.engines, models: flags.models }, `simulated vLLM metrics on ${running.url}/metrics`);
      onShutdown(log, 5_000, () => running.close());
    });
}
