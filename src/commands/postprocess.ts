import type { Command } from 'commander';
import { logLevelArg, envOption } from './options.js';
import { postprocessFile, type PostprocessResult } from '../collect/postprocess-file.js';
import { createLogger, type Logger } from '../logger.js';

/** One line per file: what went in, what came out, and where the original is. */
export function logPostprocessed(log: Logger, r: PostprocessResult): void {
  const { rowsIn, rowsOut, resets, outOfOrder } = r.stats;
  log.info(
    { event: 'postprocessed', input: r.input, output: r.output, raw: r.raw, from: r.from, to: r.to, rowsIn, rowsOut, resets, outOfOrder },
    `${r.input}: ${rowsIn} rows in, ${rowsOut} rows out to ${r.output} (${resets} resets${outOfOrder ? `, ${outOfOrder} rows out of time order left out` : ''})${r.raw ? `; the original is kept as ${r.raw}` : ''}`,
  );
}

export function postprocessCommand(program: Command): void {
  program
    .command('postprocess')
    .description('turn a collected file into per-interval values: counter deltas and rates, histogram bucket deltas, p50/p90/p99 and mean; gauges kept')
    .argument('<file>', 'a JSONL, CSV or SQLite file written by collect')
    .option(
      '--output <path>',
      'write here instead (.jsonl, .csv or .sqlite, any of them); default: rewrite <file> in place, keeping the original as <file>.raw',
    )
    .addOption(envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'LOG_LEVEL', logLevelArg, 'info'))
    .action(async (file: string, flags: { output?: string; logLevel: string }) => {
      const log = createLogger(flags.logLevel);
      logPostprocessed(log, await postprocessFile(file, flags.output));
    });
}
