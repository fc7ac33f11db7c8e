/**
 * KEDA's metrics-api trigger, the part that can run here: it GETs the URL, refuses a non-200
 * answer, and reads the value at `valueLocation` with tidwall/gjson; a number (or a string
 * that parses as a Kubernetes quantity) is the metric, anything else is an error of the
 * trigger (kedacore/keda pkg/scalers/metrics_api_scaler.go, getValueFromJSONResponse). The
 * path is evaluated by the real gjson library (Go, built once per run), not by our reading of
 * its syntax.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './fluent-bit.js';

const run = promisify(execFile);
export const GJSON_GOPATH = '/usr/share/gocode';

export interface Gjson {
  /** gjson.GetBytes(body, path): the result's type (Number, String, Null, JSON, ...) and raw text. */
  get(body: string, path: string): Promise<{ type: string; raw: string }>;
  close(): void;
}

export async function buildGjson(): Promise<Gjson> {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-gjson-'));
  const bin = join(dir, 'gjson');
  // GOPATH mode: the library comes from Debian's source package, nothing is downloaded.
  await run('go', ['build', '-o', bin, join(REPO, 'test', 'helpers', 'gjson', 'main.go')], {
    env: { ...process.env, GO111MODULE: 'off', GOPATH: GJSON_GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
  });
  return {
    get: (body, path) =>
      new Promise((resolve, reject) => {
        const child = spawn(bin, [path], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          if (code !== 0) return reject(new Error(`gjson ${path}: exit ${code}: ${err}`));
          const [type, ...raw] = out.split('\n');
          resolve({ type: type!, raw: raw.join('\n').trimEnd() });
        });
        child.stdin.end(body);
      }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What the trigger makes of an answer: the metric, or the error KEDA would report. */
export async function metricsApiValue(gjson: Gjson, status: number, body: string, valueLocation: string): Promise<{ value?: number; error?: string }> {
  if (status !== 200) return { error: `api returned ${status}` };
  const r = await gjson.get(body, valueLocation);
  if (r.type === 'Number') return { value: Number(r.raw) };
  // KEDA would try a string as a Kubernetes quantity; /saturation never puts one at a value.
  if (r.type === 'String') return { error: `a string (${r.raw}): not modelled here` };
  return { error: `valueLocation must point to a numeric value, got ${r.type}` };
}
