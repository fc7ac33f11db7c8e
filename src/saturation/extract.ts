/**
 * The few series saturation reads, picked out of a whole exposition. Lines are
 * filtered by name before parsing: an 8-engine vLLM exposition is ~290 KB, of
 * which saturation needs a few dozen lines. Colon and sanitized names both count,
 * and every spelling of each family (src/names): vLLM's older names, SGLang's.
 */
import type { ExpositionFormat, Labels } from '../exposition/model.js';
import { parseExposition } from '../exposition/parser.js';
import { fromVocabulary } from '../names/vocabulary.js';
import { PARTS, partSamples, type PartName } from './signals.js';

export interface PartSample {
  part: PartName;
  /** Preference of the family among the part's names (0 = current name). */
  rank: number;
  model: string;
  labels: Labels;
  value: number;
}

/** Sanitized sample name → the part it feeds and its rank, for every spelling the vocabulary knows. */
const wanted = fromVocabulary((v) => {
  const m = new Map<string, { part: PartName; rank: number }>();
  for (const part of Object.keys(PARTS) as PartName[]) partSamples(part, v).forEach((name, rank) => m.set(name, { part, rank }));
  return m;
});

function sampleName(line: string): string {
  let end = 0;
  while (end < line.length) {
    const c = line.charCodeAt(end);
    if (c === 0x7b /* { */ || c === 0x20 || c === 0x09) break;
    end++;
  }
  return line.slice(0, end).replaceAll(':', '_');
}

/** The saturation samples of one target's exposition (classic or OpenMetrics text). */
export function extractParts(text: string, format: ExpositionFormat): PartSample[] {
  const kept: string[] = [];
  const want = wanted();
  for (const line of text.split('\n')) {
    if (line === '' || line.charCodeAt(0) === 0x23 /* # */) continue;
    if (want.has(sampleName(line))) kept.push(line);
  }
  if (!kept.length) return [];
  // Without their TYPE lines the samples parse as untyped, which is all that is needed here.
  if (format === 'openmetrics') kept.push('# EOF');
  const out: PartSample[] = [];
  for (const family of parseExposition(`${kept.join('\n')}\n`, format)) {
    for (const s of family.samples) {
      const w = want.get(s.name.replaceAll(':', '_'));
      if (!w || Number.isNaN(s.value)) continue;
      out.push({ part: w.part, rank: w.rank, model: s.labels.model_name ?? '', labels: s.labels, value: s.value });
    }
  }
  return out;
}
