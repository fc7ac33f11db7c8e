/**
 * The proxy's Fastify: a request's logger is made when something logs through it, and
 * then carries the request's id as Fastify's own would; a request that logs nothing
 * makes none (pino's child() per request was measured, bench/README.md).
 */
import t from 'tap';
import { createFastify } from '../../src/http/fastify.js';
import { captureLog } from '../helpers/net.js';

t.test('the per-request logger: made on first use, with the request id bound', async (t) => {
  const captured = captureLog('debug');
  let children = 0;
  const child = captured.log.child.bind(captured.log);
  captured.log.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof captured.log.child;
  const app = createFastify(captured.log);
  app.get('/quiet', async () => 'ok');
  app.get('/loud', async (request) => {
    request.log.warn({ event: 'loud' }, 'a request that logs');
    request.log.debug({ event: 'loud_debug' }, 'and again');
    return 'ok';
  });
  t.teardown(() => app.close());

  const before = children;
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/quiet')).body, 'ok');
  t.equal(children - before, 0, 'five requests that log nothing made no logger');

  await app.inject('/loud');
  t.equal(children - before, 1, 'one that logs twice made one');
  const loud = captured.lines().filter((l) => l.event === 'loud' || l.event === 'loud_debug');
  t.equal(loud.length, 2);
  t.ok(
    loud.every((l) => typeof l.reqId === 'string' && l.reqId === loud[0]!.reqId),
    'both lines carry the request id',
  );
});
