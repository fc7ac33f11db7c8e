import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConformanceCase {
  name: string;
  input: Buffer;
  shouldParse: boolean;
}

/** The vendored copy in test/fixtures/openmetrics, or OPENMETRICS_CONFORMANCE. */
export function conformanceDir(): string {
  if (process.env.OPENMETRICS_CONFORMANCE) return process.env.OPENMETRICS_CONFORMANCE;
  return join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'fixtures', 'openmetrics');
}

export function loadConformance(): ConformanceCase[] {
  const dir = conformanceDir();
  if (!existsSync(dir)) throw new Error(`OpenMetrics conformance suite not found at ${dir}`);
  const cases: ConformanceCase[] = [];
  for (const name of readdirSync(dir).sort()) {
    const testFile = join(dir, name, 'test.json');
    if (!existsSync(testFile)) continue;
    const meta = JSON.parse(readFileSync(testFile, 'utf8')) as { file: string; shouldParse: boolean; type: string };
    if (meta.type !== 'text') continue;
    cases.push({ name, input: readFileSync(join(dir, name, meta.file)), shouldParse: meta.shouldParse });
  }
  return cases;
}
