// HTTP load: wrk when installed (C, one thread, so the generator takes one
// core at most), else autocannon. Both report requests/s and p50/p99 in ms.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export const haveWrk = spawnSync('wrk', ['--version']).error === undefined;

export async function load(url, { seconds, connections }) {
  return haveWrk ? wrk(url, seconds, connections) : cannon(url, seconds, connections);
}

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

function wrk(url, seconds, connections) {
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const pick = (re) => {
    const m = re.exec(out);
    if (!m) throw new Error(`cannot read wrk output:\n${out}`);
    return m[1];
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = /Socket errors: (.*)/.exec(out);
  return {
    rps: Number(pick(/Requests\/sec:\s+([\d.]+)/)),
    p50: toMs(pick(/^\s+50%\s+(\S+)/m)),
    p99: toMs(pick(/^\s+99%\s+(\S+)/m)),
    errors: (non2xx ? Number(non2xx[1]) : 0) + (errors ? 1 : 0),
  };
}

async function cannon(url, seconds, connections) {
  const r = await autocannon({ url, duration: seconds, connections, pipelining: 1 });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

/**
 * `connections` loops of `once()` for `seconds`: iterations/s and p50/p99 ms of one
 * iteration. `once` resolves to false for a failed iteration (counted in errors).
 */
export async function loops(once, { seconds, connections }) {
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if ((await once()) === false) errors++;
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors };
}

/**
 * Sweeps: each is a set of URLs fetched at once and read to the end; `connections`
 * sweeps run concurrently for `seconds`. Reports sweeps/s and p50/p99 sweep
 * latency. Used to put one merged fleet scrape beside the direct fetches it
 * replaces, with the same (Node) load generator on both sides.
 */
export async function sweeps(urls, { seconds, connections }) {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connections: connections * urls.length, keepAliveTimeout: 60_000 });
  const sweep = async () => {
    const codes = await Promise.all(
      urls.map(async (u) => {
        const res = await request(u, { dispatcher });
        for await (const _ of res.body);
        return res.statusCode;
      }),
    );
    return codes.every((c) => c === 200);
  };
  const r = await loops(sweep, { seconds, connections });
  await dispatcher.close();
  return r;
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
export function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}
