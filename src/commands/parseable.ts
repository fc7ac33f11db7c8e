/**
 * `vllm-metrics-proxy parseable setup`: streams, retention and the project's saved queries in
 * a Parseable (src/parseable/setup.ts says what it does and promises). Prints one line per
 * thing it looked at; exit 0 when all is in place, 1 with one line saying what to do when
 * Parseable refused (nothing is changed when a check before the first change fails).
 */
import type { Command } from 'commander';
import { setTimeout as delay } from 'node:timers/promises';
import { ConfigError, ParseableError } from '../errors.js';
import { ParseableClient } from '../parseable/client.js';
import { projectQueries } from '../parseable/queries.js';
import { setupParseable } from '../parseable/setup.js';
import { readSecret } from '../secret.js';
import { durationArg, envOption } from './options.js';

interface SetupFlags {
  parseableUrl?: string;
  username: string;
  passwordFile?: string;
  retention: number;
  metricsStream: string;
  requestsStream: string;
  wait?: number;
  timeout: number;
  force?: boolean;
}

/** Whole days, as Parseable's retention takes them: `7d`, or a bare number of days. */
const daysArg = (text: string): number => {
  const m = /^(\d+)d?$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new ConfigError('--retention', `"${text}" is not a number of days from 1 to 36500 (7d, 30)`);
  return n;
};

export function parseableCommand(program: Command): void {
  const parseable = program.command('parseable').description('get a Parseable ready for the proxy: streams, retention, saved queries, a dashboard');
  parseable
    .command('setup')
    .description('create the streams, set their retention, save the project queries and a "vLLM" dashboard in Parseable; safe to run again')
    .addOption(envOption('--parseable-url <url>', "Parseable's URL (http://parseable:8000)", 'PARSEABLE_URL'))
    .addOption(
      envOption(
        '--username <name>',
        'Parseable user (an admin or editor); the password comes from P_PASSWORD or --password-file',
        'P_USERNAME',
        undefined,
        'admin',
      ),
    )
    .addOption(envOption('--password-file <path>', 'file holding the password (instead of P_PASSWORD)', 'P_PASSWORD_FILE'))
    .addOption(
      envOption(
        '--retention <days>',
        'days Parseable keeps each stream (7d: a week of incidents to look back on, on a local disk that stays bounded)',
        'PARSEABLE_RETENTION',
        daysArg,
        7,
        '7d',
      ),
    )
    .addOption(envOption('--metrics-stream <name>', 'the metrics stream (as the relay writes it)', 'OTLP_STREAM', undefined, 'vLLMmetrics'))
    .addOption(envOption('--requests-stream <name>', 'the request records stream', 'REQUEST_LOG_STREAM', undefined, 'vLLMrequests'))
    .addOption(
      envOption('--wait <duration>', 'wait this long for Parseable to answer before giving up (a container started beside it)', 'PARSEABLE_WAIT', durationArg),
    )
    .addOption(envOption('--timeout <duration>', 'deadline of one request', 'PARSEABLE_TIMEOUT', durationArg, 10_000, '10s'))
    .option('--force', 'replace the tiles of a dashboard titled "vLLM" that setup did not make')
    .action(async (flags: SetupFlags) => {
      if (!flags.parseableUrl) throw new ConfigError('--parseable-url', 'is required (or PARSEABLE_URL)');
      try {
        new URL(flags.parseableUrl);
      } catch {
        throw new ConfigError('--parseable-url', `"${flags.parseableUrl}" is not a URL`);
      }
      const password = readSecret(process.env.P_PASSWORD, flags.passwordFile, '--password');
      if (!password) throw new ConfigError('--password-file', 'no password: set P_PASSWORD or --password-file');
      const client = new ParseableClient({ url: flags.parseableUrl, username: flags.username, password, timeoutMs: flags.timeout });
      if (flags.wait) {
        const until = Date.now() + flags.wait;
        while (!(await client.live())) {
          if (Date.now() > until) {
            process.stderr.write(`error: Parseable at ${client.base} did not answer within --wait\n`);
            process.exit(1);
          }
          await delay(1_000);
        }
      }
      try {
        const { version, changes, dashboardId } = await setupParseable(client, {
          force: flags.force,
          metricsStream: flags.metricsStream,
          requestsStream: flags.requestsStream,
          retentionDays: flags.retention,
          queries: projectQueries(),
        });
        for (const c of changes) process.stdout.write(`${c.what} ${c.name}: ${c.action}${c.detail ? ` (${c.detail})` : ''}\n`);
        const count = (a: string) => changes.filter((c) => c.action === a).length;
        process.stdout.write(
          `Parseable ${version ?? ''} at ${client.base}: ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged. ` +
            `The dashboard: ${client.base}/dashboards (vLLM, id ${dashboardId}); the saved queries are in the SQL editor.\n`,
        );
      } catch (err) {
        if (!(err instanceof ParseableError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(1);
      }
    });
}
