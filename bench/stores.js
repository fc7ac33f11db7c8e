// Samples stored per second by each store, on the 8-engine exposition, and the
// SQLite file size per million samples. In-process: what is measured is the
// store's own work (a round = one scrape of one target, as at a 1 s interval).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '../dist/exposition/parser.js';
import { sanitizeName } from '../dist/exposition/sanitizer.js';
import { Simulator } from '../dist/simulator/simulator.js';
import { CsvStore } from '../dist/store/csv.js';
import { JsonlStore } from '../dist/store/jsonl.js';
import { PromFileStore } from '../dist/store/prom-file.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { readRows } from '../dist/store/read.js';
import { postprocessFile } from '../dist/collect/postprocess-file.js';
import { writeReport } from '../dist/report/report-file.js';

const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 120);
const sim = new Simulator({ engines: 8, tickMs: 0 }, 1_760_000_000);
const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-stores-'));
const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  // One second of simulated load per round (advance takes the new time, then the step).
  sim.advance(1_760_000_000 + i + 1, 1);
  const families = parseExposition(sim.exposition('text').toString(), 'prometheus').map((f) => ({
    ...f,
    name: sanitizeName(f.name),
    samples: f.samples.map((s) => ({ ...s, name: sanitizeName(s.name) })),
  }));
  rounds.push({ timeMs: 1_760_000_000_000 + i * 1000, targets: [{ target: 'gpu-a', families }] });
}
const perRound = rounds[0].targets[0].families.reduce((n, f) => n + f.samples.length, 0);
const out = { samplesPerRound: perRound, rounds: ROUNDS, stores: {} };
for (const [name, make, file] of [
  ['jsonl', (p) => new JsonlStore(p), 'run.jsonl'],
  ['csv', (p) => new CsvStore(p), 'run.csv'],
  ['sqlite', (p) => new SqliteStore(p), 'run.sqlite'],
  ['prom-file', (p) => new PromFileStore(p), 'run.prom'],
]) {
  const path = join(dir, file);
  const store = make(path);
  const t0 = performance.now();
  for (const r of rounds) await store.write(r);
  await store.close();
  const s = (performance.now() - t0) / 1000;
  const bytes = statSync(path).size;
  out.stores[name] = {
    samplesPerSecond: (perRound * ROUNDS) / s,
    msPerRound: (s * 1000) / ROUNDS,
    bytesPerMillionSamples: name === 'prom-file' ? undefined : (bytes / (perRound * ROUNDS)) * 1e6,
  };
}
// Post-processing each file into the same format, against reading it alone (the baseline: the floor of any pass over the file).
out.postprocess = {};
for (const [name, file] of [
  ['jsonl', 'run.jsonl'],
  ['csv', 'run.csv'],
  ['sqlite', 'run.sqlite'],
]) {
  const path = join(dir, file);
  let t0 = performance.now();
  let rows = 0;
  for await (const batch of readRows(path)) rows += batch.length;
  const read = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await postprocessFile(path, join(dir, `derived-${file}`));
  const derive = (performance.now() - t0) / 1000;
  out.postprocess[name] = { rows, readRowsPerSecond: rows / read, postprocessRowsPerSecond: rows / derive, ratio: read / derive };
}
const t0 = performance.now();
const report = await writeReport(join(dir, 'run.sqlite'), { output: join(dir, 'run.html') });
out.report = { seconds: (performance.now() - t0) / 1000, bytes: report.bytes, rows: perRound * ROUNDS };
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(out));
