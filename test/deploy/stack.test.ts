/**
 * The wiring of the files a user runs (compose.yml, fluent-bit.conf, parseable.env,
 * relay.env, Containerfile, parseable/queries.sql), checked statically and fast. Whether
 * they work is shown by running them: the real Fluent Bit with fluent-bit.conf
 * (test/otlp/fluent-bit.test.ts) and the whole stack under podman (test/stack/).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeName } from '../../src/exposition/sanitizer.js';
import { OTLP_METRICS_PATH } from '../../src/server/routes/otlp.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { confVariables } from '../helpers/fluent-bit.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const FLUENT_BIT_CONF_PATH = 'deploy/fluent-bit/fluent-bit.conf';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  env_file?: string | string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  pull_policy?: string;
  healthcheck?: { test: string[] };
  profiles?: string[];
}

const compose = parseYaml(read('compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;

/** Fluent Bit's classic format: `[SECTION]` headers, indented `Key value` entries, `#` comments. */
export function parseFluentBitClassic(text: string): Array<{ section: string; entries: Array<[string, string]> }> {
  const sections: Array<{ section: string; entries: Array<[string, string]> }> = [];
  let indent: string | undefined;
  text.split('\n').forEach((line, i) => {
    const where = `fluent-bit.conf line ${i + 1}`;
    if (/^\s*(#.*)?$/.test(line)) return;
    if (line.includes('\t')) throw new Error(`${where}: tabs are not allowed, indent with spaces`);
    const header = /^\[([A-Z_]+)\]\s*$/.exec(line);
    if (header) {
      if (!['SERVICE', 'INPUT', 'OUTPUT', 'FILTER', 'PARSER', 'MULTILINE_PARSER'].includes(header[1]!))
        throw new Error(`${where}: unknown section [${header[1]}]`);
      sections.push({ section: header[1]!, entries: [] });
      return;
    }
    if (/^@(INCLUDE|SET) \S/.test(line)) return;
    const entry = /^( +)([A-Za-z][A-Za-z0-9_.]*) +(\S.*?)\s*$/.exec(line);
    if (!entry) throw new Error(`${where}: expected "Key value" indented under a section: ${JSON.stringify(line)}`);
    if (sections.length === 0) throw new Error(`${where}: entry before any section`);
    indent ??= entry[1];
    if (entry[1] !== indent) throw new Error(`${where}: indentation differs from the first entry`);
    sections.at(-1)!.entries.push([entry[2]!, entry[3]!]);
  });
  for (const s of sections) {
    const keys = s.entries.map(([k]) => k.toLowerCase()).filter((k) => !['header', 'add_label'].includes(k));
    const dup = keys.find((k, i) => keys.indexOf(k) !== i);
    if (dup) throw new Error(`[${s.section}] sets ${dup} twice`);
    if ((s.section === 'INPUT' || s.section === 'OUTPUT') && !s.entries.some(([k]) => k.toLowerCase() === 'name'))
      throw new Error(`[${s.section}] has no Name`);
  }
  return sections;
}

const get = (s: { entries: Array<[string, string]> }, key: string) => s.entries.find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];

function envFile(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read(file).split('\n')) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`${file}: not KEY=value: ${line}`);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

t.test('compose.yml: services, pinned images, loopback ports, healthchecks without a shell, no start gate, demo profile', async (t) => {
  t.same(Object.keys(services).sort(), ['fluent-bit', 'parseable', 'parseable-setup', 'proxy', 'simulator']);
  const setup = services['parseable-setup']!;
  t.same(setup.command!.slice(0, 4), ['parseable', 'setup', '--parseable-url', 'http://parseable:8000'], 'the one-shot setup names Parseable by its service');
  t.ok(setup.command!.includes('--wait'), 'and waits for it to answer (no start gate)');
  t.equal(setup.env_file, 'parseable.env', "with Parseable's credentials");
  for (const [name, s] of Object.entries(services)) {
    if (s.build) {
      t.equal(s.build.dockerfile, 'Containerfile', `${name} builds from the Containerfile`);
      continue;
    }
    if (s.image === services.proxy!.image) {
      t.equal((s as { pull_policy?: string }).pull_policy, 'never', `${name} runs the image the proxy's build makes, never pulled`);
      continue;
    }
    t.match(s.image, /:v?\d+\.\d+\.\d+$/, `${name}: image pinned to a release tag`);
    t.notOk(
      s.depends_on && Object.values(s.depends_on).some((d) => d.condition === 'service_healthy'),
      `${name}: no healthy gate (waits forever without systemd)`,
    );
  }
  const p = services.parseable!;
  t.equal(p.image, 'quay.io/parseablehq/parseable:v2.9.5', 'Parseable from quay.io, where it publishes since v2.9.0');
  t.same(p.command, ['parseable', 'local-store'], 'Parseable in local-store mode');
  t.notOk(p.healthcheck, 'no healthcheck in a distroless image');
  const pEnv = envFile('parseable.env');
  const parseablePort = pEnv.get('P_ADDR')!.split(':')[1]!;
  t.same(p.ports, [`\${BIND_ADDRESS:-127.0.0.1}:\${PARSEABLE_PORT:-8080}:${parseablePort}`], 'Parseable on 127.0.0.1:8080 unless BIND_ADDRESS');
  t.ok(
    p.volumes!.some((v) => v.startsWith('parseable-data:') && compose.volumes['parseable-data'] !== undefined),
    'a named volume holds the data',
  );

  const proxy = services.proxy!;
  t.same(
    proxy.command!.slice(0, 3),
    ['serve', '--upstream', '${VLLM_METRICS_URL:-http://simulator:8000/metrics}'],
    'upstream from the environment, the demo simulator by default',
  );
  t.ok(proxy.command!.includes('--api'), "vLLM's API through the proxy");
  const requestLog = proxy.command![proxy.command!.indexOf('--request-log') + 1]!;
  t.ok(
    proxy.volumes!.some((v) => v === 'request-log:/var/log/vllm-metrics-proxy') && requestLog.startsWith('/var/log/vllm-metrics-proxy/'),
    'the request log on a shared volume',
  );
  const env = Object.fromEntries((proxy.environment as unknown as string[]).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  t.equal(env.OTLP_FORWARD_URL, `http://parseable:${parseablePort}${OTLP_METRICS_PATH}`, 'relay forwards to the parseable service');
  t.equal(env.OTLP_STREAM, 'vLLMmetrics');
  t.match(env.OTLP_PASSWORD, /^\$\{P_PASSWORD:\?P_PASSWORD is not set/, 'no default password: unset, compose stops with a message');
  t.same(proxy.ports, ['${BIND_ADDRESS:-127.0.0.1}:${PROXY_PORT:-9090}:9090']);
  t.same(proxy.healthcheck!.test, ['CMD', 'node', 'dist/cli.js', 'healthcheck'], 'plain words, no shell');
  for (const [name, s] of Object.entries(services)) {
    for (const e of (s.environment as unknown as string[] | undefined) ?? []) {
      const [key, value] = [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)];
      t.notMatch(value, new RegExp(`\\$\\{${key}[:?}-]`), `${name}: ${key} is not passed under its own name (podman-compose #1105)`);
    }
  }

  const fb = services['fluent-bit']!;
  t.same(fb.env_file, ['relay.env', 'parseable.env'], "Fluent Bit gets the relay token and Parseable's credentials");
  t.ok(fb.volumes!.includes('request-log:/var/log/vllm-metrics-proxy:ro'), 'Fluent Bit reads the request log');
  t.ok(
    fb.volumes!.some((v) => v.startsWith('fluent-bit-state:')),
    'its tail offsets outlive the container',
  );
  t.equal(proxy.env_file, 'relay.env', 'the proxy gets the same token');
  t.ok(
    fb.volumes!.some((v) => /^\.\/deploy\/fluent-bit\/fluent-bit\.conf:\/fluent-bit\/etc\/fluent-bit\.conf:ro/.test(v)),
    'the one fluent-bit.conf mounted read-only',
  );
  const fbEnv = new Map(((fb.environment as unknown as string[] | undefined) ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  t.same(
    Object.fromEntries(fbEnv),
    {
      PROXY_HOST: 'proxy',
      PROXY_PORT: '9090',
      RELAY_HOST: 'proxy',
      RELAY_PORT: '9090',
      PARSEABLE_HOST: 'parseable',
      PARSEABLE_PORT: '8000',
      PARSEABLE_TLS: 'Off',
    },
    "fluent-bit.conf's addresses: compose's service names and container ports",
  );
  const secretVars = ['OTLP_RELAY_TOKEN', 'P_USERNAME', 'P_PASSWORD'];
  t.same(
    confVariables().filter((v) => !fbEnv.has(v)),
    secretVars,
    'every other ${VAR} of fluent-bit.conf comes from relay.env and parseable.env',
  );
  for (const v of secretVars) t.ok(envFile('relay.env').has(v) || envFile('parseable.env').has(v), `${v} is in an env_file`);

  const sim = services.simulator!;
  t.same(sim.profiles, ['demo']);
  t.equal(sim.command![0], 'simulate');
  t.equal(sim.command![sim.command!.indexOf('--port') + 1], '8000', 'simulator listens where the proxy looks by default');
  t.same(sim.healthcheck!.test, ['CMD', 'node', 'dist/cli.js', 'healthcheck', '--url', 'http://127.0.0.1:8000/metrics']);
});

t.test('fluent-bit.conf: classic syntax, scrapes the proxy every 2 s, sends to the relay route', async (t) => {
  const sections = parseFluentBitClassic(read(FLUENT_BIT_CONF_PATH));
  const input = sections.find((s) => s.section === 'INPUT')!;
  const output = sections.find((s) => s.section === 'OUTPUT')!;
  t.equal(get(input, 'Name'), 'prometheus_scrape');
  t.equal(get(input, 'Host'), '${PROXY_HOST}', 'from the environment (compose: the service name)');
  t.equal(get(input, 'Port'), '${PROXY_PORT}');
  t.equal(services.proxy!.ports![0]!.split(':').at(-1), '9090', "compose's PROXY_PORT is the proxy's container port");
  t.equal(get(input, 'Metrics_Path'), '/metrics');
  t.equal(get(input, 'Scrape_Interval'), '2s');
  t.equal(get(output, 'Name'), 'opentelemetry');
  t.equal(get(output, 'Match'), get(input, 'Tag'), 'the output takes what the input scrapes');
  t.equal(get(output, 'Host'), '${RELAY_HOST}');
  t.equal(get(output, 'Port'), '${RELAY_PORT}');
  t.equal(get(output, 'Metrics_uri'), OTLP_METRICS_PATH, "the relay's route");
  t.ok(output.entries.some(([k, v]) => k === 'Header' && v === 'X-P-Stream vLLMmetrics'));
  t.ok(
    output.entries.some(([k, v]) => k === 'Header' && v === 'Authorization Bearer ${OTLP_RELAY_TOKEN}'),
    'the relay token from the environment',
  );
  t.equal(get(output, 'Compress'), 'gzip', 'the relay takes gzip');
});

t.test('the classic-syntax checker catches what Fluent Bit rejects', async (t) => {
  t.throws(() => parseFluentBitClassic('[INPUT]\n    Name dummy\n   Tag x\n'), /indentation differs/);
  t.throws(() => parseFluentBitClassic('[INPUT]\n\tName dummy\n'), /tabs/);
  t.throws(() => parseFluentBitClassic('Name dummy\n'), /expected "Key value"/);
  t.throws(() => parseFluentBitClassic('[INPUTS]\n    Name dummy\n'), /unknown section/);
  t.throws(() => parseFluentBitClassic('[OUTPUT]\n    Match *\n'), /no Name/);
  t.throws(() => parseFluentBitClassic('[INPUT]\n    Name a\n    name b\n'), /sets name twice/);
});

t.test('parseable.env and relay.env: credentials and token from the environment, no default password', async (t) => {
  const env = envFile('parseable.env');
  t.equal(env.get('P_USERNAME'), '${P_USERNAME:-admin}');
  t.equal(env.get('P_PASSWORD'), '${P_PASSWORD}', 'no default');
  t.equal(envFile('relay.env').get('OTLP_RELAY_TOKEN'), '${OTLP_RELAY_TOKEN:-}');
  t.equal(services.parseable!.env_file, 'parseable.env');
});

t.test('Containerfile: multi-stage, current LTS, build tools in the build stage only, pruned deps copied, non-root, healthcheck, port', async (t) => {
  const lines = read('Containerfile')
    .split('\n')
    .filter((l) => !/^\s*(#.*)?$/.test(l));
  const froms = lines.filter((l) => l.startsWith('FROM '));
  t.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) t.match(f, /node:(2[4-9]|[3-9]\d)-/, 'an LTS line of Node (even major, 24 or later)');
  const runtime = lines.slice(lines.lastIndexOf(froms.at(-1)!));
  const build = lines.slice(0, lines.lastIndexOf(froms.at(-1)!));
  t.ok(
    build.some((l) => /python3 make g\+\+/.test(l)),
    'node-gyp can build better-sqlite3',
  );
  t.ok(
    build.some((l) => /npm prune --omit=dev/.test(l)),
    'dev dependencies pruned in the build stage',
  );
  t.ok(
    runtime.some((l) => /COPY --from=build \/src\/node_modules/.test(l)),
    'the runtime copies the pruned node_modules',
  );
  t.notOk(
    runtime.some((l) => /\bnpm (ci|install)\b|apt-get/.test(l)),
    'no install in the runtime stage',
  );
  const user = runtime.filter((l) => l.startsWith('USER ')).at(-1);
  t.ok(user && !/USER (root|0)\b/.test(user), `runs as ${user}`);
  t.ok(
    runtime.some((l) => /CMD \["node", "dist\/cli\.js", "healthcheck"\]/.test(l)),
    'healthcheck in plain words',
  );
  t.ok(runtime.includes('EXPOSE 9090'));
});

const NEWER_VLLM_NAMES = new Set(['vllm_inter_token_latency_seconds']);

t.test('parseable/queries.sql: named queries on the vLLMmetrics stream, on names and columns that exist', async (t) => {
  const text = read('parseable/queries.sql');
  const blocks = text.split(/^-- name: /m).slice(1);
  t.ok(blocks.length >= 5, `${blocks.length} queries`);
  const sim = new Simulator({ tickMs: 0, engines: 2 }, 1_760_000_000);
  const names = new Set(
    parseExposition(sim.exposition('text'), 'prometheus').flatMap((f) =>
      f.type === 'histogram' ? [sanitizeName(f.name)] : f.samples.map((s) => sanitizeName(s.name)),
    ),
  );
  const labels = new Set(parseExposition(sim.exposition('text'), 'prometheus').flatMap((f) => f.samples.flatMap((s) => Object.keys(s.labels))));
  const columns = [
    'data_point_value',
    'data_point_sum',
    'data_point_count',
    'data_point_bucket_counts',
    'data_point_explicit_bounds',
    'metric_name',
    'p_timestamp',
  ];
  const covered = new Set<string>();
  for (const block of blocks) {
    const name = block.split('\n')[0]!.trim();
    t.match(block, /FROM "vLLMmetrics"/, `${name}: reads the stream`);
    for (const m of block.matchAll(/'(vllm_[a-z0-9_]+)'/g)) {
      // A name of newer vLLM (0.11+) beside its older one, which the simulator serves.
      if (NEWER_VLLM_NAMES.has(m[1]!)) continue;
      t.ok(names.has(m[1]!), `${name}: ${m[1]} is a metric the proxy ships`);
      covered.add(m[1]!);
    }
    for (const label of ['model_name', 'engine', 'finished_reason']) if (block.includes(label)) t.ok(labels.has(label), `${name}: ${label} is a label`);
    t.ok(
      columns.some((c) => block.includes(c)),
      `${name}: uses Parseable's data point columns`,
    );
  }
  for (const signal of [
    'vllm_kv_cache_usage_perc',
    'vllm_num_requests_running',
    'vllm_num_requests_waiting',
    'vllm_time_to_first_token_seconds',
    'vllm_e2e_request_latency_seconds',
    'vllm_generation_tokens_total',
  ]) {
    t.ok(covered.has(signal), `a query covers ${signal}`);
  }
});
