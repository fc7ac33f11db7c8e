// Run with --expose-gc (bench/run.js does): the heap held by the fleet path
// per 100k series, for the parsed and merged model (alive during one merged
// scrape) and for the rendered exposition (kept in poll mode).
import { parseExposition } from '../dist/exposition/parser.js';
import { renderText } from '../dist/exposition/render.js';
import { mergeTargets } from '../dist/fleet/merge.js';
import { Simulator } from '../dist/simulator/simulator.js';

const TARGETS = 16;
const texts = Array.from({ length: TARGETS }, (_, i) => new Simulator({ engines: 8, models: 4, tickMs: 0, seed: i + 1 }, 1_760_000_000).exposition('text').toString());
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

const base = heap();
const merged = mergeTargets(
  texts.map((t, i) => ({ target: `gpu-${i}`, families: parseExposition(t, 'prometheus') })),
  'instance',
);
const withModel = heap();
const rendered = Buffer.from(renderText(merged.families));
const series = merged.samples;
const per100k = (bytes) => bytes / 2 ** 20 / (series / 100_000);
const modelBytes = withModel - base;
merged.families.length = 0; // let the model go; keep the rendered bytes
const afterDrop = heap();
process.stdout.write(
  JSON.stringify({
    targets: TARGETS,
    series,
    mergedMBPer100k: per100k(modelBytes),
    renderedMBPer100k: per100k(rendered.length),
    renderedBytes: rendered.length,
    heapAfterDropMB: (afterDrop - base) / 2 ** 20,
  }),
);
