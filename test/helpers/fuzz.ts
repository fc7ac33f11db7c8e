/**
 * Property-based fuzzing with fast-check: the seed and the scale of a run.
 *
 * `npm test` runs every property with one fixed seed (FUZZ_SEED, default below), so CI is
 * repeatable and a failure names the seed and the shrunk input that reproduce it.
 * `npm run fuzz` runs the same properties with a new random seed and FUZZ_SCALE times more
 * inputs; it prints the seed first, and `FUZZ_SEED=<seed> npm run fuzz` replays it.
 */
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import type { Test } from 'tap';

const DEFAULT_SEED = 20_261_202;
export const FUZZ_SEED = process.env.FUZZ_SEED === 'random' ? randomInt(2 ** 31 - 1) : Number(process.env.FUZZ_SEED ?? DEFAULT_SEED);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** fast-check's parameters for a property tried `runs` times at scale 1; the seed is said once per file. */
export function fuzz(t: Test, runs: number): fc.Parameters<unknown> {
  t.comment(`fast-check seed ${FUZZ_SEED}, ${Math.max(1, Math.round(runs * SCALE))} runs (FUZZ_SEED=${FUZZ_SEED} replays it)`);
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)) };
}

const NAME_FIRST = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:'];
const NAME_REST = [...NAME_FIRST, ...'0123456789'];
const LABEL_FIRST = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_'];
const LABEL_REST = [...LABEL_FIRST, ...'0123456789'];

/** Legacy metric names, vLLM's among them. */
export const metricName = fc.oneof(
  fc.constantFrom('vllm:num_requests_running', 'vllm:prompt_tokens_total', 'vllm:e2e_request_latency_seconds', 'process_cpu_seconds_total', ':lead', 'a:b:c'),
  fc.tuple(fc.constantFrom(...NAME_FIRST), fc.string({ unit: fc.constantFrom(...NAME_REST), maxLength: 24 })).map(([a, b]) => a + b),
);

/** Label names (never `i`, which the generator uses to keep series apart); `instance` and `job` among them. */
export const labelName = fc
  .oneof(
    fc.constantFrom('model_name', 'engine', 'le', 'instance', 'job', 'exported_instance'),
    fc.tuple(fc.constantFrom(...LABEL_FIRST), fc.string({ unit: fc.constantFrom(...LABEL_REST), maxLength: 12 })).map(([a, b]) => a + b),
  )
  .filter((n) => n !== 'i');

/** Label values with every character the format escapes and others it must pass through. */
export const labelValue = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\\', '"', '\n', ':', '{', '}', '#', ' ', ',', '=', '\t', 'ü', '🙂', 'x'),
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
      .filter((c) => ![...c].some((ch) => (ch.codePointAt(0)! < 0x20 && ch !== '\t') || ch === '\u007f')),
  ),
  maxLength: 16,
});

export const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

const formatNumber = (x: number) => (Number.isNaN(x) ? 'NaN' : x === Infinity ? '+Inf' : x === -Infinity ? '-Inf' : String(x));
export const sampleValue = fc.oneof(
  fc.integer().map(String),
  fc.double().map(formatNumber),
  fc.constantFrom('NaN', '+Inf', '-Inf', '1e-3', '.5', '5.', '-0', '+3', '1E6'),
);

export interface GenFamily {
  name: string;
  type?: 'gauge' | 'counter' | 'untyped';
  help?: string;
  samples: Array<{ labels: Array<[string, string]>; value: string; timestamp?: string; exemplar?: string }>;
}

const family: fc.Arbitrary<GenFamily> = fc.record(
  {
    name: metricName,
    type: fc.constantFrom('gauge', 'counter', 'untyped'),
    help: fc.string({ unit: fc.constantFrom('a', ' ', ':', '\\', '\n', 'é', '{', '"', '#'), maxLength: 24 }),
    samples: fc.array(
      fc.record(
        {
          labels: fc.uniqueArray(fc.tuple(labelName, labelValue), { selector: ([k]) => k, maxLength: 4 }),
          value: sampleValue,
          timestamp: fc.integer({ min: -1e12, max: 1e13 }).map(String),
          exemplar: fc
            .tuple(labelValue, fc.double({ noNaN: true, noDefaultInfinity: true }))
            .map(([v, x]) => `# {trace_id="${escapeValue(v)}"} ${formatNumber(x)}`),
        },
        { requiredKeys: ['labels', 'value'] },
      ),
      { minLength: 1, maxLength: 5 },
    ),
  },
  { requiredKeys: ['name', 'samples'] },
);

/** Families whose sanitized names are all different (a collision drops lines, which the properties do not model). */
export const families = fc.uniqueArray(family, { selector: (f) => f.name.replaceAll(':', '_'), minLength: 1, maxLength: 6 });

export interface Rendering {
  openMetrics?: boolean;
  crlf?: boolean;
}

/** An exposition of `fams` in the classic text format (or OpenMetrics', with exemplars and `# EOF`). */
export function renderExposition(fams: GenFamily[], how: Rendering = {}): string {
  const nl = how.crlf ? '\r\n' : '\n';
  const lines: string[] = [];
  for (const f of fams) {
    if (f.help !== undefined) lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    if (f.type) lines.push(`# TYPE ${f.name} ${f.type}`);
    f.samples.forEach((s, i) => {
      const labels = [['i', String(i)] as [string, string], ...s.labels].map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',');
      let line = `${f.name}{${labels}} ${s.value}`;
      if (s.timestamp !== undefined) line += ` ${s.timestamp}`;
      if (how.openMetrics && s.exemplar !== undefined) line += ` ${s.exemplar}`;
      lines.push(line);
    });
  }
  if (how.openMetrics) lines.push('# EOF');
  return lines.join(nl) + nl;
}

/** Cut points inside `length` from arbitrary numbers, sorted and distinct. */
export const cutsOf = (seeds: number[], length: number) =>
  [...new Set(seeds.map((s) => (length > 1 ? 1 + (s % (length - 1)) : 0)).filter((c) => c > 0))].sort((a, b) => a - b);

/** Arbitrary bytes, text of the format's own characters, and valid expositions truncated, with a byte changed or one inserted. */
export const hostileExposition = (maxBytes: number) =>
  fc.oneof(
    fc.uint8Array({ maxLength: maxBytes }).map((a) => Buffer.from(a)),
    fc.string({ unit: fc.constantFrom(...'ab:{}"\\=, #\n\r\tHELPTYPE0123.+-eInfNa'), maxLength: maxBytes / 2 }).map((s) => Buffer.from(s)),
    fc.tuple(families, fc.nat(), fc.nat(255), fc.constantFrom('truncate', 'flip', 'insert')).map(([fams, at, byte, how]) => {
      const b = Buffer.from(renderExposition(fams));
      const i = at % (b.length + 1);
      if (how === 'truncate') return b.subarray(0, i);
      if (how === 'flip' && i < b.length) b[i] = byte;
      return how === 'insert' ? Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]) : b;
    }),
  );
