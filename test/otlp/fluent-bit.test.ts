/**
 * The Fluent Bit path as it runs in compose, with the real Fluent Bit 5.1.1:
 * simulator -> proxy /metrics -> Fluent Bit (the project's fluent-bit.conf) ->
 * relay -> strict Parseable stand-in. Every assertion is on what reaches the
 * stand-in, so it holds however the relay is written.
 */
import t, { type Test } from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { projectQueries, QUERY_FILES } from '../../src/parseable/queries.js';
import type { MetricFamily } from '../../src/exposition/model.js';
import type { RunningSimulator } from '../../src/simulator/start.js';
import { fleetProxy, selfMetric, simulators } from '../helpers/fleet.js';
import { startFluentBit } from '../helpers/fluent-bit.js';
import { get } from '../helpers/net.js';
import { ParseableStandIn, type Row } from '../helpers/parseable.js';
import { relayConfig } from '../helpers/relay.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

export const ROW_FIELDS = new Set([
  'metric_name',
  'metric_description',
  'metric_unit',
  'metric_type',
  'aggregation_temporality',
  'is_monotonic',
  'start_time_unix_nano',
  'time_unix_nano',
]);

/** A row's series: its name and every column that is a label or a resource attribute. */
export function seriesOf(r: Row): string {
  const labels = Object.entries(r)
    .filter(([k]) => !ROW_FIELDS.has(k) && !k.startsWith('data_point_'))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `${String(r.metric_name)}${JSON.stringify(labels)}`;
}

/** Waits until Fluent Bit delivered `deliveries` scrapes, and returns the rows of the last one. */
export async function deliveredScrape(parseable: ParseableStandIn, deliveries = 2, stream = 'vLLMmetrics'): Promise<Row[]> {
  return eventually(
    `${deliveries} deliveries from Fluent Bit`,
    async () => {
      const refused = parseable.requests.find((r) => r.status !== 200);
      if (refused) throw new Error(`the stand-in refused a request: ${refused.status} ${refused.answer}`);
      const accepted = parseable.requests.filter((r) => r.status === 200 && r.headers['x-p-stream'] === stream);
      if (accepted.length < deliveries) return undefined;
      // One scrape is one request from Fluent Bit: the rows of the last one.
      const rows = parseable.rows(stream);
      const lastTime = rows.at(-1)!.time_unix_nano;
      return rows.filter((r) => r.time_unix_nano === lastTime);
    },
    30_000,
    100,
  );
}

/** Cumulative `_bucket` values per series (labels without `le`), as the proxy serves them. */
function bucketsOf(families: MetricFamily[], label = ''): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const f of families) {
    if (f.type !== 'histogram') continue;
    for (const s of f.samples) {
      if (!s.name.endsWith('_bucket')) continue;
      const { le: _le, ...rest } = s.labels;
      const key = `${f.name}${JSON.stringify(
        Object.entries(rest)
          .filter(([k]) => k !== label)
          .sort(),
      )}`;
      const list = out.get(key) ?? [];
      list.push(s.value);
      out.set(key, list);
    }
  }
  return out;
}

/** `_created` times (ms) per owner series, from the classic format's `_created` gauges. */
function createdOf(families: MetricFamily[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of families) {
    if (!f.name.endsWith('_created')) continue;
    const base = f.name.slice(0, -'_created'.length);
    for (const s of f.samples) out.set(`${base}${JSON.stringify(Object.entries(s.labels).sort())}`, s.value * 1000);
  }
  return out;
}

const labelsOf = (r: Row, resourceKeys: Set<string>) =>
  Object.entries(r)
    .filter(([k]) => !ROW_FIELDS.has(k) && !k.startsWith('data_point_') && !resourceKeys.has(k))
    .sort();

const RESOURCE_KEYS = new Set([
  'service.name',
  'service.instance.id',
  'server.address',
  'server.port',
  'url.full',
  'vllm.model_name',
  'deployment.environment',
]);

/** The real Fluent Bit scraping `proxy` (fluent-bit.conf), and everything stopped after the test. */
async function withFluentBit(t: Test, parts: { proxies: TestProxy[]; parseable: ParseableStandIn; sims: RunningSimulator[]; env?: Record<string, string> }) {
  const fb = await startFluentBit({ proxy: new URL(parts.proxies[0]!.url).host, env: parts.env });
  t.teardown(async () => {
    await fb.stop();
    await Promise.all(parts.proxies.map((p) => p.close()));
    await parts.parseable.stop();
    await Promise.all(parts.sims.map((s) => s.close()));
  });
}

async function checkDelivery(t: Test, proxy: TestProxy, parseable: ParseableStandIn, sims: RunningSimulator[], fleet: boolean) {
  const rows = await deliveredScrape(parseable, 2);
  const exposition = (await get(`${proxy.url}/metrics`)).body.toString();
  const families = parseExposition(exposition, 'prometheus');
  const buckets = bucketsOf(families);
  const created = createdOf(families);

  const histograms = rows.filter((r) => r.metric_type === 'histogram');
  t.ok(histograms.length >= 14 * sims.length, `${histograms.length} histogram points arrived`);
  let bad = 0;
  for (const r of histograms) {
    const counts = r.data_point_bucket_counts as number[];
    const sum = counts.reduce((a, b) => a + b, 0);
    if (sum !== r.data_point_count) bad++;
    let running = 0;
    const cumulated = counts.map((c) => (running += c));
    const key = `${String(r.metric_name)}${JSON.stringify(labelsOf(r, RESOURCE_KEYS))}`;
    t.same(cumulated, buckets.get(key), `${key}: cumulated buckets equal the proxy's _bucket lines`);
  }
  t.equal(bad, 0, "every histogram's buckets add up to its count");

  t.same(
    rows.filter((r) => String(r.metric_name).endsWith('_created')).map((r) => r.metric_name),
    [],
    'no _created metric arrives',
  );

  const cumulative = rows.filter((r) => (r.metric_type === 'sum' && r.is_monotonic) || r.metric_type === 'histogram');
  t.ok(cumulative.length > 20);
  t.same(
    cumulative.filter((r) => r.start_time_unix_nano === '0').map((r) => r.metric_name),
    [],
    'every counter and histogram point has a start time',
  );
  let fromCreated = 0;
  for (const r of cumulative) {
    const name = String(r.metric_name);
    const base = r.metric_type === 'sum' ? name.replace(/_total$/, '') : name;
    const ms = created.get(`${base}${JSON.stringify(labelsOf(r, RESOURCE_KEYS))}`);
    if (ms === undefined) continue;
    fromCreated++;
    t.equal(Math.round(Number(BigInt(String(r.start_time_unix_nano)) / 1_000_000n)), Math.round(ms), `${name}: start time is its _created`);
  }
  t.ok(fromCreated > 20, `${fromCreated} start times come from _created`);

  t.ok(
    rows.every((r) => r['service.name'] === 'vllm'),
    'the resource carries service.name',
  );
  if (!fleet) {
    const port = new URL(sims[0]!.url).port;
    t.ok(
      rows.every((r) => r['server.address'] === '127.0.0.1' && String(r['server.port']) === port),
      "the resource carries the vLLM's address",
    );
  } else {
    const vllmRows = rows.filter((r) => String(r.metric_name).startsWith('vllm_') && r.instance !== undefined);
    t.ok(vllmRows.length > 0);
    t.ok(
      vllmRows.every((r) => r['service.instance.id'] === r.instance),
      "each vLLM row's resource names its target",
    );
    t.same([...new Set(vllmRows.map((r) => r['service.instance.id']))].sort(), ['gpu-a', 'gpu-b']);
  }
  t.ok(
    rows.every((r) => r['deployment.environment'] === 'test'),
    '--otlp-resource on every resource',
  );
  t.ok((await selfMetric(proxy, 'vllm_metrics_proxy_otlp_repaired_points_total', 'reason="cumulative_buckets"')) >= histograms.length, 'repairs are counted');
  t.equal(proxy.logs.lines().filter((l) => l.event === 'otlp_repair_cumulative_buckets').length, 1, 'the repair is logged once');
}

t.test('real Fluent Bit, one vLLM: histograms per bucket, _created folded, start times, a resource that names the vLLM', async (t) => {
  const sims = await simulators([{ engines: 2 }]);
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sims[0]!.url}/metrics` }, { otlp: relayConfig(parseable, { resource: { 'deployment.environment': 'test' } }) });
  await withFluentBit(t, { proxies: [proxy], parseable, sims });
  await checkDelivery(t, proxy, parseable, sims, false);
});

t.test('real Fluent Bit, a fleet of two, relay token set: the same, with each target in its own resource', async (t) => {
  const sims = await simulators([{ engines: 2 }, { engines: 1 }]);
  const parseable = await new ParseableStandIn().start();
  const proxy = await fleetProxy(
    {
      static: [
        { name: 'gpu-a', url: `${sims[0]!.url}/metrics` },
        { name: 'gpu-b', url: `${sims[1]!.url}/metrics` },
      ],
    },
    { otlp: relayConfig(parseable, { resource: { 'deployment.environment': 'test' }, relayToken: 'fleet-relay-token' }) },
  );
  // With a relay token: fluent-bit.conf sends it from Fluent Bit's environment.
  await withFluentBit(t, { proxies: [proxy], parseable, sims, env: { OTLP_RELAY_TOKEN: 'fleet-relay-token' } });
  await checkDelivery(t, proxy, parseable, sims, true);
});

t.test('both paths, one result: Fluent Bit through the relay and the direct push give Parseable the same rows', async (t) => {
  const sims = await simulators([{ engines: 2 }]);
  const parseable = await new ParseableStandIn().start();
  const upstream = { url: `${sims[0]!.url}/metrics` };
  const relayed = await testProxy(upstream, { otlp: relayConfig(parseable) });
  const pushed = await testProxy(upstream, {
    otlp: relayConfig(parseable, {
      forwardUrl: undefined,
      pushUrl: `${parseable.url}/v1/metrics`,
      pushIntervalMs: 500,
      destination: { ...relayConfig(parseable).destination, stream: 'pushed' },
    }),
  });
  await withFluentBit(t, { proxies: [relayed, pushed], parseable, sims });
  const viaFluentBit = await deliveredScrape(parseable, 2);
  const viaPush = await eventually('two pushes', async () => {
    const rows = parseable.rows('pushed');
    const times = [...new Set(rows.map((r) => r.time_unix_nano))];
    return times.length >= 2 ? rows.filter((r) => r.time_unix_nano === times.at(-1)) : undefined;
  });

  // The one documented difference: the JS SDK has no summary, so the push sends a summary as a
  // quantile gauge and two sums (docs/otlp.md); Fluent Bit sends an OTLP summary.
  const summaries = parseExposition((await get(`${relayed.url}/metrics`)).body.toString(), 'prometheus')
    .filter((f) => f.type === 'summary')
    .map((f) => f.name);
  t.ok(summaries.length > 0, 'the exposition has a summary to leave out');
  const comparable = (rows: Row[]) => rows.filter((r) => !summaries.some((s) => String(r.metric_name) === s || String(r.metric_name).startsWith(`${s}_`)));
  const view = (r: Row) => {
    const cumulative = r.metric_type === 'histogram' || (r.metric_type === 'sum' && r.is_monotonic);
    const { time_unix_nano: _t, start_time_unix_nano, ...rest } = r;
    // A gauge has no start. A cumulative vLLM series takes it from its `_created` on both paths, so it is
    // equal; a series without `_created` (python_gc_*, http_*) starts when each proxy first saw it.
    const start = !cumulative ? undefined : String(r.metric_name).startsWith('vllm_') ? start_time_unix_nano : start_time_unix_nano !== '0';
    return { ...rest, start_time_unix_nano: start };
  };
  const a = new Map(comparable(viaFluentBit).map((r) => [seriesOf(r), view(r)]));
  const b = new Map(comparable(viaPush).map((r) => [seriesOf(r), view(r)]));
  t.same([...a.keys()].sort(), [...b.keys()].sort(), 'the same series, with the same labels and resource attributes');
  let compared = 0;
  for (const [key, row] of a) {
    t.same(row, b.get(key), key);
    compared++;
  }
  t.ok(compared > 60, `${compared} rows compared`);
});

/**
 * Parseable queries with DataFusion, which has no JavaScript binding; DuckDB runs the same SQL
 * here, with DataFusion's two functions it lacks (array_element, date_bin) defined as macros over
 * its own. The rows are what the real Fluent Bit delivered through the relay.
 */
async function duckdbWithRows(rows: Row[]) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run('CREATE MACRO array_element(a, i) AS a[i]');
  await c.run('CREATE MACRO date_bin(stride, ts, origin) AS time_bucket(stride, ts, origin)');
  await c.run(`CREATE TABLE "vLLMmetrics" (p_timestamp TIMESTAMP, metric_name VARCHAR, model_name VARCHAR, engine VARCHAR, finished_reason VARCHAR,
    data_point_value DOUBLE, data_point_sum DOUBLE, data_point_count BIGINT, data_point_bucket_counts BIGINT[], data_point_explicit_bounds DOUBLE[])`);
  const insert = await c.prepare(
    "INSERT INTO \"vLLMmetrics\" VALUES (now()::TIMESTAMP, $1, $2, $3, $4, $5, $6, $7, string_split($8, ',')::BIGINT[], string_split($9, ',')::DOUBLE[])",
  );
  for (const r of rows) {
    const str = (v: unknown) => (v === undefined ? null : String(v));
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    insert.bind([
      String(r.metric_name),
      str(r.model_name),
      str(r.engine),
      str(r.finished_reason),
      num(r.data_point_value),
      num(r.data_point_sum),
      num(r.data_point_count),
      Array.isArray(r.data_point_bucket_counts) ? r.data_point_bucket_counts.join(',') : null,
      Array.isArray(r.data_point_explicit_bounds) ? r.data_point_explicit_bounds.join(',') : null,
    ] as never);
    await insert.run();
  }
  return c;
}

t.test("parseable/queries.sql on the rows Fluent Bit delivered: every query runs, and p50/p90/p99 match the proxy's own buckets", async (t) => {
  const sims = await simulators([{ engines: 3 }]);
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sims[0]!.url}/metrics` }, { otlp: relayConfig(parseable) });
  await withFluentBit(t, { proxies: [proxy], parseable, sims });
  const rows = await deliveredScrape(parseable, 1);
  const c = await duckdbWithRows(rows);
  const blocks = new Map(projectQueries(QUERY_FILES.slice(0, 1)).map((q) => [q.name, q.sql]));
  for (const [name, query] of blocks) {
    const result = await c.runAndReadAll(query);
    t.ok(result.getRowObjects().length > 0, `${name} runs and answers`);
  }

  // The proxy's own answer: buckets summed over engines (histogram_quantile(q, sum by (le))), the
  // upper bound of the bucket where the rank falls, as the query documents; null in +Inf.
  const families = parseExposition((await get(`${proxy.url}/metrics`)).body.toString(), 'prometheus');
  const expected = new Map<string, Record<string, number | null>>();
  for (const metric of ['vllm_time_to_first_token_seconds', 'vllm_e2e_request_latency_seconds']) {
    const f = families.find((x) => x.name === metric)!;
    const byLe = new Map<number, number>();
    for (const s of f.samples.filter((x) => x.name.endsWith('_bucket'))) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    }
    const les = [...byLe.keys()].sort((a, b) => a - b);
    const total = byLe.get(Infinity)!;
    const quantile = (q: number) => {
      const le = les.find((x) => byLe.get(x)! >= q * total)!;
      return le === Infinity ? null : le;
    };
    expected.set(metric, { p50_seconds: quantile(0.5), p90_seconds: quantile(0.9), p99_seconds: quantile(0.99) });
  }
  const answer = (await c.runAndReadAll(blocks.get('latency_percentiles')!)).getRowObjects();
  t.equal(answer.length, 2, 'one row per metric for the one model');
  for (const row of answer) {
    const want = expected.get(String(row.metric_name))!;
    t.same({ p50_seconds: row.p50_seconds, p90_seconds: row.p90_seconds, p99_seconds: row.p99_seconds }, want, `${row.metric_name}: p50, p90, p99`);
  }
  t.ok(
    [...expected.values()].some((q) => q.p50_seconds !== q.p99_seconds),
    'the quantiles differ, so the check can tell them apart',
  );
});

t.test('--keep vllm:* through the real Fluent Bit: the rows of one scrape, before and after, and every vLLM row kept', async (t) => {
  for (const engines of [1, 8]) {
    const perScrape: number[] = [];
    const names: Array<Set<string>> = [];
    for (const families of [undefined, { keep: ['vllm:*'], drop: [] }]) {
      await t.test(`${engines} engine(s), ${families ? '--keep vllm:*' : 'everything'}`, async (t) => {
        const sims = await simulators([{ engines }]);
        const parseable = await new ParseableStandIn().start();
        const proxy = await testProxy({ url: `${sims[0]!.url}/metrics`, families }, { otlp: relayConfig(parseable) });
        await withFluentBit(t, { proxies: [proxy], parseable, sims });
        const rows = await deliveredScrape(parseable, 2);
        perScrape.push(rows.length);
        names.push(new Set(rows.map((r) => String(r.metric_name))));
      });
    }
    const [all, kept] = names as [Set<string>, Set<string>];
    t.same(
      [...kept].filter((n) => !n.startsWith('vllm_')),
      [],
      `${engines} engine(s): only vLLM's rows`,
    );
    t.same(
      [...all].filter((n) => n.startsWith('vllm_') && !kept.has(n)),
      [],
      `${engines} engine(s): every vLLM metric still there`,
    );
    t.ok(perScrape[1]! < perScrape[0]!, `${engines} engine(s): ${perScrape[0]} rows per scrape, ${perScrape[1]} with --keep 'vllm:*'`);
    // At Fluent Bit's 2 s: 43,200 scrapes a day.
    t.comment(`${engines} engine(s): ${perScrape[0]! * 43_200} rows a day, ${perScrape[1]! * 43_200} with --keep 'vllm:*'`);
  }
});

t.test('--otlp-names genai and --names canonical through the real Fluent Bit: a vLLM 0.6 arrives under the current and the GenAI names', async (t) => {
  const sims = await simulators([{ dialect: 'vllm-0.6' }]);
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sims[0]!.url}/metrics`, names: 'canonical' }, { otlp: { ...relayConfig(parseable), names: 'genai' } });
  await withFluentBit(t, { proxies: [proxy], parseable, sims });
  const rows = await deliveredScrape(parseable, 2);
  const names = new Set(rows.map((r) => String(r.metric_name)));
  for (const n of ['gen_ai.server.time_to_first_token', 'gen_ai.server.request.duration', 'vllm_kv_cache_usage_perc', 'vllm_inter_token_latency_seconds'])
    t.ok(names.has(n), `${n} in Parseable`);
  for (const n of ['vllm_time_to_first_token_seconds', 'vllm_e2e_request_latency_seconds', 'vllm_gpu_cache_usage_perc', 'vllm_time_per_output_token_seconds'])
    t.notOk(names.has(n), `no ${n}`);
  const ttft = rows.filter((r) => r.metric_name === 'gen_ai.server.time_to_first_token');
  t.ok(ttft.length > 0);
  for (const r of ttft) {
    t.equal(r['gen_ai.request.model'], 'meta-llama/Llama-3.1-8B-Instruct', 'gen_ai.request.model from model_name');
    t.equal(r['gen_ai.provider.name'], 'vllm');
    t.equal(r.metric_unit, 's');
    t.ok(Array.isArray(r.data_point_bucket_counts), 'still a histogram, per bucket');
  }
  // The histogram's numbers are vLLM's, whatever its name.
  const served = parseExposition((await get(`${sims[0]!.url}/metrics`)).body.toString(), 'prometheus').find(
    (f) => f.name === 'vllm:time_to_first_token_seconds',
  )!;
  const count = served.samples.find((s) => s.name.endsWith('_count'))!.value;
  t.ok(
    ttft.every((r) => Number(r.data_point_count) <= count),
    'counts up to the server’s own',
  );
});
