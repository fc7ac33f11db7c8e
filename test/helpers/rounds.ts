import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeName } from '../../src/exposition/sanitizer.js';
import { Simulator } from '../../src/simulator/simulator.js';
import type { Round } from '../../src/store/store.js';

/** `n` rounds (10 s apart) of two simulated targets and a down one, names sanitized as the collector gives them. */
export function rounds(n = 2): Round[] {
  const a = new Simulator({ engines: 1, seed: 1, tickMs: 0 }, 1_700_000_000);
  const b = new Simulator({ engines: 2, seed: 2, tickMs: 0 }, 1_700_000_000);
  const take = (sim: Simulator) =>
    parseExposition(sim.exposition('text').toString(), 'prometheus').map((f) => ({ ...f, name: sanitizeName(f.name), samples: f.samples.map((s) => ({ ...s, name: sanitizeName(s.name) })) }));
  const out: Round[] = [];
  for (let i = 0; i < n; i++) {
    a.advance(10);
    b.advance(10);
    out.push({ timeMs: 1_700_000_000_000 + i * 10_000, targets: [{ target: 'gpu-a', families: take(a) }, { target: 'gpu-b', families: take(b) }, { target: 'gpu-down', error: 'upstream unreachable' }] });
  }
  // One sample that JSON, CSV and SQLite each have to spell: NaN, and a label value with a quote, comma and newline.
  out[1]!.targets[0]!.families!.push({ name: 'odd', type: 'gauge', samples: [{ name: 'odd', labels: { v: 'a "b", c\nd' }, value: NaN }] });
  return out;
}
