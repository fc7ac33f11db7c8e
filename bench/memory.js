// Run with --expose-gc (bench/run.js does): the memory the fleet path holds per
// 100k series during one merged scrape (the targets' bodies and the merge's
// pieces) and after it (the rendered answer, which poll mode keeps). The JS heap
// and ArrayBuffers together: bodies, pieces and the answer live outside the heap.
import { TextMerge } from '../dist/fleet/text-merge.js';
import { Simulator } from '../dist/simulator/simulator.js';

const TARGETS = 16;
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const base = heap();
// As fetched: one Buffer per target.
let texts = Array.from({ length: TARGETS }, (_, i) =>
  Buffer.from(new Simulator({ engines: 8, models: 4, tickMs: 0, seed: i + 1 }, 1_760_000_000).exposition('text')),
);
const withTexts = heap();
let merge = new TextMerge({ label: 'instance' });
texts.forEach((t, i) => merge.add(`gpu-${i}`, t));
const withMerge = heap();
const rendered = merge.renderBytes();
const series = [...merge.samples.values()].reduce((a, b) => a + b, 0);
texts = undefined;
merge = undefined;
const after = heap();
const per100k = (bytes) => bytes / 2 ** 20 / (series / 100_000);
process.stdout.write(
  JSON.stringify({
    targets: TARGETS,
    series,
    textsMBPer100k: per100k(withTexts - base),
    mergeMBPer100k: per100k(withMerge - withTexts),
    renderedMBPer100k: per100k(rendered.length),
    heapAfterRoundMB: (after - base) / 2 ** 20,
  }),
);
