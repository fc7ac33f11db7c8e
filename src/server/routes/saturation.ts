import type { FastifyPluginAsync } from 'fastify';
import type { SaturationService } from '../../saturation/wiring.js';

export interface SaturationRoutesOptions {
  saturation: SaturationService;
}

/**
 * GET /saturation: the signals as JSON, per target and model and per model
 * across the fleet. 200 whenever there is something true to say, "no data"
 * included (scale from zero); 503 when the source failed and nothing is known.
 * `?model=NAME` keeps one model.
 */
export const saturationRoutes: FastifyPluginAsync<SaturationRoutesOptions> = async (app, { saturation }) => {
  app.get<{ Querystring: { model?: string } }>('/saturation', async (request, reply) => {
    const report = await saturation.report();
    const model = request.query.model;
    if (model !== undefined) {
      report.targets = report.targets.filter((t) => t.model === model);
      report.models = report.models.filter((m) => m.model === model);
    }
    return reply
      .code(report.status === 'error' ? 503 : 200)
      .header('cache-control', 'no-store')
      .send(report);
  });
};
