/**
 * The merge's arena and its gather (piece-arena.ts, gather.wat): the bytes in
 * gather-wasm.ts are gather.wat's, assembled here by wabt; pieces come out in
 * order across window boundaries and memory growth; a released merge cannot
 * write into the arena the next merge has.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import wabtInit from 'wabt';
import { GATHER_WASM_BASE64 } from '../../src/fleet/gather-wasm.js';
import { PieceArena, takeArena } from '../../src/fleet/piece-arena.js';
import { TextMerge } from '../../src/fleet/text-merge.js';

t.test('gather-wasm.ts holds gather.wat, assembled', async (t) => {
  const wabt = await wabtInit();
  const text = readFileSync(new URL('../../src/fleet/gather.wat', import.meta.url), 'utf8');
  const module = wabt.parseWat('gather.wat', text, { bulk_memory: true });
  const { buffer } = module.toBinary({});
  module.destroy();
  t.equal(Buffer.from(buffer).toString('base64'), GATHER_WASM_BASE64, 'the same bytes: assemble gather.wat again after changing it');
});

/** Pieces of `bytes` as runs of (at most) `perRun` pieces, every run's length given. */
function layout(arena: PieceArena, bytes: Buffer[], perRun: number) {
  const pieces = new Int32Array(bytes.length * 2);
  bytes.forEach((b, i) => {
    pieces[2 * i] = arena.place(b);
    pieces[2 * i + 1] = b.length;
  });
  const runs: number[] = [];
  for (let i = 0; i < bytes.length; i += perRun) {
    const to = Math.min(bytes.length, i + perRun);
    runs.push(
      2 * i,
      2 * to,
      bytes.slice(i, to).reduce((n, b) => n + b.length, 0),
    );
  }
  return { pieces, runs: Int32Array.from(runs), count: runs.length / 3 };
}

t.test('pieces in order, head and tail around them, across windows and memory growth', async (t) => {
  const arena = new PieceArena();
  // 3 MiB of pieces from 1 to 200 bytes, some runs larger than the 1 MiB window.
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const bytes: Buffer[] = [];
  for (let total = 0; total < 3 * 2 ** 20;) {
    const b = Buffer.alloc(1 + Math.floor(random() * 200), bytes.length % 251);
    bytes.push(b);
    total += b.length;
  }
  bytes.push(Buffer.alloc(0), Buffer.alloc(2 * 2 ** 20, 9)); // an empty piece, and one larger than the window
  for (const perRun of [1, 7, 5000, bytes.length]) {
    const { pieces, runs, count } = layout(arena, bytes, perRun);
    const out = arena.gather(pieces, pieces.length, runs, count, Buffer.from('head\n'), Buffer.from('tail\n'));
    t.ok(out.equals(Buffer.concat([Buffer.from('head\n'), ...bytes, Buffer.from('tail\n')])), `${perRun} pieces a run: the bytes in order`);
  }
  t.ok(arena.used > 10 * 2 ** 20, 'the memory grew past its first page to hold them');
});

t.test('a run that says more bytes than its pieces hold is an error, not a short answer', async (t) => {
  const arena = new PieceArena();
  const { pieces, runs, count } = layout(arena, [Buffer.from('abc'), Buffer.from('de')], 2);
  runs[2] = 9;
  t.throws(() => arena.gather(pieces, pieces.length, runs, count, Buffer.alloc(0), Buffer.alloc(0)), /gathered 5 bytes where the runs hold 9/);
});

t.test('a released merge gives its arena to the next and cannot write into it', async (t) => {
  const a = new TextMerge({ label: 'instance' });
  a.add('a', 'x 1\n');
  t.equal(a.render(), '# TYPE x untyped\nx{instance="a"} 1\n');
  a.release();
  const b = new TextMerge({ label: 'instance' });
  b.add('b', 'y 2\n');
  t.throws(() => a.add('c', 'z 3\n'), /released/, 'the released one refuses work');
  t.throws(() => a.render(), /released/);
  t.equal(b.render(), '# TYPE y untyped\ny{instance="b"} 2\n', 'the next one is whole');
  b.release();
  b.release(); // twice is harmless
  const c = takeArena();
  t.equal(takeArena() === c, false, 'an arena is given to one merge at a time');
});
