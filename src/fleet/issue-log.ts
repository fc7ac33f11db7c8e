import type { Logger } from '../logger.js';
import type { Counter } from 'prom-client';
import type { MergeIssue } from './text-merge.js';

/** Distinct issues logged at most; counting goes on past it. */
const MAX_REPORTED = 10_000;

/** What the merge's decisions are counted on (server/self-metrics.ts implements it). */
export interface MergeIssueMetrics {
  readonly mergeIssues: Counter<'kind'>;
}

/** Counts every merge decision and logs each distinct one once (they repeat on every scrape). */
export class MergeIssueLog {
  private readonly reported = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: MergeIssueMetrics,
  ) {}

  report(issue: MergeIssue): void {
    this.metrics.mergeIssues.inc({ kind: issue.kind });
    const key = `${issue.kind}|${issue.target}|${issue.family}`;
    if (this.reported.has(key) || this.reported.size >= MAX_REPORTED) return;
    this.reported.add(key);
    const log = this.log;
    if (issue.kind === 'label_renamed')
      log.warn(
        { event: 'label_renamed', ...issue },
        `target ${issue.target} already sets "${issue.from}" (first in ${issue.family}); its value is kept as "${issue.to}"`,
      );
    else if (issue.kind === 'type_conflict')
      log.warn(
        { event: 'type_conflict', ...issue },
        `${issue.family} from ${issue.target} left out: it is a ${issue.type}, the merged family is a ${issue.kept}`,
      );
    else
      log.warn(
        { event: 'name_collision', ...issue },
        `${issue.original} from ${issue.target} left out: its sanitized name ${issue.family} is already used by ${issue.kept}`,
      );
  }
}
