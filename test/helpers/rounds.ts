import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeName } from '../../src/exposition/sanitizer.js';
import { Simulator } from '../../src/simulator/simulator.js';
import type { Round } from '../../src/store/store.js';

/** `n` rounds (10 s apart) of two simulated targets (`rate` requests/s per engine) and a down one, names sanitized as the collector gives them. */
export function rounds(n = 2, seed = 1, rate = 4): Round[] {
  const a = new Simulator({ engines: 1, seed, tickMs: 0, rate }, 1_700_000_000);
  const b = new Simulator({ engines: 2, seed: seed + 1, tickMs: 0, rate }, 1_700_000_000);
  const take = (sim: Simulator) =>
    parseExposition(sim.exposition('text').toString(), 'prometheus').map((f) => ({
      ...f,
      name: sanitizeName(f.name),
      samples: f.samples.map((s) => ({ ...s, name: sanitizeName(s.name) })),
    }));
  const out: Round[] = [];
  for (let i = 0; i < n; i++) {
    // Ten one-second steps between rounds, as the running simulator would take them.
    for (let s = 1; s <= 10; s++) for (const sim of [a, b]) sim.advance(1_700_000_000 + i * 10 + s, 1);
    out.push({
      timeMs: 1_700_000_000_000 + i * 10_000,
      targets: [
        { target: 'gpu-a', families: take(a) },
        { target: 'gpu-b', families: take(b) },
        { target: 'gpu-down', error: 'upstream unreachable: connect ECONNREFUSED', errorKind: 'unreachable', seconds: 0.002 },
      ],
    });
  }
  // One sample that JSON, CSV and SQLite each have to spell: NaN, and a label value with a quote, comma and newline.
  out[1]!.targets[0]!.families!.push({ name: 'odd', type: 'gauge', samples: [{ name: 'odd', labels: { v: 'a "b", c\nd' }, value: NaN }] });
  return out;
}
