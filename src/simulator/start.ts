import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import { SimulatorApi, type ApiOptions } from './api.js';
import { buildSimulatorApp } from './server.js';
import { Simulator, type SimulatorOptions } from './simulator.js';

export interface RunningSimulator {
  sim: Simulator;
  /** Its OpenAI API, and the ground truth of every request it served. */
  api: SimulatorApi;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startSimulator(
  options: Partial<SimulatorOptions>,
  listen: { host: string; port: number },
  log?: Logger,
  apiOptions: Partial<ApiOptions> = {},
): Promise<RunningSimulator> {
  const sim = new Simulator(options);
  const api = new SimulatorApi(sim, apiOptions);
  const app = await buildSimulatorApp(sim, log, api);
  await app.listen(listen);
  sim.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : listen.port;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return {
    sim,
    api,
    app,
    url: `http://${host}:${port}`,
    // A simulated vLLM going away drops its connections, streams in progress included.
    close: async () => {
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    },
  };
}
