import replyFrom from '@fastify/reply-from';
import type { FastifyPluginAsync } from 'fastify';
import { createPassthrough, type ApiConfig, type ApiContext } from '../../api/passthrough.js';

export interface ApiRoutesOptions {
  config: ApiConfig;
  context: ApiContext;
  /** The port's idle bound (--client-idle-timeout), which an API request may outlast. */
  idleTimeoutMs?: number;
}

/**
 * vLLM's own routes on the proxy's port (api/passthrough.ts does the work). With
 * the API passed through, /health is vLLM's too (clients of the API check it);
 * the proxy's own liveness is /proxy/health (routes/health.ts).
 */
export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (scope, { config, context, idleTimeoutMs = 0 }) => {
  const passthrough = createPassthrough(config, context);
  // vLLM may be silent for --api-timeout (a long queue before the first token): the client's
  // connection is not idle then. The passthrough's own deadline ends such a request first.
  const apiIdleMs = Math.max(idleTimeoutMs, config.timeoutMs + 30_000);
  scope.addHook('onRequest', (request, _reply, done) => {
    request.raw.socket.setTimeout(apiIdleMs);
    done();
  });
  scope.addHook('onClose', async () => passthrough.close());
  await scope.register(replyFrom, { base: passthrough.origin, disableRequestLogging: true, undici: passthrough.undici });
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', passthrough.parseBody);
  scope.all('/v1/*', passthrough.handle);
  scope.post('/tokenize', passthrough.handle);
  scope.post('/detokenize', passthrough.handle);
  scope.get('/version', passthrough.handle);
  scope.get('/health', passthrough.handle);
};
