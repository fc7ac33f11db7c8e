import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { renameNames, underscore } from '../helpers/oracle.js';
import { SERVER_HISTOGRAMS, Snapshots, totalsByModel, type Totals } from '../../src/requests/server-view.js';
import { Simulator } from '../../src/simulator/simulator.js';

/** The same totals from the full parser, the slow and sure way. */
function parsed(text: string, format: 'prometheus' | 'openmetrics'): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const f of parseExposition(text, format)) {
    const phase = Object.entries(SERVER_HISTOGRAMS).find(([, n]) => f.name === `vllm:${n}` || f.name === `vllm_${n}`)?.[0] as keyof Totals | undefined;
    if (!phase) continue;
    for (const s of f.samples) {
      const field = s.name.endsWith('_sum') ? 'sum' : s.name.endsWith('_count') ? 'count' : undefined;
      if (!field) continue;
      const model = s.labels.model_name ?? '';
      if (!out.has(model)) out.set(model, Object.fromEntries(Object.keys(SERVER_HISTOGRAMS).map((p) => [p, { sum: 0, count: 0 }])) as Totals);
      out.get(model)![phase][field] += s.value;
    }
  }
  return out;
}

t.test('the line scan finds what the parser finds: both formats, colon and sanitized names, many models and engines', async (t) => {
  const sim = new Simulator({ tickMs: 0, engines: 3, models: 2 }, 1_760_000_000);
  for (const [format, name] of [
    ['text', 'prometheus'],
    ['openmetrics', 'openmetrics'],
  ] as const) {
    const text = sim.exposition(format).toString();
    t.same(totalsByModel(text), parsed(text, name), `${format}`);
    const sanitized = renameNames(text, underscore);
    t.same(totalsByModel(sanitized), parsed(sanitized, name), `${format}, sanitized names`);
  }
  t.equal(totalsByModel(sim.exposition('text').toString()).size, 2, 'one entry per model');
});

t.test('snapshots: concurrent callers share one fetch; a fetch started before a caller is not used for it', async (t) => {
  let release!: () => void;
  let fetches = 0;
  const snapshots = new Snapshots(async () => {
    fetches++;
    await new Promise<void>((r) => (release = r));
    return new Map();
  });
  const now = performance.now();
  const first = Array.from({ length: 50 }, () => snapshots.after(now));
  t.equal(fetches, 1, '50 callers, one fetch');
  const late = snapshots.after(performance.now() + 1);
  release();
  await Promise.all(first);
  await new Promise((r) => setImmediate(r));
  t.equal(fetches, 2, 'a caller later than the fetch in flight waits for a fresh one');
  release();
  await late;
  t.equal(snapshots.fetches, 2);
});
