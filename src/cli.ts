#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { collectCommand } from './commands/collect.js';
import { demoCommand } from './commands/demo.js';
import { healthcheckCommand } from './commands/healthcheck.js';
import { parseableCommand } from './commands/parseable.js';
import { postprocessCommand } from './commands/postprocess.js';
import { reportCommand } from './commands/report.js';
import { requestsCommand } from './commands/requests.js';
import { saturationCommand } from './commands/saturation.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { ConfigError } from './errors.js';
import { VERSION } from './version.js';

const program = new Command('vllm-metrics-proxy')
  .description('Make vLLM metrics consumable: sanitize names, ship them, watch a fleet.')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)')
  // Throw instead of exiting, so every usage error leaves with status 2 below.
  .exitOverride();

serveCommand(program);
collectCommand(program);
postprocessCommand(program);
reportCommand(program);
requestsCommand(program);
saturationCommand(program);
parseableCommand(program);
simulateCommand(program);
demoCommand(program);
healthcheckCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`error: option ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    process.stderr.write(`error: ${e.message}: the port is in use (choose another with --port)\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(1);
}
