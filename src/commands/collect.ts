import { Option, type Command } from 'commander';
import { durationArg, envOption, logLevelArg } from './options.js';
import { Collector } from '../collect/collector.js';
import { postprocessFile } from '../collect/postprocess-file.js';
import { selection } from '../collect/selection.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { PromFileStore } from '../store/prom-file.js';
import { PushgatewayStore } from '../store/pushgateway.js';
import { isRowFormat, openRowStore } from '../store/row-formats.js';
import type { Store } from '../store/store.js';
import { TargetSet } from '../targets/target-set.js';
import { OLD_FLAGS_HEADING, planStores, resolveOldFlags, STORAGE_TYPES, STORE_KINDS, type OldCollectorFlags, type StorageType } from './collect-flags.js';
import { logPostprocessed } from './postprocess.js';
import { onShutdown } from './shutdown.js';
import { addTargetOptions, collectValues, reloadOnSighup, targetSpecs, upstreamOptions, type TargetFlags } from './target-flags.js';

interface CollectFlags extends TargetFlags, OldCollectorFlags {
  interval: number;
  metrics?: string[];
  store?: string[];
  output?: string;
  duration?: number;
  pushUrl?: string;
  pushJob: string;
  debug?: boolean;
  autoPostprocess?: boolean;
  logLevel: string;
}

function defaultOutput(now = new Date()): string {
  return `vllm-metrics-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`;
}

function openStores(flags: CollectFlags, storageType: StorageType | undefined): Store[] {
  const plan = planStores({ store: flags.store, storageType, output: flags.output ?? defaultOutput(), pushUrl: flags.pushUrl });
  const stores: Store[] = [];
  try {
    for (const f of plan.files) stores.push(f.kind === 'prom-file' ? new PromFileStore(f.path) : openRowStore(f.kind, f.path));
    if (plan.pushgateway) stores.push(new PushgatewayStore(flags.pushUrl!, flags.pushJob, flags.timeout));
  } catch (err) {
    void Promise.all(stores.map((s) => s.close()));
    throw new ConfigError('--output', (err as Error).message);
  }
  return stores;
}

/** One line kept up to date on a terminal; nothing when stderr is not one (logs stay clean). */
function statusLine(collector: Collector): () => void {
  if (!process.stderr.isTTY) return () => {};
  const draw = () => {
    const s = collector.stats;
    const age = s.lastRoundMs ? `${((Date.now() - s.lastRoundMs) / 1000).toFixed(0)}s ago` : 'not yet';
    process.stderr.write(`\r\x1b[2K${s.rounds} rounds, ${s.samples} samples, ${s.errors} scrape errors, ${s.storeErrors} store errors; last round ${age}`);
  };
  const timer = setInterval(draw, 1_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    draw();
    process.stderr.write('\n');
  };
}

/** --debug: after the first round, what each target served and what each --metrics name found. */
function debugReport(log: Logger, collector: Collector, patterns: readonly string[]): void {
  collector.once('round', (r) => {
    for (const e of r.errors) log.error({ event: 'debug_target', target: e.target, ok: false }, `target ${e.target}: ${e.error}`);
    const served = [...collector.served];
    log.info({ event: 'debug_families', count: served.length }, `the targets serve ${served.length} families`);
    for (const p of patterns) {
      const one = selection([p]);
      const found = served.filter((f) => one.matches(f));
      log.info({ event: 'debug_metric', metric: p, found }, found.length ? `${p}: ${found.join(', ')}` : `${p}: not served by any target`);
    }
  });
}

export function collectCommand(program: Command): void {
  const cmd = program.command('collect');
  addTargetOptions(cmd)
    .description('poll vLLM metrics into files (JSONL, CSV, SQLite, Prometheus textfile) or a Pushgateway')
    .addOption(envOption('--interval <duration>', 'time between rounds (10s, 1s, 500ms)', 'COLLECT_INTERVAL', durationArg, 10_000, '10s'))
    .option('--metrics <names...>', 'families to keep: exact names or globs, vllm:x or vllm_x spelling, space- or comma-separated (default: all)')
    .addOption(
      new Option('--store <kinds...>', `where to write: ${STORE_KINDS.join(', ')}; several allowed (default: the --output extension's, else jsonl)`).argParser(
        collectValues,
      ),
    )
    .option(
      '--output <path>',
      "file name (run.sqlite: SQLite, run.csv, run.jsonl or .json, run.prom), or the base name of each store's file (<base>.jsonl, .csv, .sqlite, .prom); default vllm-metrics-<time>",
    )
    .addOption(envOption('--duration <duration>', 'stop after this long (default: until Ctrl-C or SIGTERM)', 'COLLECT_DURATION', durationArg))
    .addOption(envOption('--push-url <url>', 'the Pushgateway for --store pushgateway', 'PUSHGATEWAY_URL'))
    .addOption(envOption('--push-job <name>', 'the job grouping label of pushed groups', 'PUSH_JOB', undefined, 'vllm'))
    .option('--auto-postprocess', 'on stop, post-process each JSONL, CSV and SQLite file in place (originals kept as <file>.raw)')
    .option('--debug', 'log at debug level and report, after the first round, what each target serves and what each --metrics name finds')
    .addOption(envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'LOG_LEVEL', logLevelArg, 'info'))
    .addOption(new Option('--endpoint <url>', 'the vLLM metrics URL: --upstream').helpGroup(OLD_FLAGS_HEADING))
    .addOption(
      new Option(
        '--storage-type <type>',
        'json (<output>.json, JSON Lines), csv, sqlite (<output>.db), prometheus (<output>.prom, and the Pushgateway with --pushgateway-url) or prometheus-file: --store',
      )
        .choices(STORAGE_TYPES)
        .helpGroup(OLD_FLAGS_HEADING),
    )
    .addOption(new Option('--pushgateway-url <url>', 'the Pushgateway: --push-url').helpGroup(OLD_FLAGS_HEADING))
    .addOption(new Option('--job-name <name>', 'the job of the pushed group: --push-job').helpGroup(OLD_FLAGS_HEADING))
    .addOption(
      new Option('--instance <name>', "the instance of the pushed group and of the rows: the one target's name (--upstream <name>=<url>)").helpGroup(
        OLD_FLAGS_HEADING,
      ),
    )
    .addOption(new Option('--postprocess <file>', 'post-process this file and exit: the postprocess command').helpGroup(OLD_FLAGS_HEADING))
    .addOption(new Option('--output-processed <file>', 'where --postprocess writes: postprocess --output').helpGroup(OLD_FLAGS_HEADING))
    .addOption(new Option('--verbose', 'log at debug level: --log-level debug').helpGroup(OLD_FLAGS_HEADING))
    .action(async (given: CollectFlags) => {
      const set = (key: string) => ['cli', 'env'].includes(cmd.getOptionValueSource(key) ?? '');
      const plan = resolveOldFlags(given, set);
      if (plan.postprocess) {
        logPostprocessed(createLogger(given.verbose ? 'debug' : given.logLevel), await postprocessFile(plan.postprocess.input, plan.postprocess.output));
        return;
      }
      const { flags } = plan;
      const log = createLogger(flags.debug ? 'debug' : flags.logLevel);
      const { specs } = targetSpecs(flags);
      const stores = openStores(flags, plan.storageType);
      const targets = new TargetSet({
        static: specs,
        targetsFile: flags.targetsFile,
        discover: flags.discover,
        discoverIntervalMs: flags.discoverInterval,
        dnsServer: flags.dnsServer,
        upstream: upstreamOptions(flags, specs[0]?.url ?? ''),
        log,
      });
      await targets.start();
      const sel = selection(flags.metrics);
      const collector = new Collector({
        targets: () => targets.list(),
        intervalMs: flags.interval,
        timeoutMs: Math.min(flags.timeout, flags.interval),
        selection: sel,
        stores,
        log,
      });
      if (flags.debug) debugReport(log, collector, sel.patterns);
      // Logged once the round is in every store: what a killed collector is sure to have kept.
      collector.on('round', (r) =>
        log.debug(
          { event: 'round', timeMs: r.timeMs, samples: r.samples, errors: r.errors.length, storeErrors: r.storeErrors.length },
          `round: ${r.samples} samples`,
        ),
      );
      log.info(
        {
          event: 'collecting',
          targets: targets.size,
          intervalMs: flags.interval,
          metrics: sel.patterns,
          stores: stores.map((s) => ({ store: s.name, location: s.location })),
        },
        `collecting ${targets.size} target(s) every ${flags.interval} ms into ${stores.map((s) => `${s.name} ${s.location}`).join(', ')}`,
      );
      const endStatus = statusLine(collector);
      const finish = async () => {
        await collector.stop();
        await targets.close();
        endStatus();
        const s = collector.stats;
        log.info({ event: 'collected', ...s }, `${s.rounds} rounds, ${s.samples} samples written`);
        if (s.storeErrors > 0) throw new Error(`${s.storeErrors} store writes failed (see store_failed above)`);
        if (flags.autoPostprocess) {
          for (const st of stores) if (isRowFormat(st.name)) logPostprocessed(log, await postprocessFile(st.location));
        }
      };
      // Post-processing a long run takes as long as it takes; a second Ctrl-C still ends it at once, and leaves the original whole.
      const stop = onShutdown(log, flags.autoPostprocess ? undefined : flags.timeout + 10_000, finish);
      reloadOnSighup(log, targets);
      collector.start();
      const { duration } = flags;
      if (duration) setTimeout(() => stop(`--duration ${duration / 1000}s reached`), duration).unref();
    });
}
