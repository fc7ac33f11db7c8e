import type { Command } from 'commander';
import { readRequestLog } from '../requests/read.js';
import { renderSummary, summarize } from '../requests/summary.js';

export function requestsCommand(program: Command): void {
  program
    .command('requests <file>')
    .description('per-request table of a --request-log file: timings, tokens, server view; then totals, means, p50/p90/p99, throughput')
    .option('--json', 'the same as JSON: { requests, summary }')
    .action((file: string, flags: { json?: boolean }) => {
      const records = readRequestLog(file);
      const summary = summarize(records);
      process.stdout.write(flags.json ? `${JSON.stringify({ requests: records, summary }, null, 2)}\n` : renderSummary(records, summary));
    });
}
