/**
 * `--names canonical|both`: vLLM 0.6 (V0), 0.9 (both spellings) and the latest vLLM give the
 * same known family names and types; the output equals a plain reference rewrite at chunk
 * cuts (every cut of a small exposition, random ones of the large); promtool-clean; `# EOF`
 * last; the proxy serves it in stream and fleet mode, and the direct push's parsed families
 * get the same names.
 */
import t from 'tap';
import { CanonicalNames, canonicalFamilies, canonicalText, type NamesMode } from '../../src/exposition/canonical-names.js';
import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeBuffer } from '../../src/exposition/sanitizer.js';
import { vocabulary } from '../../src/names/vocabulary.js';
import { Simulator } from '../../src/simulator/simulator.js';
import type { DialectId } from '../../src/simulator/dialects.js';
import { fleetProxy, simulators } from '../helpers/fleet.js';
import { get } from '../helpers/net.js';
import { promtoolCheck } from '../helpers/prometheus.js';
import { testProxy } from '../helpers/proxy.js';

const render = (dialect: DialectId, format: 'text' | 'openmetrics' = 'text') =>
  new Simulator({ dialect, engines: dialect === 'vllm-0.6' ? 1 : 2, tickMs: 0 }).exposition(format).toString();

/** vLLM's deprecations, written out here as the reference knows them (not read from the table). */
const DEPRECATED: Record<string, string> = {
  'vllm:gpu_cache_usage_perc': 'vllm:kv_cache_usage_perc',
  'vllm:gpu_prefix_cache_queries': 'vllm:prefix_cache_queries',
  'vllm:gpu_prefix_cache_hits': 'vllm:prefix_cache_hits',
  'vllm:time_per_output_token_seconds': 'vllm:inter_token_latency_seconds',
};
const SUFFIX = /^(|_total|_created|_bucket|_sum|_count)$/;

/** The reference: by strings, line by line, with a look at the whole body first. */
function reference(text: string, mode: Exclude<NamesMode, 'upstream'>): string {
  const lines = text.split(/(?<=\n)/);
  const nameOf = (l: string) => /^(?:# (?:HELP|TYPE|UNIT) )?([^\s{]+)/.exec(l)?.[1] ?? '';
  const deprecatedOf = (name: string) => Object.keys(DEPRECATED).find((d) => name.startsWith(d) && SUFFIX.test(name.slice(d.length)));
  const present = new Set(
    lines
      .map(nameOf)
      .filter((n) => n && !deprecatedOf(n))
      .map((n) => n.replace(/_total$/, '')),
  );
  const kept: string[] = [];
  const moved: string[] = [];
  let eof = '';
  for (const l of lines) {
    if (/^# EOF/.test(l)) {
      eof = l;
      continue;
    }
    const d = l.startsWith('#') && !/^# (HELP|TYPE|UNIT) /.test(l) ? undefined : deprecatedOf(nameOf(l));
    if (!d) {
      kept.push(l);
      continue;
    }
    if (mode === 'both') kept.push(l);
    if (!present.has(DEPRECATED[d]!)) moved.push(l.replace(d, DEPRECATED[d]!));
  }
  return [...kept, ...moved, eof].join('');
}

const run = (parts: Buffer[], mode: Exclude<NamesMode, 'upstream'>) => {
  const c = new CanonicalNames(mode);
  const out: Buffer[] = [];
  for (const p of parts) c.write(p, out);
  c.end(out);
  return Buffer.concat(out).toString();
};

/** The (family, type) pairs the names table knows, of a sanitized exposition. */
function knownFamilies(text: string): string[] {
  return parseExposition(text, 'prometheus')
    .filter((f) => vocabulary().resolve(f.name) ?? vocabulary().resolve(`${f.name}_total`))
    .map((f) => `${f.name} ${f.type}`)
    .sort();
}

t.test('vLLM 0.6, 0.9 and the latest: the same known families and types under canonical names', async (t) => {
  const latest = knownFamilies(sanitizeBuffer(Buffer.from(render('vllm-latest'))).toString());
  const v09 = knownFamilies(sanitizeBuffer(Buffer.from(canonicalText(render('vllm-0.9'), 'canonical'))).toString());
  const v06 = knownFamilies(sanitizeBuffer(Buffer.from(canonicalText(render('vllm-0.6'), 'canonical'))).toString());
  t.same(v09, latest, '0.9 under canonical names is the latest vLLM');
  t.same(
    v06.filter((f) => !latest.includes(f)),
    [],
    '0.6: every known family under its current name and type',
  );
  t.ok(v06.includes('vllm_kv_cache_usage_perc gauge') && v06.includes('vllm_inter_token_latency_seconds histogram'), '(the two V0 renames)');
  t.same(
    knownFamilies(sanitizeBuffer(Buffer.from(render('vllm-0.6'))).toString()).filter((f) => f.startsWith('vllm_kv_cache')),
    [],
    '(and without --names canonical, V0 has none of them)',
  );
});

t.test('the reference rewrite, at every cut of a small exposition and at random cuts of the large', async (t) => {
  for (const mode of ['canonical', 'both'] as const) {
    for (const d of ['vllm-0.6', 'vllm-0.9', 'vllm-latest'] as const) {
      for (const format of ['text', 'openmetrics'] as const) {
        const text = render(d, format);
        const want = reference(text, mode);
        const whole = Buffer.from(text);
        t.equal(run([Buffer.from(whole)], mode), want, `${mode} ${d} ${format}: whole`);
        let seed = 11;
        const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n) + 1;
        let bad = 0;
        for (let i = 0; i < 150; i++) {
          const a = rnd(whole.length - 2);
          const b = a + rnd(whole.length - a - 1);
          if (run([whole.subarray(0, a), whole.subarray(a, b), whole.subarray(b)], mode) !== want) bad++;
        }
        t.equal(bad, 0, `${mode} ${d} ${format}: 150 random three-piece cuts`);
      }
    }
    // Small: the renamed families and their neighbours, every cut.
    const small = [
      '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. DEPRECATED: Use vllm:kv_cache_usage_perc instead.',
      '# TYPE vllm:gpu_cache_usage_perc gauge',
      'vllm:gpu_cache_usage_perc{model_name="m"} 0.5',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{model_name="m"} 3.0',
      '# TYPE vllm:time_per_output_token_seconds histogram',
      'vllm:time_per_output_token_seconds_sum{model_name="m"} 1.0',
      'vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="m"} 2.0',
      'vllm:time_per_output_token_seconds_count{model_name="m"} 2.0',
      '# EOF',
    ].join('\n');
    const want = reference(`${small}\n`, mode);
    const buf = Buffer.from(`${small}\n`);
    let bad = 0;
    for (let cut = 1; cut < buf.length; cut++) if (run([buf.subarray(0, cut), buf.subarray(cut)], mode) !== want) bad++;
    t.equal(bad, 0, `${mode}: all ${buf.length - 1} cuts of a small exposition`);
    t.ok(run([buf], mode).endsWith('# EOF\n'), `${mode}: # EOF stays last`);
    const noEof = small.replace('\n# EOF', '');
    t.equal(run([Buffer.from(noEof)], mode), reference(`${noEof}\n`, mode), `${mode}: no final newline: the lines moved after it end with one`);
  }
});

t.test('promtool-clean, sanitized, but for vLLM naming a histogram _total', async (t) => {
  for (const mode of ['canonical', 'both'] as const) {
    for (const d of ['vllm-0.6', 'vllm-0.9'] as const) {
      const problems = promtoolCheck(sanitizeBuffer(Buffer.from(canonicalText(render(d), mode)))).problems;
      t.same(
        problems.filter((p) => !/^vllm_iteration_tokens_total non-counter/.test(p)),
        [],
        `${mode} ${d}`,
      );
    }
  }
});

t.test('parsed families (the direct push): the same names', async (t) => {
  const sanitized = sanitizeBuffer(Buffer.from(render('vllm-0.6'))).toString();
  const fams = canonicalFamilies(parseExposition(sanitized, 'prometheus'), 'canonical');
  const names = fams.map((f) => f.name);
  t.ok(names.includes('vllm_kv_cache_usage_perc') && !names.includes('vllm_gpu_cache_usage_perc'));
  t.ok(
    fams.find((f) => f.name === 'vllm_inter_token_latency_seconds')!.samples.every((s) => s.name.startsWith('vllm_inter_token_latency_seconds_')),
    'sample names follow',
  );
  const both = canonicalFamilies(parseExposition(sanitizeBuffer(Buffer.from(render('vllm-0.9'))).toString(), 'prometheus'), 'both').map((f) => f.name);
  t.ok(both.includes('vllm_gpu_cache_usage_perc') && both.filter((n) => n === 'vllm_kv_cache_usage_perc').length === 1, 'both: kept beside, never twice');
});

t.test('the proxy: --names canonical in stream and fleet mode', async (t) => {
  const [v06, v09] = await simulators([{ dialect: 'vllm-0.6' }, { dialect: 'vllm-0.9', engines: 2 }]);
  t.teardown(() => Promise.all([v06!.close(), v09!.close()]));
  const stream = await testProxy({ url: `${v06!.url}/metrics`, names: 'canonical' });
  t.teardown(() => stream.close());
  const body = (await get(`${stream.url}/metrics`)).body.toString();
  const raw = (await get(`${v06!.url}/metrics`)).body.toString();
  t.equal(body, sanitizeBuffer(Buffer.from(reference(raw, 'canonical'))).toString(), 'stream: the reference, sanitized');
  const fleet = await fleetProxy(
    {
      static: [
        { name: 'old', url: `${v06!.url}/metrics` },
        { name: 'new', url: `${v09!.url}/metrics` },
      ],
    },
    {},
    5_000,
    { names: 'canonical' },
  );
  t.teardown(() => fleet.close());
  const merged = (await get(`${fleet.url}/metrics`)).body.toString();
  t.notOk(/^vllm_gpu_cache_usage_perc/m.test(merged), 'fleet: no deprecated name');
  t.match(merged, /^vllm_kv_cache_usage_perc\{[^}]*instance="old"/m, "the V0 target's gauge under the current name");
  t.equal((merged.match(/^# TYPE vllm_kv_cache_usage_perc /gm) ?? []).length, 1, 'one family');
});
