import { request } from 'undici';
import t from 'tap';
import { renameNames, underscore } from './helpers/oracle.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { get, rawServer } from './helpers/net.js';
import { startSimulator } from '../src/simulator/start.js';

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
    [['nonsense'], {}, /unknown command 'nonsense'/],
  ];
  for (const [args, env, expected] of cases) {
    const r = runCli(args, env);
    const label = `${args.join(' ')} ${JSON.stringify(env)}`;
    t.equal(r.status, 2, `${label}: exit 2`);
    t.match(r.stderr, expected, label);
  }
});

t.test('a token given on the command line never reaches the logs', async (t) => {
  const sim = await startSimulator({ tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proc = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', '--upstream', `${sim.url.replace('//', '//ops:pa55word@')}/metrics`, '--log-level', 'debug']);
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
