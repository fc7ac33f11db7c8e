/**
 * The compose commands of the README and docs/stack.md, run for real under podman and podman-compose on a
 * fresh copy of the repository (the project's files unmodified), with the stand-in
 * images of ../shared/stack-images and the Parseable stand-in image
 * (test/stack/parseable-image.sh). `npm run test:stack`; needs root and podman
 * (.ci/podman-setup.sh installs them).
 *
 * Podman runs healthchecks from systemd timers, and there is no systemd here: a
 * loop plays its part with `podman healthcheck run`, as docs/stack.md says to.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import t from 'tap';
import { request } from 'undici';
import { projectQueries } from '../../src/parseable/queries.js';
import { startSimulator } from '../../src/simulator/start.js';
import { REPO } from '../helpers/fluent-bit.js';
import type { Row } from '../helpers/parseable.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);
const PROJECT = 'vllm-metrics';
const PASSWORD = `stack-${process.pid}-pw`;
const TOKEN = `relay-${process.pid}-token`;

/** A fresh copy: the files git tracks, and new ones it does not ignore, as in the working tree. */
async function copyRepo(dir: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      cpSync(join(REPO, file), join(dir, file));
    } catch (err) {
      // A file deleted in the working tree but still in the index.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The user's environment for compose: nothing of ours, only what a user would export. */
function userEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'XDG_RUNTIME_DIR']) if (process.env[k]) env[k] = process.env[k];
  return { ...env, ...vars };
}

async function compose(cwd: string, args: string[], vars: Record<string, string>, timeoutMs = 900_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman-compose', args, { cwd, env: userEnv(vars), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

interface Container {
  name: string;
  state: string;
  health: string;
  restarts: number;
}

async function containers(): Promise<Container[]> {
  const { stdout } = await run('podman', ['ps', '-a', '--filter', `label=io.podman.compose.project=${PROJECT}`, '--format', '{{.Names}}']);
  const names = stdout.split('\n').filter(Boolean);
  if (names.length === 0) return [];
  const { stdout: inspected } = await run('podman', ['inspect', ...names]);
  return (
    JSON.parse(inspected) as Array<{
      Name: string;
      State: { Status: string; Health?: { Status: string }; Healthcheck?: { Status: string } };
      RestartCount: number;
    }>
  ).map((c) => ({
    name: c.Name,
    state: c.State.Status,
    health: c.State.Health?.Status ?? c.State.Healthcheck?.Status ?? '',
    restarts: c.RestartCount,
  }));
}

/** systemd's part: run every container's healthcheck every few seconds. */
function healthcheckLoop(): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const list = await containers().catch(() => []);
      await Promise.all(
        list.filter((c) => c.state === 'running' && c.health !== '').map((c) => run('podman', ['healthcheck', 'run', c.name]).catch(() => undefined)),
      );
      await delay(3_000);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function standIn(path: string): Promise<unknown> {
  const res = await request(`http://127.0.0.1:8080${path}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`stand-in ${path}: ${res.statusCode} ${text}`);
  return JSON.parse(text);
}

const rows = (stream = 'vLLMmetrics') => standIn(`/standin/rows/${stream}`) as Promise<Row[]>;

async function refusedRequests(): Promise<string[]> {
  const list = (await standIn('/standin/requests')) as Array<{ status: number; answer: string }>;
  return list.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.answer}`);
}

async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  for (const c of await containers()) out.push(`container ${c.name}`);
  const { stdout: nets } = await run('podman', ['network', 'ls', '--format', '{{.Name}}']);
  out.push(
    ...nets
      .split('\n')
      .filter((n) => n.startsWith(`${PROJECT}_`))
      .map((n) => `network ${n}`),
  );
  const { stdout: vols } = await run('podman', ['volume', 'ls', '--format', '{{.Name}}']);
  out.push(
    ...vols
      .split('\n')
      .filter((v) => v.startsWith(`${PROJECT}_`))
      .map((v) => `volume ${v}`),
  );
  const { stdout: pods } = await run('podman', ['pod', 'ls', '--format', '{{.Name}}']);
  out.push(
    ...pods
      .split('\n')
      .filter((p) => p === `pod_${PROJECT}`)
      .map((p) => `pod ${p}`),
  );
  return out;
}

async function publishedOn(container: string): Promise<string[]> {
  const { stdout } = await run('podman', ['port', container]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' -> ')[1]!);
}

/** One chat completion through the proxy's published port: its status and vLLM's response id. */
async function chatThroughProxy(model: string, content: string, maxTokens: number): Promise<{ status: number; id: string }> {
  const res = await request('http://127.0.0.1:9090/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: maxTokens }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, id: res.statusCode === 200 ? (JSON.parse(text) as { id: string }).id : '' };
}

const scrapeTimes = (list: Row[]) =>
  [...new Set(list.filter((r) => r.metric_name === 'vllm_num_requests_running').map((r) => BigInt(String(r.time_unix_nano))))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );

t.before(async () => {
  await run('bash', [join(REPO, 'test/stack/parseable-image.sh')], { maxBuffer: 16 * 1024 * 1024 });
  // Whatever an earlier run left behind (a killed test) would fail the "nothing left" checks.
  if ((await leftovers()).length > 0)
    throw new Error(`a ${PROJECT} stack is already there: ${(await leftovers()).join(', ')}; run podman-compose down -v first`);
});

/** Where the fresh copy goes (made by the first test). */
const dir = mkdtempSync(join(tmpdir(), 'vmp-stack-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('without P_PASSWORD, exposed with BIND_ADDRESS=0.0.0.0, `up` stops with a message saying what to set, and starts nothing', async (t) => {
  await copyRepo(dir);
  const r = await compose(dir, ['--profile', 'demo', 'up', '-d'], { BIND_ADDRESS: '0.0.0.0' });
  t.not(r.code, 0, 'exit status');
  t.match(r.output, /P_PASSWORD is not set\. Export P_PASSWORD/, 'the message names the variable');
  t.same(await containers(), [], 'no container was created');
});

t.test('the demo stack: podman compose --profile demo up -d --build, as the README runs it', async (t) => {
  const vars = { P_PASSWORD: PASSWORD, OTLP_RELAY_TOKEN: TOKEN };
  const stopHealthchecks = healthcheckLoop();
  t.teardown(async () => {
    await stopHealthchecks();
    const down = await compose(dir, ['--profile', 'demo', 'down', '-v'], vars);
    if (down.code !== 0) t.fail(`down -v failed: ${down.output.slice(-2000)}`);
  });
  const up = await compose(dir, ['--profile', 'demo', 'up', '-d', '--build'], vars);
  t.equal(up.code, 0, 'up -d --build succeeds');
  if (up.code !== 0) t.comment(up.output.slice(-4000));

  const exposition = await eventually(
    'the proxy on host port 9090',
    async () => {
      const res = await request('http://127.0.0.1:9090/metrics');
      const text = await res.body.text();
      return res.statusCode === 200 && text.includes('vllm_') ? text : undefined;
    },
    120_000,
    500,
  );
  t.ok(/^vllm_num_requests_running\{/m.test(exposition), 'vllm_ names');
  t.notOk(/^vllm:/m.test(exposition), 'no colon names');
  t.same(await publishedOn(`${PROJECT}_proxy_1`), ['127.0.0.1:9090'], 'the proxy is published on 127.0.0.1 only');
  t.same(await publishedOn(`${PROJECT}_parseable_1`), ['127.0.0.1:8080'], 'Parseable is published on 127.0.0.1 only');

  const delivered = await eventually(
    'gauges, counters and histograms in vLLMmetrics',
    async () => {
      const list = await rows();
      const types = new Set(list.filter((r) => String(r.metric_name).startsWith('vllm_')).map((r) => `${r.metric_type}`));
      return types.has('gauge') && types.has('sum') && types.has('histogram') ? list : undefined;
    },
    120_000,
    1_000,
  );
  t.same(await refusedRequests(), [], 'nothing is refused');
  const histograms = delivered.filter((r) => r.metric_type === 'histogram');
  t.ok(histograms.length > 0);
  t.ok(
    histograms.every((r) => (r.data_point_bucket_counts as number[]).reduce((a, b) => a + b, 0) === r.data_point_count),
    "every histogram's buckets add up to its count (the relay repaired Fluent Bit's)",
  );
  t.notOk(
    delivered.some((r) => String(r.metric_name).endsWith('_created')),
    'no _created metric',
  );
  t.ok(
    delivered.every((r) => r['service.name'] === 'vllm'),
    'the resource names the service',
  );
  t.ok(
    delivered.filter((r) => r.metric_type === 'sum').every((r) => r.start_time_unix_nano !== '0'),
    'counters have start times',
  );

  // vLLM's API through the proxy's port: each request becomes a record in vLLMrequests (Fluent Bit tails the log).
  const models = JSON.parse(await (await request('http://127.0.0.1:9090/v1/models')).body.text()) as { data: Array<{ id: string }> };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await chatThroughProxy(models.data[0]!.id, `stack request ${i}`, 5);
    t.equal(res.status, 200, `API request ${i} through the proxy`);
    ids.push(res.id);
  }
  const records = await eventually(
    'the request records in vLLMrequests',
    async () => {
      const list = (await rows('vLLMrequests')).filter((r) => ids.includes(String(r.id)));
      return list.length === ids.length ? list : undefined;
    },
    60_000,
    1_000,
  );
  t.ok(
    records.every((r) => r.status === 200 && r.tokens_source === 'usage' && r.endpoint === '/v1/chat/completions'),
    'one record per request, with its usage',
  );

  // Saturation (--saturation in compose.yml): on /saturation, and its gauges carried to Parseable by Fluent Bit.
  const saturation = await eventually(
    'saturation signals on /saturation',
    async () => {
      const r = JSON.parse(await (await request('http://127.0.0.1:9090/saturation')).body.text()) as {
        status: string;
        models: Array<{ model: string; signals: Record<string, { status: string }> }>;
      };
      return r.models.some((m) => m.signals.finished_requests_per_second?.status === 'ok') ? r : undefined;
    },
    60_000,
    1_000,
  );
  t.equal(saturation.status, 'ok');
  t.ok(
    saturation.models.some((m) => m.model === models.data[0]!.id),
    'per model',
  );
  await eventually(
    'saturation gauges in vLLMmetrics',
    async () => ((await rows()).some((r) => r.metric_name === 'vllm_metrics_proxy_saturation_fleet_kv_cache_usage') ? true : undefined),
    60_000,
    1_000,
  );
  t.pass('the saturation gauges reached Parseable through Fluent Bit and the relay');

  // A few healthcheck rounds later: nothing unhealthy, nothing restarted.
  await eventually(
    'healthy proxy and simulator',
    async () => {
      const list = await containers();
      return list.filter((c) => c.health === 'healthy').length >= 2 ? list : undefined;
    },
    60_000,
    1_000,
  );
  // The one-shot setup: done, the saved queries and the retention in Parseable, with no step of the user's.
  await eventually(
    'parseable setup done',
    async () => ((await containers()).find((c) => c.name === `${PROJECT}_parseable-setup_1`)?.state === 'exited' ? true : undefined),
    120_000,
    1_000,
  );
  const { stdout: setupExit } = await run('podman', ['inspect', `${PROJECT}_parseable-setup_1`, '--format', '{{.State.ExitCode}}']);
  t.equal(setupExit.trim(), '0', 'parseable setup exited 0');
  const saved = (await standIn('/api/v1/filters')) as Array<{ filter_name: string }>;
  t.equal(saved.length, projectQueries().length, `the ${projectQueries().length} saved queries are in Parseable`);
  for (const stream of ['vLLMmetrics', 'vLLMrequests'])
    t.match(await standIn(`/api/v1/logstream/${stream}/retention`), [{ action: 'delete', duration: '7d' }], `${stream} is kept 7 days`);
  const boards = (await standIn('/api/v1/dashboards')) as Array<{ title: string; dashboardId: string }>;
  t.same(
    boards.map((b) => b.title),
    ['vLLM'],
    'the dashboard is there',
  );
  t.ok(((await standIn(`/api/v1/dashboards/${boards[0]!.dashboardId}`)) as { tiles: unknown[] }).tiles.length > 0, 'with its tiles');
  for (const c of (await containers()).filter((x) => x.name !== `${PROJECT}_parseable-setup_1`)) {
    t.equal(c.state, 'running', `${c.name} running`);
    t.not(c.health, 'unhealthy', `${c.name} not unhealthy`);
    t.equal(c.restarts, 0, `${c.name} never restarted`);
  }

  // Parseable away for over a minute, as an operator saw it: the proxy restarted in the middle
  // of it (as an upgrade does: SIGTERM, then a new process), Fluent Bit killed and started again
  // (as a crash does), API requests before and during it. Afterwards every scrape Fluent Bit made
  // is in vLLMmetrics, counted by scrape time (all but the seconds the proxy or Fluent Bit itself
  // was down, when there was nothing to scrape or nobody scraping), and every request record
  // once in vLLMrequests.
  const nowNs = () => BigInt(Date.now()) * 1_000_000n;
  const before = scrapeTimes(await rows());
  const outageIds: string[] = [];
  const chat = async (i: number) => {
    const res = await chatThroughProxy(models.data[0]!.id, `outage request ${i}`, 3);
    t.equal(res.status, 200, `API request ${i} during the outage`);
    outageIds.push(res.id);
  };
  await run('podman', ['stop', `${PROJECT}_parseable_1`]);
  const stoppedAt = nowNs();
  for (let i = 0; i < 10; i++) await chat(i);
  await delay(10_000); // the outage goes on: Fluent Bit scrapes, the relay spools
  const proxyDown = nowNs();
  await run('podman', ['restart', '--time', '20', `${PROJECT}_proxy_1`]);
  await eventually(
    'the proxy back after its restart',
    async () => ((await request('http://127.0.0.1:9090/proxy/health')).statusCode === 200 ? true : undefined),
    60_000,
    200,
  );
  const proxyUp = nowNs();
  for (let i = 10; i < 20; i++) await chat(i);
  // Fluent Bit has read every record into its chunks: its tail offset has reached the end of the log.
  const volume = async (name: string) => (await run('podman', ['volume', 'inspect', `${PROJECT}_${name}`, '--format', '{{.Mountpoint}}'])).stdout.trim();
  const logFile = join(await volume('request-log'), 'requests.jsonl');
  const offsets = join(await volume('fluent-bit-state'), 'requests.db');
  await eventually(
    "Fluent Bit's tail at the end of the request log",
    async () => {
      const db = new Database(offsets, { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT offset FROM in_tail_files WHERE name LIKE '%requests.jsonl' ORDER BY id DESC LIMIT 1").get() as
          { offset: number } | undefined;
        return row && row.offset === statSync(logFile).size ? true : undefined;
      } finally {
        db.close();
      }
    },
    30_000,
    200,
  );
  const fluentBitDown = nowNs();
  await run('podman', ['kill', `${PROJECT}_fluent-bit_1`]);
  await run('podman', ['start', `${PROJECT}_fluent-bit_1`]);
  const fluentBitUp = nowNs();
  const elapsedMs = Number((nowNs() - stoppedAt) / 1_000_000n);
  await delay(Math.max(0, 65_000 - elapsedMs)); // the outage lasts at least a minute in all
  await run('podman', ['start', `${PROJECT}_parseable_1`]);
  const restartedAt = nowNs();
  // Should Parseable (or anything) not come back, say what the containers did.
  t.teardown(async () => {
    if (t.passing()) return;
    t.comment(JSON.stringify(await containers()));
    for (const name of ['parseable', 'proxy', 'fluent-bit']) {
      const logs = await run('podman', ['logs', '--tail', '15', `${PROJECT}_${name}_1`]).catch((e: { stdout?: string; stderr?: string }) => e);
      t.comment(`${name}: ${String(logs.stdout ?? '').slice(-3000)} ${String(logs.stderr ?? '').slice(-3000)}`);
    }
  });

  const outageRecords = await eventually(
    'every request record of the outage in vLLMrequests',
    async () => {
      const list = (await rows('vLLMrequests')).filter((r) => outageIds.includes(String(r.id)));
      return new Set(list.map((r) => r.id)).size === outageIds.length ? list : undefined;
    },
    180_000,
    1_000,
  );
  t.equal(outageRecords.length, outageIds.length, `all ${outageIds.length} records, each once`);
  // Delivered: the relay's queue empty (after an outage the newest batches go first and the
  // backlog drains behind them, so a late scrape in Parseable does not mean the early ones are).
  const queued = async () => {
    const text = await (await request('http://127.0.0.1:9090/proxy/metrics')).body.text();
    return Number(/^vllm_metrics_proxy_otlp_queue_batches (\S+)$/m.exec(text)?.[1] ?? NaN);
  };
  const after = await eventually(
    'the scrapes of the outage delivered',
    async () => {
      if ((await queued()) !== 0) return undefined;
      const times = scrapeTimes(await rows());
      return times.some((x) => x > restartedAt + 4_000_000_000n) ? times : undefined;
    },
    180_000,
    1_000,
  );
  t.ok(after.length > before.length, 'rows from before the outage are kept (the stand-in keeps its data, as Parseable does)');
  const window = after.filter((x) => x >= stoppedAt - 2_000_000_000n && x <= restartedAt + 2_000_000_000n);
  t.ok(window.length >= 20, `${window.length} scrapes taken during the outage arrived`);
  // The only holes allowed: while the proxy restarted (nothing to scrape) and while Fluent Bit
  // was down (nobody scraping), each with a scrape interval of slack on both sides.
  const SLACK = 4_500_000_000n;
  const excused = (a: bigint, b: bigint) =>
    [
      [proxyDown, proxyUp],
      [fluentBitDown, fluentBitUp],
    ].some(([from, to]) => a <= to! + SLACK && b >= from! - SLACK);
  const holes: string[] = [];
  for (let i = 1; i < window.length; i++) {
    const [a, b] = [window[i - 1]!, window[i]!];
    if (b - a > SLACK && !excused(a, b)) holes.push(`${Number((a - stoppedAt) / 1_000_000n)}..${Number((b - stoppedAt) / 1_000_000n)} ms`);
  }
  t.same(holes, [], 'no scrape missing outside the restarts (Fluent Bit scrapes every 2 s)');
  t.same(await refusedRequests(), [], 'nothing refused after the restart');
});

t.test('`down -v` leaves no container, network or volume', async (t) => {
  t.same(await leftovers(), []);
});

t.test('with a vLLM outside compose (VLLM_METRICS_URL), exposed with BIND_ADDRESS=0.0.0.0 and a password: data arrives, ports on all addresses', async (t) => {
  const sim = await startSimulator({ tickMs: 1000, engines: 1 }, { host: '0.0.0.0', port: 0 });
  const port = new URL(sim.url).port;
  const vars = { P_PASSWORD: PASSWORD, OTLP_RELAY_TOKEN: TOKEN, BIND_ADDRESS: '0.0.0.0', VLLM_METRICS_URL: `http://host.containers.internal:${port}/metrics` };
  t.teardown(async () => {
    const down = await compose(dir, ['down', '-v'], vars);
    if (down.code !== 0) t.fail(`down -v failed: ${down.output.slice(-2000)}`);
    await sim.close();
  });
  const up = await compose(dir, ['up', '-d'], vars);
  t.equal(up.code, 0, 'up -d succeeds');
  if (up.code !== 0) t.comment(up.output.slice(-4000));
  t.same(
    (await containers()).map((c) => c.name).sort(),
    [`${PROJECT}_fluent-bit_1`, `${PROJECT}_parseable-setup_1`, `${PROJECT}_parseable_1`, `${PROJECT}_proxy_1`],
    'no simulator without the demo profile (the one-shot setup runs in both)',
  );
  t.same(await publishedOn(`${PROJECT}_proxy_1`), ['0.0.0.0:9090'], 'the proxy on all addresses');
  t.same(await publishedOn(`${PROJECT}_parseable_1`), ['0.0.0.0:8080'], 'Parseable on all addresses');
  const list = await eventually(
    "the outside vLLM's metrics in vLLMmetrics",
    async () => {
      const r = (await rows()).filter((x) => x.metric_name === 'vllm_num_requests_running');
      return r.length > 0 ? r : undefined;
    },
    120_000,
    1_000,
  );
  t.equal(list[0]!['server.address'], 'host.containers.internal', 'the resource names that vLLM');
  t.equal(String(list[0]!['server.port']), port);
  t.same(await refusedRequests(), []);
});

t.test('`down -v` again leaves nothing', async (t) => {
  t.same(await leftovers(), []);
});
