import { request } from 'undici';
import t from 'tap';
import { renameNames, underscore } from './helpers/oracle.js';
import { runCliAsync, spawnCli } from './helpers/cli.js';
import { get, rawServer } from './helpers/net.js';
import { startSimulator } from '../src/simulator/start.js';
import { encodeProtobuf } from '../src/otlp/proto.js';
import { ParseableStandIn } from './helpers/parseable.js';
import { eventually } from './helpers/wait.js';
import { startPushgateway } from './helpers/pushgateway.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('bad flags and variables: exit 2 with an error naming the flag', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['serve', '--timeout', 'abc'], {}, /--timeout.*"abc" is not a duration/],
    [['serve', '--timeout', '0s'], {}, /--timeout.*greater than zero/],
    [['serve'], { VLLM_METRICS_TIMEOUT: 'soon' }, /--timeout.*VLLM_METRICS_TIMEOUT.*"soon" is not a duration/],
    [['serve', '--port', '70000'], {}, /--port.*not a TCP port/],
    [['serve'], { PORT: 'http' }, /--port.*PORT/],
    [['serve', '--max-body-bytes', 'lots'], {}, /--max-body-bytes.*not a size/],
    [['serve', '--upstream', 'vllm:8000'], {}, /--upstream: unsupported scheme vllm:/],
    [['serve', '--upstream', 'not a url'], {}, /--upstream: "not a url" is not a URL/],
    [['serve', '--log-level', 'loud'], {}, /--log-level.*"loud" is not one of/],
    [['serve'], { VLLM_METRICS_INSECURE: 'maybe' }, /--insecure \(from VLLM_METRICS_INSECURE\): "maybe" is not a boolean/],
    [['serve', '--upstream-token-file', '/nonexistent/token'], {}, /--upstream-token-file: cannot read \/nonexistent\/token/],
    [['serve', '--upstream-token', 'a', '--upstream-token-file', '/etc/hostname'], {}, /--upstream-token: give the token or --upstream-token-file, not both/],
    [['simulate', '--engines', '0'], {}, /--engines.*not a positive whole number/],
    [['serve', '--otlp-forward-url', 'parseable:8000'], {}, /--otlp-forward-url: unsupported scheme parseable:/],
    [
      ['serve', '--otlp-push-url', 'http://u:p@parseable:8000/v1/metrics'],
      { OTLP_USERNAME: 'x' },
      /--otlp-push-url: credentials in the URL and OTLP_USERNAME\/OTLP_PASSWORD are exclusive/,
    ],
    [['serve', '--otlp-forward-url', 'http://p/v1/metrics'], { OTLP_PASSWORD: 'x' }, /OTLP_USERNAME: is empty while OTLP_PASSWORD is set/],
    [['serve', '--otlp-forward-url', 'http://p/v1/metrics', '--otlp-header', 'no-colon'], {}, /--otlp-header: "no-colon" is not "Name: value"/],
    [['serve', '--otlp-forward-url', 'http://p/v1/metrics', '--otlp-header', 'Authorization: x'], {}, /--otlp-header: Authorization is set by the proxy/],
    [['serve', '--otlp-forward-url', 'http://p/v1/metrics'], { OTLP_HEADERS: 'novalue' }, /--otlp-header \(from OTLP_HEADERS\): "novalue" is not name=value/],
    [['serve', '--otlp-forward-url', 'http://p/v1/metrics', '--otlp-stream', 'a b'], {}, /--otlp-stream: "a b" is not a stream name/],
    [['serve', '--otlp-push-interval', 'often'], {}, /--otlp-push-interval.*"often" is not a duration/],
    [['serve', '--otlp-queue-max-bytes', '0'], {}, /--otlp-queue-max-bytes.*greater than zero/],
    [['serve', '--otlp-relay-listen', 'loopback'], {}, /--otlp-relay-listen.*"loopback" is not host:port/],
    [['serve'], { OTLP_RELAY_LISTEN: '127.0.0.1:99999' }, /--otlp-relay-listen.*OTLP_RELAY_LISTEN.*is not host:port/],
    [['serve', '--otlp-relay-listen', '127.0.0.1:4318'], {}, /--otlp-relay-listen: only applies with --otlp-forward-url/],
    [['serve', '--target-label', '__name'], {}, /--target-label.*"__name" is not a label name/],
    [['serve', '--target-label', 'a-b'], {}, /--target-label.*"a-b" is not a label name/],
    [['serve', '--discover', 'http://vllm:8000/metrics'], {}, /--discover: unsupported scheme http:/],
    [['serve', '--max-staleness', '1s'], {}, /--max-staleness: only applies with --poll-interval/],
    [['serve', '--poll-interval', 'soon'], {}, /--poll-interval.*"soon" is not a duration/],
    [['serve', '--targets-file', '/nonexistent/targets.yaml'], {}, /--targets-file: cannot read \/nonexistent\/targets.yaml/],
    [['serve', '--upstream', 'a=http://x/metrics', '--upstream', 'a=http://y/metrics'], {}, /--upstream: two targets are named "a"/],
    [['serve'], { VLLM_METRICS_URL: 'a=http://x/metrics,a=http://y/metrics' }, /--upstream: two targets are named "a"/],
    [['serve', '--push-url', 'pushgateway:9091'], {}, /--push-url: unsupported scheme pushgateway:/],
    [['nonsense'], {}, /unknown command 'nonsense'/],
  ];
  // A few at a time: all at once would starve the other test files running beside this one.
  const results: Awaited<ReturnType<typeof runCliAsync>>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runCliAsync(cases[i]![0], cases[i]![1]);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  cases.forEach(([args, env, expected], i) => {
    const r = results[i]!;
    const label = `${args.join(' ')} ${JSON.stringify(env)}`;
    t.equal(r.status, 2, `${label}: exit 2`);
    t.match(r.stderr, expected, label);
  });
});

t.test('a token given on the command line never reaches the logs', async (t) => {
  const sim = await startSimulator({ tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proc = spawnCli([
    'serve',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--upstream',
    `${sim.url.replace('//', '//ops:pa55word@')}/metrics`,
    '--log-level',
    'debug',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const listening = await proc.waitFor((l) => l.event === 'listening');
  await get(`${listening.url}/metrics`);
  await get(`${listening.url}/ready`);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
  const all = JSON.stringify(proc.lines);
  t.notMatch(all, /pa55word/);
  t.notMatch(all, /ops:/);
  t.match(String(listening.upstream), /\*\*\*@127\.0\.0\.1/);
});

t.test('SIGTERM: the in-flight scrape finishes whole, then the process exits 0', async (t) => {
  const expositionHead = '# HELP vllm:num_requests_running Running.\n# TYPE vllm:num_requests_running gauge\n';
  const expositionTail = 'vllm:num_requests_running{model_name="m",engine="0"} 3.0\n';
  let finish: () => void = () => {};
  const upstream = await rawServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.write(expositionHead);
    finish = () => res.end(expositionTail);
  });
  t.teardown(() => upstream.close());
  const proc = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', '--upstream', `${upstream.url}/metrics`]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const { url } = (await proc.waitFor((l) => l.event === 'listening')) as { url: string };

  const res = await request(`${url}/metrics`);
  t.equal(res.statusCode, 200, 'the scrape started');
  proc.child.kill('SIGTERM');
  await proc.waitFor((l) => l.event === 'shutdown');
  finish();
  const body = await res.body.text();
  t.equal(body, renameNames(expositionHead + expositionTail, underscore), 'the whole exposition arrived');
  t.equal(await proc.exited, 0, 'exit 0');
  t.ok(proc.lines.some((l) => l.event === 'stopped'));
  await t.rejects(request(`${url}/health`), 'no longer listening');
});

t.test('demo: simulator and proxy together, sanitized metrics on the printed URL', async (t) => {
  const proc = spawnCli(['demo', '--port', '0', '--sim-port', '0']);
  t.teardown(() => proc.child.kill('SIGKILL'));
  let printed = '';
  const url = await new Promise<string>((resolve) => {
    proc.child.stdout!.on('data', (d: Buffer) => {
      printed += d.toString();
      const m = /sanitized by the proxy:\s+(\S+)/.exec(printed);
      if (m) resolve(m[1]);
    });
  });
  const out = await get(url);
  t.equal(out.status, 200);
  t.match(out.body.toString(), /^vllm_num_requests_running\{model_name="[^"]+",engine="0"\} \d/m);
  t.notMatch(out.body.toString(), /^vllm:/m);
  proc.child.kill('SIGINT');
  t.equal(await proc.exited, 0);
});

t.test('serve with the relay and the direct push: both reach Parseable, credentials from the environment, never logged', async (t) => {
  const sim = await startSimulator({ tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn({ username: 'ingest', password: 'Pa55-never-logged' }).start();
  t.teardown(async () => {
    await parseable.stop();
    await sim.close();
  });
  const proc = spawnCli(
    ['serve', '--port', '0', '--host', '127.0.0.1', '--upstream', `${sim.url}/metrics`, '--otlp-push-interval', '1h', '--log-level', 'debug'],
    {
      OTLP_FORWARD_URL: `${parseable.url}/v1/metrics`,
      OTLP_PUSH_URL: `${parseable.url}/v1/metrics`,
      OTLP_USERNAME: 'ingest',
      OTLP_PASSWORD: 'Pa55-never-logged',
      OTLP_STREAM: 'cli_stream',
    },
  );
  t.teardown(() => proc.child.kill('SIGKILL'));
  const listening = await proc.waitFor((l) => l.event === 'listening');
  await proc.waitFor((l) => l.event === 'otlp_relay');
  const pushed = await eventually('direct push rows', async () =>
    parseable.rows('cli_stream').some((r) => r.metric_name === 'vllm_num_requests_running') ? true : undefined,
  );
  t.ok(pushed);
  const request = {
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'relay:probe', gauge: { dataPoints: [{ timeUnixNano: '1', asDouble: 1 }] } }] }] }],
  };
  const res = await fetch(`${listening.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: encodeProtobuf(request),
  });
  t.equal(res.status, 200);
  await eventually('relayed row', async () => (parseable.rows('cli_stream').some((r) => r.metric_name === 'relay_probe') ? true : undefined));
  t.ok(
    parseable.requests.every((r) => r.status === 200),
    'Parseable took every request',
  );
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
  t.notMatch(JSON.stringify(proc.lines), /Pa55-never-logged|UGE1NS1uZXZlci1sb2dnZWQ/);
});

t.test('fleet from the command line: named upstreams, a list in VLLM_METRICS_URL, aggregates; SIGHUP re-reads the targets file', async (t) => {
  const [a, b] = await Promise.all([
    startSimulator({ tickMs: 0, seed: 1 }, { host: '127.0.0.1', port: 0 }),
    startSimulator({ tickMs: 0, seed: 2, engines: 2 }, { host: '127.0.0.1', port: 0 }),
  ]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const proc = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', '--fleet-aggregates'], {
    VLLM_METRICS_URL: `gpu-a=${a.url}/metrics,gpu-b=${b.url}/metrics`,
  });
  t.teardown(() => proc.child.kill('SIGKILL'));
  const listening = await proc.waitFor((l) => l.event === 'listening');
  t.equal(listening.targets, 2);
  const text = (await get(`${listening.url}/metrics`)).body.toString();
  t.match(text, /^vllm_metrics_proxy_target_up\{instance="gpu-a"\} 1$/m);
  t.match(text, /^vllm_metrics_proxy_target_up\{instance="gpu-b"\} 1$/m);
  const running = a.sim.engines.concat(b.sim.engines).reduce((n, e) => n + e.running, 0);
  t.match(text, new RegExp(`^vllm_metrics_proxy_fleet_num_requests_running\\{model_name="[^"]+"\\} ${running}$`, 'm'), 'the fleet sum');
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);

  const dir = mkdtempSync(join(tmpdir(), 'vmp-cli-'));
  const file = join(dir, 'targets.json');
  writeFileSync(file, JSON.stringify([`gpu-a=${a.url}/metrics`]));
  const watched = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', '--targets-file', file]);
  t.teardown(() => watched.child.kill('SIGKILL'));
  await watched.waitFor((l) => l.event === 'listening');
  watched.child.kill('SIGHUP');
  await watched.waitFor((l) => l.event === 'sighup');
  const loaded = await watched.waitFor((l) => l.event === 'targets_file_loaded');
  t.equal(loaded.count, 1, 'SIGHUP re-reads the file and the process lives on');
  watched.child.kill('SIGTERM');
  t.equal(await watched.exited, 0);
});

t.test('push to a real Pushgateway from the command line; the group deleted on SIGTERM', async (t) => {
  const sim = await startSimulator({ tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const proc = spawnCli(
    ['serve', '--port', '0', '--host', '127.0.0.1', '--upstream', `${sim.url}/metrics`, '--push-job', 'bench', '--push-delete-on-shutdown'],
    { PUSHGATEWAY_URL: gw.url },
  );
  t.teardown(() => proc.child.kill('SIGKILL'));
  await proc.waitFor((l) => l.event === 'pushgateway_push');
  const instance = new URL(sim.url).host;
  const seen = await eventually('the pushed group', async () => {
    const text = await gw.metrics();
    return text.includes(`vllm_num_requests_running{engine="0",instance="${instance}",job="bench"`) ? text : undefined;
  });
  t.ok(seen);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
  // The gateway answers DELETE with 202 and applies it from its queue: wait for it, not for a sleep.
  t.ok(await eventually('the group deleted', async () => (/job="bench"/.test(await gw.metrics()) ? undefined : true)), 'deleted on shutdown');
});
