import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import { buildSimulatorApp } from './server.js';
import { Simulator, type SimulatorOptions } from './simulator.js';

export interface RunningSimulator {
  sim: Simulator;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startSimulator(options: Partial<SimulatorOptions>, listen: { host: string; port: number }, log?: Logger): Promise<RunningSimulator> {
  const sim = new Simulator(options);
  const app = await buildSimulatorApp(sim, log);
  await app.listen(listen);
  sim.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : listen.port;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return { sim, app, url: `http://${host}:${port}`, close: () => app.close() };
}
