/**
 * A byte stage (the sanitizer, the family filter, the sanitizing writer) fed `input` cut at
 * `cuts`, as a socket delivers it. Each chunk is a copy: the stages rewrite in place and
 * answer with slices of what they were given, so sharing the input would hide bugs.
 */
export interface ByteStage {
  write(chunk: Buffer, out: Buffer[]): void;
  end(out: Buffer[]): void;
}

export function throughChunks(stage: ByteStage, input: Buffer, cuts: readonly number[] = []): Buffer {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    stage.write(Buffer.from(input.subarray(from, cut)), out);
    from = cut;
  }
  stage.end(out);
  return Buffer.concat(out);
}
