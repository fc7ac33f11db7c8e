import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bounds the memory a stream of expositions leaves behind. Every socket read
 * allocates a fresh 64 KiB buffer outside the JS heap; V8 collects them only
 * once 64 MB of such external memory has piled up, so any Node proxy grows
 * by ~60 MB while streaming a big body (measured in bench/: the no-op
 * passthrough too). A young-generation collection every few MB of relayed
 * bytes frees those buffers early; it costs well under a millisecond.
 */
export class GcPacer {
  private pending = 0;
  private readonly gc: ((opts: { type: 'minor' }) => void) | undefined;

  constructor(readonly everyBytes: number) {
    this.gc = everyBytes > 0 ? exposeGc() : undefined;
  }

  add(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.everyBytes || !this.gc) return;
    this.pending = 0;
    this.gc({ type: 'minor' });
  }
}

let exposed: ((opts: { type: 'minor' }) => void) | undefined;

function exposeGc(): ((opts: { type: 'minor' }) => void) | undefined {
  if (exposed) return exposed;
  const global = globalThis as { gc?: (opts: { type: 'minor' }) => void };
  if (typeof global.gc === 'function') return (exposed = global.gc);
  try {
    setFlagsFromString('--expose-gc');
    exposed = runInNewContext('gc') as (opts: { type: 'minor' }) => void;
  } catch {
    exposed = undefined; // without it, memory is bounded by V8's own 64 MB rule
  }
  return exposed;
}
