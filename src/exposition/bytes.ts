/**
 * Byte comparisons the byte-level stages share. A loop, not `Buffer.compare`: for a name's
 * few bytes the native call's overhead is more than the comparison (measured in
 * bench/README.md, "Fleet merge on bytes").
 */

/** a[as, as + length) equals b[bs, bs + length). */
export function sameBytes(a: Uint8Array, as: number, b: Uint8Array, bs: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[as + k] !== b[bs + k]) return false;
  return true;
}

/**
 * a[as, as + length) equals b[bs, bs + length): eight bytes a comparison, read as doubles
 * (names and label sets are too short for a native call; this is ~0.6x the time of four
 * bytes at a time). Two doubles that compare equal have the same bits except for +0 and
 * -0, and two that compare unequal may still have them (the same NaN): both are settled
 * on their words.
 */
export function sameWords(a: DataView, as: number, b: DataView, bs: number, length: number): boolean {
  let j = 0;
  for (; j + 8 <= length; j += 8) {
    const x = a.getFloat64(as + j, true);
    if (x !== b.getFloat64(bs + j, true) || x === 0) {
      if (a.getUint32(as + j) !== b.getUint32(bs + j) || a.getUint32(as + j + 4) !== b.getUint32(bs + j + 4)) return false;
    }
  }
  for (; j + 4 <= length; j += 4) if (a.getUint32(as + j) !== b.getUint32(bs + j)) return false;
  for (; j < length; j++) if (a.getUint8(as + j) !== b.getUint8(bs + j)) return false;
  return true;
}
