import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { Deriver } from '../collect/derive.js';
import { replaceFileSync } from '../store/durable.js';
import { readRows } from '../store/read.js';
import { DERIVED_TYPES } from '../store/store.js';
import { readRequestLog } from '../requests/read.js';
import { VERSION } from '../version.js';
import { renderReport, type ReportAssets } from './html.js';
import { feedsReport, RunBuilder, type Run } from './run.js';

/**
 * One run from a file, raw or post-processed: derived rows are taken as they
 * are, collected ones are derived on the way. Streaming; what is kept is a
 * few numbers per round for the charted signals.
 */
export async function readRun(path: string, label = basename(path)): Promise<Run> {
  const run = new RunBuilder(label);
  const deriver = new Deriver();
  for await (const batch of readRows(path)) {
    const collected = [];
    for (const r of batch) {
      // Deriving only what the report draws: most of a vLLM exposition is not charted.
      if (!DERIVED_TYPES.has(r.type) && feedsReport(r)) collected.push(r);
      else run.add(r);
    }
    for (const r of deriver.push(collected)) run.add(r);
  }
  for (const r of deriver.end()) run.add(r);
  return run.build();
}

let assets: ReportAssets | undefined;

/** uPlot, from the package's own files, to be inlined. */
export function reportAssets(): ReportAssets {
  if (!assets) {
    const require = createRequire(import.meta.url);
    assets = {
      uplotJs: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      uplotCss: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return assets;
}

const stem = (p: string) => basename(p, extname(p)).replace(/\.(jsonl|csv|sqlite)$/, '');

/** `run1.jsonl` → `run1.html`; with a second run, `run1-vs-run2.html`, beside the first file. */
export function defaultReportPath(file: string, compare?: string): string {
  return join(dirname(file), `${stem(file)}${compare ? `-vs-${stem(compare)}` : ''}.html`);
}

export interface ReportResult {
  output: string;
  runs: Run[];
  bytes: number;
}

/** Reads the run(s) and writes the report, whole or not at all. */
export async function writeReport(file: string, options: { compare?: string; output?: string; requests?: string } = {}): Promise<ReportResult> {
  const runs = [await readRun(file)];
  if (options.compare) runs.push(await readRun(options.compare));
  const requests = options.requests ? readRequestLog(options.requests) : undefined;
  const html = renderReport(runs, reportAssets(), { version: VERSION, generatedAt: new Date() }, requests);
  const output = options.output ?? defaultReportPath(file, options.compare);
  replaceFileSync(output, html);
  return { output, runs, bytes: Buffer.byteLength(html) };
}
