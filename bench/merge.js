// The fleet merge alone, in this process: TextMerge.add of every target's body as it would
// arrive, then renderBytes, for the fleet shapes of bench/run.js. Prints JSON: merged MB per
// CPU second (process.cpuUsage, so GC threads count) and CPU ms per merge. What the proxy
// spends beside it (fetching N bodies) is the end-to-end figure of the fleet section.
import { TextMerge } from '../dist/fleet/text-merge.js';
import { Simulator } from '../dist/simulator/simulator.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const shapes = [
  { targets: 16, engines: 8 },
  { targets: 256, engines: 1 },
];
const out = [];
for (const { targets, engines } of shapes) {
  const text = new Simulator({ engines, tickMs: 0 }, 1_760_000_000).exposition('text');
  // One Buffer per target, as each fetch gives its own.
  const bodies = Array.from({ length: targets }, () => Buffer.from(text));
  let bytes = 0;
  const once = () => {
    const m = new TextMerge({ label: 'instance' });
    for (let i = 0; i < targets; i++) m.add(`gpu-${i}`, bodies[i]);
    // (render() on a build from before renderBytes, to compare with one.)
    bytes = m.renderBytes ? m.renderBytes().length : Buffer.byteLength(m.render());
    // Its memory to the next merge, as the proxy does (a build from before the arena has no release()).
    m.release?.();
  };
  for (let i = 0; i < 10; i++) once();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    once();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  out.push({ targets, engines, mergedBytes: bytes, merges: n, cpuMsPerMerge: (cpuSeconds * 1000) / n, mbPerCpuSecond: (bytes * n) / 1e6 / cpuSeconds });
}
process.stdout.write(JSON.stringify(out));
