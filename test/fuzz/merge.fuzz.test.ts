/**
 * The exposition parser and the fleet merge under inputs nobody chose (fast-check;
 * test/helpers/fuzz.ts says how to replay a seed or run longer).
 * - The merge of generated valid expositions of several targets is exactly the text a
 *   plain model of the merge writes (each family once, in order of first appearance, the
 *   first target's type winning, `instance` added and an existing one moved to
 *   `exported_instance`), and it parses, also for promtool.
 * - On arbitrary bytes and damaged expositions the parser and the merge throw nothing but
 *   ExpositionParseError, and a target that fails leaves nothing in the merge.
 */
import fc from 'fast-check';
import t from 'tap';
import { ExpositionParseError, parseExposition } from '../../src/exposition/parser.js';
import { TextMerge } from '../../src/fleet/text-merge.js';
import { escapeValue, families, fuzz, hostileExposition, renderExposition, type GenFamily } from '../helpers/fuzz.js';
import { promtoolCheck } from '../helpers/prometheus.js';

const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const sanitized = (name: string) => name.replaceAll(':', '_');

/** Label names as the merge writes them: `instance` (the target label) moved to `exported_instance`, more `exported_` while taken. */
function outputKeys(keys: string[]): string[] {
  const taken = new Set(keys);
  return keys.map((k) => {
    if (k !== 'instance') return k;
    let key = `exported_${k}`;
    while (taken.has(key)) key = `exported_${key}`;
    taken.add(key);
    return key;
  });
}

/** What the merge must write for these targets, written plainly from the generator's model. */
function modelMerge(targets: Array<[string, GenFamily[]]>): string {
  const fams = new Map<string, { type: string; help?: string; lines: string[] }>();
  for (const [target, gen] of targets) {
    for (const f of gen) {
      const name = sanitized(f.name);
      const type = f.type ?? 'untyped';
      let g = fams.get(name);
      if (!g) fams.set(name, (g = { type, lines: [] }));
      else if (g.type !== type) continue;
      if (g.help === undefined && f.help !== undefined) g.help = escapeHelp(f.help);
      f.samples.forEach((s, i) => {
        const pairs: Array<[string, string]> = [['i', String(i)], ...s.labels];
        const keys = outputKeys(pairs.map(([k]) => k));
        const labels = pairs.map(([, v], n) => `${keys[n]}="${escapeValue(v)}"`).join(',');
        g.lines.push(`${name}{instance="${target}",${labels}} ${s.value}${s.timestamp !== undefined ? ` ${s.timestamp}` : ''}`);
      });
    }
  }
  let out = '';
  for (const [name, g] of fams) {
    if (g.help !== undefined) out += `# HELP ${name} ${g.help}\n`;
    out += `# TYPE ${name} ${g.type}\n`;
    for (const l of g.lines) out += `${l}\n`;
  }
  return out;
}

const fleet = fc.array(fc.tuple(families, fc.boolean()), { minLength: 1, maxLength: 4 });

t.test('valid expositions of several targets: the model’s merge, byte for byte, and it parses', async (t) => {
  const samples: string[] = [];
  fc.assert(
    fc.property(fleet, (targets) => {
      const named = targets.map(([fams], i) => [`gpu-${i}`, fams] as [string, GenFamily[]]);
      const m = new TextMerge({ label: 'instance' });
      targets.forEach(([fams, crlf], i) => m.add(`gpu-${i}`, Buffer.from(renderExposition(fams, { crlf }))));
      const out = m.render();
      if (out !== modelMerge(named)) return false;
      parseExposition(out, 'prometheus');
      if (samples.length < 8) samples.push(out);
      return true;
    }),
    fuzz(t, 300),
  );
  // promtool reads a sample of them (a process each): its lint may remark on generated names, but it must parse.
  for (const out of samples) {
    t.same(
      promtoolCheck(out).problems.filter((p) => /parsing error|error while/.test(p)),
      [],
      'promtool parses a merged exposition',
    );
  }
});

/**
 * One target's families changed the way another replica's differ: a sample dropped, a value,
 * a label value or a timestamp changed, a label added. Most lines stay the same through their
 * label set, which the merge recognises by likeness to the previous target's line at the same
 * place; the changed ones and every line after a dropped one must be read in full.
 */
function variant(base: GenFamily[], codes: number[]): GenFamily[] {
  let n = 0;
  const next = () => (codes.length ? codes[n++ % codes.length]! : 0);
  return base.map((f) => ({
    ...f,
    samples: f.samples.flatMap((s) => {
      switch (next()) {
        case 5:
          return [];
        case 6:
          return [{ ...s, value: '42' }];
        case 7:
          return s.labels.length ? [{ ...s, labels: [[s.labels[0]![0], 'changed'] as [string, string], ...s.labels.slice(1)] }] : [s];
        case 8:
          return [{ ...s, timestamp: undefined }];
        case 9:
          return s.labels.some(([k]) => k === 'added') ? [s] : [{ ...s, labels: [...s.labels, ['added', '1'] as [string, string]] }];
        default:
          return [s];
      }
    }),
  }));
}

t.test('replicas of one another: the model’s merge, byte for byte, however their lines differ', async (t) => {
  let recognised = 0;
  fc.assert(
    fc.property(families, fc.array(fc.array(fc.nat(9), { maxLength: 12 }), { minLength: 1, maxLength: 5 }), fc.boolean(), (base, changes, crlf) => {
      const named: Array<[string, GenFamily[]]> = [['gpu-0', base], ...changes.map((c, i) => [`gpu-${i + 1}`, variant(base, c)] as [string, GenFamily[]])];
      const m = new TextMerge({ label: 'instance' });
      for (const [name, fams] of named) m.add(name, Buffer.from(renderExposition(fams, { crlf })));
      if (changes.some((c) => c.every((x) => x < 5))) recognised++;
      return m.render() === modelMerge(named);
    }),
    fuzz(t, 300),
  );
  t.ok(recognised > 0, 'some targets were exact replicas of the one before, values and all');
});

/** Arbitrary bytes, text made of the format's own characters, and valid expositions damaged. */
const hostile = hostileExposition(400);

const onlyParseErrors = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (err) {
    return err instanceof ExpositionParseError && err.line >= 0;
  }
};

t.test('hostile input: the parser throws only ExpositionParseError, in both formats', async (t) => {
  fc.assert(
    fc.property(hostile, (input) => {
      const text = input.toString('utf8');
      return onlyParseErrors(() => parseExposition(text, 'prometheus')) && onlyParseErrors(() => parseExposition(text, 'openmetrics'));
    }),
    fuzz(t, 800),
  );
  t.pass('held');
});

t.test('hostile input: the merge throws only ExpositionParseError and keeps nothing of a failed target', async (t) => {
  fc.assert(
    fc.property(hostile, fc.boolean(), (input, asText) => {
      const m = new TextMerge({ label: 'instance' });
      m.add('good', 'g{a="1"} 1\n');
      const before = m.render();
      let failed = false;
      try {
        m.add('bad', asText ? input.toString('utf8') : input);
      } catch (err) {
        if (!(err instanceof ExpositionParseError)) return false;
        failed = true;
      }
      const after = m.render();
      if (failed) return after === before && !m.samples.has('bad');
      // Accepted: what it wrote must read back (the merged answer never breaks for the others).
      parseExposition(after, 'prometheus');
      return true;
    }),
    fuzz(t, 800),
  );
  t.pass('held');
});
