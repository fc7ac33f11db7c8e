/**
 * Every reader of names on every server it may face: SGLang's own capture (test/fixtures/
 * captures), and the simulator speaking vLLM 0.6 (V0), vLLM 0.9 (both spellings), the latest
 * vLLM and SGLang. Saturation (the proxy's window and PromQL through a real Prometheus), the
 * fleet aggregates, the report and the server view each give what a reference computed here,
 * by a plain line scan of the servers' own answers, gives.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PrometheusClient } from '../../src/saturation/prometheus-client.js';
import { PrometheusSaturation } from '../../src/saturation/prometheus-source.js';
import type { SaturationReport } from '../../src/saturation/report.js';
import type { DialectId } from '../../src/simulator/dialects.js';
import { writeReport } from '../../src/report/report-file.js';
import { totalsByModel } from '../../src/requests/server-view.js';
import { runCliAsync } from '../helpers/cli.js';
import { fleetProxy, simulators } from '../helpers/fleet.js';
import { captureLog, get, rawServer } from '../helpers/net.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const CAPTURE = readFileSync(new URL('../fixtures/captures/sglang-production-metrics.txt', import.meta.url), 'utf8');

/** The values of the samples named exactly `name` (colons as written), by a plain line scan. */
function values(text: string, name: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    out.push(Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** What each dialect calls the three gauges saturation and the fleet read. */
const GAUGES: Record<DialectId, { running: string; waiting: string; kv: string }> = {
  'vllm-0.6': { running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kv: 'vllm:gpu_cache_usage_perc' },
  'vllm-0.9': { running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kv: 'vllm:kv_cache_usage_perc' },
  'vllm-latest': { running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kv: 'vllm:kv_cache_usage_perc' },
  sglang: { running: 'sglang:num_running_reqs', waiting: 'sglang:num_queue_reqs', kv: 'sglang:token_usage' },
};
const DIALECTS = Object.keys(GAUGES) as DialectId[];

async function captureServer() {
  const server = await rawServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(CAPTURE);
  });
  return server;
}

t.test("SGLang's own capture through the proxy: sanitized byte for byte, and saturation reads it", async (t) => {
  const upstream = await captureServer();
  t.teardown(() => upstream.close());
  const proxy = await testProxy({ url: `${upstream.url}/metrics` }, { saturation: { windowMs: 10_000, intervalMs: 1000 } });
  t.teardown(() => proxy.close());
  const out = (await get(`${proxy.url}/metrics`)).body.toString();
  // The reference rewrite: every `sglang:` in this capture begins a metric name.
  const sat = out.indexOf('# HELP vllm_metrics_proxy_saturation');
  t.equal(sat === -1 ? out : out.slice(0, sat), CAPTURE.replaceAll('sglang:', 'sglang_'), 'names rewritten, nothing else touched');
  const report = await eventually('a saturation report', async () => {
    const r = JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport;
    return r.targets[0]?.signals.kv_cache_usage.status === 'ok' ? r : undefined;
  });
  const s = report.targets[0]!.signals;
  t.equal(s.kv_cache_usage.value, values(CAPTURE, 'sglang:token_usage')[0], 'KV-cache usage: sglang:token_usage');
  t.equal(s.requests_running.value, values(CAPTURE, 'sglang:num_running_reqs')[0], 'running: sglang:num_running_reqs');
  t.equal(s.requests_waiting.value, values(CAPTURE, 'sglang:num_queue_reqs')[0], 'waiting: sglang:num_queue_reqs');
  t.equal(report.models[0]!.model, 'meta-llama/Llama-3.1-8B-Instruct');
  // The server view's TTFT and e2e histograms, from SGLang's names.
  const totals = totalsByModel(CAPTURE).get('meta-llama/Llama-3.1-8B-Instruct')!;
  t.same(totals.ttft, {
    sum: values(CAPTURE, 'sglang:time_to_first_token_seconds_sum')[0],
    count: values(CAPTURE, 'sglang:time_to_first_token_seconds_count')[0],
  });
  t.same(totals.e2e, {
    sum: values(CAPTURE, 'sglang:e2e_request_latency_seconds_sum')[0],
    count: values(CAPTURE, 'sglang:e2e_request_latency_seconds_count')[0],
  });
  t.same(totals.queue, { sum: 0, count: 0 }, 'SGLang has no queue-time histogram');
});

t.test('a mixed fleet (the capture, vLLM 0.6, 0.9, latest, SGLang): the aggregates add up every spelling, each series once', async (t) => {
  const sims = await simulators(DIALECTS.map((dialect) => ({ dialect, engines: dialect === 'vllm-0.6' ? 1 : 2 })));
  t.teardown(() => Promise.all(sims.map((s) => s.close())));
  const capture = await captureServer();
  t.teardown(() => capture.close());
  const proxy = await fleetProxy({
    static: [...sims.map((s, i) => ({ name: DIALECTS[i]!, url: `${s.url}/metrics` })), { name: 'capture', url: `${capture.url}/metrics` }],
    aggregateWindowMs: 60_000,
  });
  t.teardown(() => proxy.close());
  const bodies = await Promise.all(sims.map(async (s) => (await get(`${s.url}/metrics`)).body.toString()));
  const merged = (await get(`${proxy.url}/metrics`)).body.toString();
  const fleet = (name: string, model: string) => values(merged, `vllm_metrics_proxy_fleet_${name}{model_name="${model}"}`)[0];
  const model = 'meta-llama/Llama-3.1-8B-Instruct';
  const running = sum(DIALECTS.map((d, i) => sum(values(bodies[i]!, GAUGES[d].running)))) + values(CAPTURE, 'sglang:num_running_reqs')[0]!;
  const waiting = sum(DIALECTS.map((d, i) => sum(values(bodies[i]!, GAUGES[d].waiting)))) + values(CAPTURE, 'sglang:num_queue_reqs')[0]!;
  const kv = Math.max(...DIALECTS.flatMap((d, i) => values(bodies[i]!, GAUGES[d].kv)), values(CAPTURE, 'sglang:token_usage')[0]!);
  t.equal(fleet('num_requests_running', model), running, 'running: the sum over every target, whatever it calls it');
  t.equal(fleet('num_requests_waiting', model), waiting);
  t.equal(fleet('kv_cache_usage_perc_max', model), kv, 'KV-cache: the busiest engine of any target');
  // vLLM 0.9 serves kv_cache_usage_perc and gpu_cache_usage_perc with the same labels: counted once.
  const v09 = bodies[DIALECTS.indexOf('vllm-0.9')]!;
  t.same(values(v09, 'vllm:gpu_cache_usage_perc'), values(v09, 'vllm:kv_cache_usage_perc'), '(vLLM 0.9 serves both)');
});

t.test('saturation from Prometheus (PromQL on the names as each server writes them)', async (t) => {
  const sims = await simulators(DIALECTS.map((dialect) => ({ dialect, engines: dialect === 'vllm-0.6' ? 1 : 2 })));
  t.teardown(() => Promise.all(sims.map((s) => s.close())));
  const prom = await startPrometheus(sims.map((s, i) => ({ job: DIALECTS[i]!, target: new URL(s.url).host })));
  t.teardown(() => prom.close());
  const log = captureLog('warn');
  const source = new PrometheusSaturation({
    client: new PrometheusClient({ url: prom.url, timeoutMs: 5_000 }),
    windowMs: 30_000,
    targetLabel: 'instance',
    cacheTtlMs: 0,
    maxStalenessMs: 120_000,
    log: log.log,
  });
  t.teardown(() => source.close());
  const report = await eventually(
    'every server in the report',
    async () => {
      await source.refresh();
      const r = await source.report();
      return sims.every((s) => r.targets.some((x) => x.target === new URL(s.url).host && x.signals.kv_cache_usage.status === 'ok')) ? r : undefined;
    },
    30_000,
    500,
  );
  for (const [i, d] of DIALECTS.entries()) {
    const body = (await get(`${sims[i]!.url}/metrics`)).body.toString();
    const row = report.targets.find((x) => x.target === new URL(sims[i]!.url).host)!;
    t.equal(row.signals.kv_cache_usage.value, Math.max(...values(body, GAUGES[d].kv)), `${d}: KV-cache usage from ${GAUGES[d].kv}`);
    t.equal(row.signals.requests_running.value, sum(values(body, GAUGES[d].running)), `${d}: running from ${GAUGES[d].running}`);
    t.equal(row.signals.requests_waiting.value, sum(values(body, GAUGES[d].waiting)), `${d}: waiting`);
  }
});

t.test("the report on a run collected from SGLang's capture: its peaks are the capture's values", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-names-capture-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = await captureServer();
  t.teardown(() => upstream.close());
  const file = join(dir, 'capture.jsonl');
  const c = await runCliAsync(['collect', '--upstream', `${upstream.url}/metrics`, '--interval', '200ms', '--duration', '700ms', '--output', file]);
  t.equal(c.status, 0, c.stderr);
  const r = await writeReport(file, { output: join(dir, 'capture.html') });
  const summary = new Map(r.runs[0]!.summary.map((l) => [l.label, l.value]));
  t.equal(summary.get('Peak running'), values(CAPTURE, 'sglang:num_running_reqs')[0]);
  t.equal(summary.get('Peak waiting'), values(CAPTURE, 'sglang:num_queue_reqs')[0]);
  t.equal(summary.get('Peak KV-cache usage'), 100 * values(CAPTURE, 'sglang:token_usage')[0]!);
  t.same(
    ['queue', 'kv'].filter((id) => !r.runs[0]!.found.get(id)),
    [],
    'the gauge charts found their SGLang families',
  );
  t.equal(r.runs[0]!.found.get('itl'), 'sglang_time_per_output_token_seconds', "older SGLang's inter-token histogram");
});

t.test('the report on a run collected from each server: every chart it can draw has data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-names-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const expected: Record<DialectId, string[]> = {
    'vllm-0.6': ['tokens', 'requests', 'queue', 'kv', 'ttft', 'e2e', 'itl'],
    'vllm-0.9': ['tokens', 'requests', 'queue', 'kv', 'ttft', 'e2e', 'itl'],
    'vllm-latest': ['tokens', 'requests', 'queue', 'kv', 'ttft', 'e2e', 'itl'],
    sglang: ['tokens', 'requests', 'queue', 'kv', 'ttft', 'e2e', 'itl'],
  };
  for (const d of DIALECTS) {
    const [sim] = await simulators([{ dialect: d, tickMs: 100, rate: 20 }]);
    const file = join(dir, `${d}.jsonl`);
    const c = await runCliAsync(['collect', '--upstream', `${sim!.url}/metrics`, '--interval', '200ms', '--duration', '1500ms', '--output', file]);
    await sim!.close();
    t.equal(c.status, 0, `${d}: collected (${c.stderr.trim()})`);
    const r = await runCliAsync(['report', file, '--output', join(dir, `${d}.html`)]);
    t.equal(r.status, 0, `${d}: report written`);
    const line = JSON.parse(
      r.stdout
        .trim()
        .split('\n')
        .find((l) => l.includes('report_written'))!,
    ) as { chartsWithoutData: string[] };
    t.same(
      line.chartsWithoutData.filter((id) => expected[d].includes(id)),
      [],
      `${d}: no chart left empty (${line.chartsWithoutData.join(', ') || 'none'})`,
    );
  }
});
