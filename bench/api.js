// The API passthrough against vLLM direct (the simulator's API), streaming chat requests at 1 and
// 64 concurrent clients, in interleaved rounds. The proxy records every request into a request log
// and takes the server-side /metrics snapshots, as in production. Requests/s and p50 latency of a
// whole streamed answer; the targets: added p50 under 1 ms, throughput at least 0.9x direct.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { cpuOf, loops } from './load.js';

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** `clients` loops of streamed chat requests for `seconds`: requests/s and p50/p99 ms of a whole answer. */
async function streamLoad(base, model, { seconds, clients }) {
  const dispatcher = new Agent({ connections: clients, keepAliveTimeout: 60_000 });
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Say something for the benchmark.' }], max_tokens: 16, stream: true });
  const once = async () => {
    const res = await request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher });
    for await (const _ of res.body);
    return res.statusCode === 200;
  };
  const r = await loops(once, { seconds, connections: clients });
  await dispatcher.close();
  return r;
}

export async function apiRun({ child, cli, seconds, rounds, servers }) {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-api-'));
  // No simulated load, and a fast decode (16 tokens in ~8 ms) so the proxy's share is visible.
  const sim = await child(
    [
      cli,
      'simulate',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--rate',
      '0',
      '--frozen',
      '--engines',
      '2',
      '--decode-tps',
      '2000',
      '--max-num-seqs',
      '1024',
      '--log-level',
      'info',
    ],
    (l) => l.event === 'listening' && l.url,
  );
  const serve = (...extra) =>
    child(
      [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--upstream', `${sim.url}/metrics`, '--api', '--log-level', 'info', ...extra],
      (l) => l.event === 'listening' && l.url,
    );
  const proxy = await serve('--request-log', join(dir, 'requests.jsonl'));
  // The same without the server-side view: what the two /metrics reads around each request cost.
  const noView = await serve('--request-log', join(dir, 'requests-no-view.jsonl'), '--no-request-server-view');
  // The baseline: reply-from relaying the same API untouched (bench/servers.js api-noop).
  const noop = await child([servers, 'api-noop', sim.url]);
  const models = JSON.parse(await (await request(`${sim.url}/v1/models`)).body.text());
  const model = models.data[0].id;
  const out = [];
  for (const clients of [1, 64]) {
    const runs = { direct: [], proxy: [], noView: [], noop: [] };
    // CPU seconds per request of the process in the middle (none for direct).
    const cpu = { proxy: [], noView: [], noop: [] };
    const modes = [
      ['direct', sim.url],
      ['proxy', proxy.url, proxy.pid],
      ['noView', noView.url, noView.pid],
      ['noop', noop.url, noop.pid],
    ];
    for (const [, base] of modes) await streamLoad(base, model, { seconds: 1, clients }); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [mode, base, pid] of modes) {
        const cpu0 = pid ? cpuOf(pid) : 0;
        const r = await streamLoad(base, model, { seconds, clients });
        if (r.errors) throw new Error(`API ${mode} at ${clients} clients: ${r.errors} errors`);
        runs[mode].push(r);
        if (pid) cpu[mode].push((cpuOf(pid) - cpu0) / (r.rps * seconds));
      }
    }
    const m = (mode) => ({ rps: median(runs[mode].map((r) => r.rps)), p50: median(runs[mode].map((r) => r.p50)), p99: median(runs[mode].map((r) => r.p99)) });
    out.push({
      clients,
      direct: m('direct'),
      proxy: m('proxy'),
      noView: m('noView'),
      ratio: median(runs.proxy.map((r, i) => r.rps / runs.direct[i].rps)),
      addedP50Ms: median(runs.proxy.map((r, i) => r.p50 - runs.direct[i].p50)),
      ratioNoView: median(runs.noView.map((r, i) => r.rps / runs.direct[i].rps)),
      addedP50MsNoView: median(runs.noView.map((r, i) => r.p50 - runs.direct[i].p50)),
      noop: m('noop'),
      ratioNoop: median(runs.noop.map((r, i) => r.rps / runs.direct[i].rps)),
      addedP50MsNoop: median(runs.noop.map((r, i) => r.p50 - runs.direct[i].p50)),
      // The proxy's own cost, apart from the machine's: its CPU per request over the baseline's.
      cpuUsPerRequest: { proxy: median(cpu.proxy) * 1e6, noView: median(cpu.noView) * 1e6, noop: median(cpu.noop) * 1e6 },
      cpuVsNoop: median(cpu.proxy.map((c, i) => c / cpu.noop[i])),
      cpuVsNoopNoView: median(cpu.noView.map((c, i) => c / cpu.noop[i])),
    });
  }
  proxy.stop();
  noView.stop();
  noop.stop();
  sim.stop();
  rmSync(dir, { recursive: true, force: true });
  return out;
}
