// Run with --expose-gc (bench/run.js does): the heap the fleet path holds per
// 100k series during one merged scrape (the targets' texts and the merge's
// lines) and after it (the rendered answer, which poll mode keeps).
import { TextMerge } from '../dist/fleet/text-merge.js';
import { Simulator } from '../dist/simulator/simulator.js';

const TARGETS = 16;
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

const base = heap();
// As fetched: one string per target (decoded from the body).
let texts = Array.from({ length: TARGETS }, (_, i) =>
  new Simulator({ engines: 8, models: 4, tickMs: 0, seed: i + 1 }, 1_760_000_000).exposition('text').toString(),
);
const withTexts = heap();
let merge = new TextMerge({ label: 'instance' });
texts.forEach((t, i) => merge.add(`gpu-${i}`, t));
const withMerge = heap();
const rendered = Buffer.from(merge.render());
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
