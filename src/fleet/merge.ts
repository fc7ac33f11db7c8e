/**
 * Many targets' families into one exposition: each family once, samples grouped
 * under it, every sample labelled with its target. Pure.
 */
import { newLabels, type Labels, type MetricFamily, type Sample } from '../exposition/model.js';
import { toClassicFamilies } from '../exposition/render.js';
import { sanitizeName } from '../exposition/sanitizer.js';

export interface TargetFamilies {
  /** The target label's value. */
  target: string;
  families: MetricFamily[];
}

/** Something the merge had to decide, reported so it can be logged once and counted. */
export type MergeIssue =
  | { kind: 'label_renamed'; target: string; family: string; from: string; to: string }
  | { kind: 'type_conflict'; target: string; family: string; type: string; kept: string }
  | { kind: 'name_collision'; target: string; family: string; original: string; kept: string };

export interface MergeResult {
  families: MetricFamily[];
  issues: MergeIssue[];
  /** Samples in the merged output. */
  samples: number;
}

/**
 * Prometheus' rule when a scraped sample already has a label the scrape would
 * set (honor_labels: false): the sample's own value moves to `exported_<name>`
 * (and further `exported_` prefixes while taken). Nothing is overwritten silently.
 */
export function addTargetLabel(labels: Labels, label: string, value: string): { labels: Labels; movedTo?: string } {
  const out = newLabels();
  out[label] = value;
  const movedTo = label in labels ? exportedName(labels, label) : undefined;
  for (const k in labels) out[k === label ? movedTo! : k] = labels[k]!;
  return { labels: out, movedTo };
}

function exportedName(labels: Labels, label: string): string {
  let name = `exported_${label}`;
  while (name in labels) name = `exported_${name}`;
  return name;
}

/** The same rule for labels a receiver will set (a Pushgateway's grouping labels): moved out of the way. */
export function moveReservedLabels(families: MetricFamily[], reserved: readonly string[]): void {
  for (const f of families) {
    for (const s of f.samples) {
      if (!reserved.some((r) => r in s.labels)) continue;
      const out = newLabels();
      for (const k in s.labels) out[reserved.includes(k) ? exportedName(s.labels, k) : k] = s.labels[k]!;
      s.labels = out;
    }
  }
}

/**
 * Families keep the order in which they first appear (targets in the order
 * given); within a family, samples are grouped by target. The first target to
 * show a family fixes its type and HELP; a later target whose family has
 * another type loses that family (two types under one name would make the
 * exposition invalid). Names are sanitized: the output is legal for every
 * Prometheus text parser. With no label (a Pushgateway group is one target
 * already), this only sanitizes and reshapes. When two spellings of one target sanitize alike
 * (`a:b`, `a_b`), the first is kept, as the streaming sanitizer does.
 */
export function mergeTargets(inputs: TargetFamilies[], label: string | undefined): MergeResult {
  const merged = new Map<string, { family: MetricFamily; from: string }>();
  const issues: MergeIssue[] = [];
  let samples = 0;
  for (const { target, families } of inputs) {
    const spelled = new Map<string, string>();
    let renamed = false;
    for (const parsed of families) {
      for (const f of toClassicFamilies(parsed)) {
        const name = sanitizeName(f.name);
        const first = spelled.get(name);
        if (first !== undefined && first !== f.name) {
          issues.push({ kind: 'name_collision', target, family: name, original: f.name, kept: first });
          continue;
        }
        spelled.set(name, f.name);
        let m = merged.get(name);
        if (!m) {
          m = { family: { name, type: f.type, help: f.help, unit: f.unit, samples: [] }, from: target };
          merged.set(name, m);
        } else if (m.family.type !== f.type) {
          issues.push({ kind: 'type_conflict', target, family: name, type: f.type, kept: `${m.family.type} (from ${m.from})` });
          continue;
        }
        const out = m.family.samples;
        for (const s of f.samples) {
          const { labels, movedTo } = label === undefined ? { labels: s.labels, movedTo: undefined } : addTargetLabel(s.labels, label, target);
          if (movedTo && !renamed) {
            renamed = true;
            issues.push({ kind: 'label_renamed', target, family: name, from: label!, to: movedTo });
          }
          const sample: Sample = { name: sanitizeName(s.name), labels, value: s.value };
          if (s.timestampMs !== undefined) sample.timestampMs = s.timestampMs;
          out.push(sample);
        }
        samples += f.samples.length;
      }
    }
  }
  return { families: [...merged.values()].map((m) => m.family), issues, samples };
}
