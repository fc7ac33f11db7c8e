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
