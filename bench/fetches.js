// The fetches a merged scrape makes, alone, in this process: every target of a fleet shape
// fetched at once per round, each with its own keep-alive pool as the proxy has, by undici's
// request() reading the whole body (what a plain undici client pays) and by the proxy's own
// fetchText (dispatch() into one Buffer; deadline, bounds, UTF-8 and content checks). Prints
// JSON: CPU ms per round and µs per fetch (process.cpuUsage, so GC threads count). With
// bench/merge.js, it splits the fleet section's end-to-end figure into its two parts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { Simulator } from '../dist/simulator/simulator.js';
import { fetchText } from '../dist/upstream/scrape.js';
import { Upstream } from '../dist/upstream/upstream.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const shapes = [
  { targets: 16, engines: 8 },
  { targets: 256, engines: 1 },
];

async function cpuPerRound(fetchAll) {
  for (let i = 0; i < 10; i++) await fetchAll();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rounds = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    await fetchAll();
    rounds++;
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / rounds;
}

const out = [];
for (const { targets, engines } of shapes) {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-fetches-'));
  const file = join(dir, 'target.prom');
  const body = new Simulator({ engines, tickMs: 0 }, 1_760_000_000).exposition('text');
  writeFileSync(file, body);
  const servers = spawn(process.execPath, [join(here, 'servers.js'), 'static', file, Simulator.contentType('text'), String(targets)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [first] = await once(createInterface({ input: servers.stdout }), 'line');
  const urls = JSON.parse(first).urls.map((u) => `${u}/metrics`);
  const agents = urls.map(() => new Agent({ keepAliveTimeout: 30_000 }));
  const undiciMs = await cpuPerRound(() => Promise.all(urls.map(async (url, i) => (await request(url, { dispatcher: agents[i] })).body.arrayBuffer())));
  const upstreams = urls.map((url) => new Upstream({ url, timeoutMs: 10_000, maxBodyBytes: 64 * 1024 * 1024 }));
  const proxyMs = await cpuPerRound(() => Promise.all(upstreams.map((u) => fetchText(u))));
  await Promise.all([...agents.map((a) => a.close()), ...upstreams.map((u) => u.close())]);
  servers.kill();
  rmSync(dir, { recursive: true, force: true });
  out.push({
    targets,
    engines,
    bytesPerTarget: body.length,
    undiciMsPerRound: undiciMs,
    proxyMsPerRound: proxyMs,
    undiciUsPerFetch: (undiciMs * 1000) / targets,
    proxyUsPerFetch: (proxyMs * 1000) / targets,
  });
}
process.stdout.write(JSON.stringify(out));
