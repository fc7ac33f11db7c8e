import type { Command } from 'commander';
import { portArg } from './options.js';
import { createLogger } from '../logger.js';
import { startProxy } from '../server/proxy.js';
import { startSimulator } from '../simulator/start.js';
import { addSimulatorOptions, simulatorOptions, type SimulateFlags } from './simulate.js';
import { onShutdown } from './shutdown.js';

export function demoCommand(program: Command): void {
  const cmd = program.command('demo').description('run the simulator and the proxy together: sanitized vLLM metrics with no vLLM around');
  addSimulatorOptions(cmd)
    .option('--port <port>', 'proxy port', portArg, 9090)
    .option('--sim-port <port>', 'simulator port (a free one is picked if it is taken)', portArg, 8000)
    .action(async (flags: SimulateFlags & { port: number; simPort: number }) => {
      const log = createLogger('warn');
      let sim;
      try {
        sim = await startSimulator(simulatorOptions(flags), { host: '127.0.0.1', port: flags.simPort }, log);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        sim = await startSimulator(simulatorOptions(flags), { host: '127.0.0.1', port: 0 }, log);
      }
      const proxy = await startProxy(
        {
          host: '0.0.0.0',
          port: flags.port,
          readyMaxAgeMs: 30_000,
          upstream: { url: `${sim.url}/metrics`, timeoutMs: 10_000, maxBodyBytes: 64 * 1024 * 1024 },
        },
        log,
      );
      const port = new URL(proxy.url).port;
      process.stdout.write(
        [
          '',
          'vllm-metrics-proxy demo: a simulated vLLM and the sanitizing proxy are running.',
          '',
          `  simulated vLLM (colon names):   ${sim.url}/metrics`,
          `  sanitized by the proxy:         http://localhost:${port}/metrics`,
          `  proxy self-metrics:             http://localhost:${port}/proxy/metrics`,
          `  health / readiness:             http://localhost:${port}/health   /ready`,
          '',
          'Try:',
          `  curl -s localhost:${port}/metrics | grep -E '^vllm_(num_requests|kv_cache)'`,
          '',
          'Ctrl-C stops both.',
          '',
        ].join('\n'),
      );
      onShutdown(log, 15_000, async () => {
        await proxy.close();
        await sim.close();
      });
    });
}
