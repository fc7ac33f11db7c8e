import type { Command } from 'commander';
import { applyEnginePrefixes, enginePrefixOption, envOption, logLevelArg } from './options.js';
import { createLogger } from '../logger.js';
import { writeReport } from '../report/report-file.js';

export function reportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report with charts of a collected run (throughput, running/waiting, KV-cache, TTFT and latency percentiles), or of two runs side by side',
    )
    .argument('<file>', 'a JSONL, CSV or SQLite file written by collect (raw or post-processed)')
    .option('--compare <file>', 'a second run to compare against the first')
    .option('--requests <file>', 'add a per-request section from a request log (serve --request-log): TTFT and e2e per request, and their histogram')
    .option('--output <path>', 'where to write the HTML (default: <file>.html, or <file>-vs-<other>.html, beside <file>)')
    .addOption(enginePrefixOption())
    .addOption(envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'LOG_LEVEL', logLevelArg, 'info'))
    .action(async (file: string, flags: { compare?: string; output?: string; requests?: string; logLevel: string; enginePrefix?: string[] }) => {
      applyEnginePrefixes(flags.enginePrefix);
      const log = createLogger(flags.logLevel);
      const r = await writeReport(file, flags);
      const missing = r.runs.flatMap((run) => [...run.found].filter(([, name]) => !name).map(([id]) => id));
      log.info(
        {
          event: 'report_written',
          output: r.output,
          bytes: r.bytes,
          runs: r.runs.map((x) => ({ file: x.label, rounds: x.rounds })),
          chartsWithoutData: [...new Set(missing)],
        },
        `report written to ${r.output} (${r.runs.map((x) => `${x.label}: ${x.rounds} rounds`).join('; ')})`,
      );
    });
}
