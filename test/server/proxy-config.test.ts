/**
 * startProxy, used as a library, refuses what the CLI would refuse, before
 * anything listens or starts, naming the option by its path; `serve` says the
 * same with the flag's name.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import t from 'tap';
import { OPTION_FLAGS } from '../../src/commands/serve.js';
import { ConfigError } from '../../src/errors.js';
import { checkProxyConfig, type ProxyConfig } from '../../src/server/proxy-config.js';
import { startProxy } from '../../src/server/proxy.js';
import { captureLog } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';

const base = (): ProxyConfig => ({
  host: '127.0.0.1',
  port: 0,
  readyMaxAgeMs: 30_000,
  processMetrics: false,
  upstream: { url: 'http://127.0.0.1:1/metrics', timeoutMs: 1_000, maxBodyBytes: 1024 },
});

/** A port nobody listens on now: free it, then check it is still free after a refused start. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

t.test('refused configurations name the option path, and nothing listens', async (t) => {
  const cases: Array<[string, (c: ProxyConfig) => ProxyConfig, RegExp]> = [
    ['port out of range', (c) => ({ ...c, port: 70_000 }), /^port: 70000 is not a TCP port/],
    ['zero timeout', (c) => ({ ...c, upstream: { ...c.upstream, timeoutMs: 0 } }), /^upstream\.timeoutMs: must be a number greater than zero/],
    ['bad log level', (c) => ({ ...c, logLevel: 'loud' }), /^logLevel: "loud" is not one of/],
    ['bad target label', (c) => ({ ...c, fleet: { static: [], label: '__x' } }), /^fleet\.label: "__x" is not a label name/],
    ['poll interval NaN', (c) => ({ ...c, poll: { intervalMs: Number.NaN, maxStalenessMs: 1000 } }), /^poll\.intervalMs: must be a number greater than zero/],
    [
      'OTLP with neither path',
      (c) => ({
        ...c,
        otlp: {
          destination: { stream: 's', logSource: 'otel-metrics', headers: [] },
          pushIntervalMs: 1000,
          timeoutMs: 1000,
          maxQueueBytes: 1,
          maxRequestBytes: 1,
        },
      }),
      /^otlp: needs otlp\.forwardUrl/,
    ],
    [
      'a saturation interval in poll mode',
      (c) => ({ ...c, poll: { intervalMs: 1000, maxStalenessMs: 3000 }, saturation: { windowMs: 60_000, intervalMs: 1000 } }),
      /^saturation\.intervalMs: in poll mode every poll is a saturation sample \(set poll\.intervalMs instead\)/,
    ],
    [
      'a window of one sample',
      (c) => ({ ...c, saturation: { windowMs: 5_000, intervalMs: 5_000 } }),
      /^saturation\.windowMs: must be at least two sampling intervals \(10s\)/,
    ],
    [
      'a window of one poll',
      (c) => ({ ...c, poll: { intervalMs: 4_000, maxStalenessMs: 12_000 }, saturation: { windowMs: 6_000 } }),
      /^saturation\.windowMs: .*\(8s\)/,
    ],
  ];
  for (const [name, make, message] of cases) {
    const port = await freePort();
    const logs = captureLog('debug');
    const err = await startProxy(make({ ...base(), port }), logs.log).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof ConfigError, `${name}: a ConfigError`);
    t.equal((err as ConfigError).code, 'VMP_CONFIG');
    t.equal((err as ConfigError).name, 'ConfigError');
    t.match((err as Error).message, message, name);
    t.ok(await portIsFree(port), `${name}: nothing listens`);
    t.same(logs.lines(), [], `${name}: nothing started, nothing logged`);
  }
  t.doesNotThrow(() => checkProxyConfig(base()), 'a plain config passes');
});

t.test('every option path the check can name has its flag in serve', async (t) => {
  const source = readFileSync(new URL('../../src/server/proxy-config.ts', import.meta.url), 'utf8');
  // The check, and the destinations startProxy and the API passthrough resolve by option path.
  const wiring = ['../../src/server/proxy.ts', '../../src/api/wiring.ts'].map((f) => readFileSync(new URL(f, import.meta.url), 'utf8')).join('\n');
  const named = new Set([
    ...[...source.matchAll(/(?:ConfigError|positive)\('([A-Za-z.]+)'/g)].map((m) => m[1]!),
    ...[...wiring.matchAll(/resolveDestination\([^;]*?, '([A-Za-z.]+)'\)/g)].map((m) => m[1]!),
  ]);
  t.ok(named.size > 20, `${named.size} option paths found in the check`);
  for (const path of named) t.ok(path in OPTION_FLAGS, `${path} maps to a flag`);
});

t.test('serve says the same with flag names', async (t) => {
  const r = runCli(['serve', '--saturation', '--poll-interval', '2s', '--saturation-interval', '1s']);
  t.equal(r.status, 2, 'the exit code of a configuration error');
  t.match(r.stderr, /--saturation-interval: in poll mode every poll is a saturation sample \(set --poll-interval instead\)/);
  t.notMatch(r.stderr, /intervalMs/);
});
