/**
 * A stand-in for Parseable OSS's OTLP metrics ingest (Parseable cannot run on
 * these machines). It enforces every rule DESIGN.md records ("Parseable OSS"), and
 * answers the way Parseable does when one is broken, so a test passing here
 * means the request would be accepted by the real one:
 *
 * - POST /v1/metrics, basic auth (P_USERNAME/P_PASSWORD) or 401;
 * - headers X-P-Stream and X-P-Log-Source: otel-metrics, else 400;
 * - Content-Type exactly application/json; protobuf gets Parseable's own 400 text;
 * - body: OTLP/JSON MetricsData as the serde mapping of opentelemetry-proto 0.32
 *   reads it: camelCase keys; times on number and histogram points as decimal
 *   strings or integer numbers; `count`, `bucketCounts`, `asInt` plain integer
 *   numbers; summary and exponential-histogram points with every field present
 *   and plain-number times (their proto3 `optional` fields sum/min/max excepted);
 * - a stream is created on first ingest and keeps its log source;
 * - each data point becomes a row with Parseable's column names;
 * - JSON logs on POST /api/v1/ingest: basic auth, X-P-Stream, X-P-Log-Source absent
 *   or `json`, an object or an array of objects, each a row; a stream keeps the log
 *   source it was created for.
 * - the management API `parseable setup` uses: test/helpers/parseable-api.ts.
 * It can also be down, slow, or answer a fixed error, for the fault tests.
 */
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { ManagementApi } from './parseable-api.js';

export type Row = Record<string, unknown>;

export class MetricsDataError extends Error {}

export interface ParseableOptions {
  username?: string;
  password?: string;
  /** Keep every stream's rows in `<dataDir>/<stream>.jsonl` and load them at start, as Parseable keeps its data on disk. */
  dataDir?: string;
  /** Where to listen (default 127.0.0.1). */
  host?: string;
}

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  status: number;
  answer: string;
}

export class ParseableStandIn {
  readonly username: string;
  readonly password: string;
  /** Rows per stream. */
  readonly streams = new Map<string, { logSource: string; rows: Row[]; retention?: unknown[] }>();
  /** Streams, retention and saved queries (test/helpers/parseable-api.ts). */
  readonly api = new ManagementApi(this.streams);
  /** Every request, accepted or not. */
  readonly requests: Received[] = [];
  /** Answer every ingest with this instead of processing it. */
  failWith: { status: number; text: string } | undefined;
  /** Wait this long before answering (a slow Parseable). */
  delayMs = 0;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  readonly #dataDir: string | undefined;
  readonly #host: string;
  port = 0;

  constructor(options: ParseableOptions = {}) {
    this.username = options.username ?? 'parseable-test';
    this.password = options.password ?? 's3cret-test-password';
    this.#dataDir = options.dataDir;
    this.#host = options.host ?? '127.0.0.1';
    if (this.#dataDir) this.#load(this.#dataDir);
  }

  #load(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir)) {
      const m = /^(.+)\.jsonl$/.exec(file);
      if (!m) continue;
      const lines = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      const [head, ...rows] = lines.map((l) => JSON.parse(l) as Row);
      this.streams.set(m[1]!, { logSource: String(head!.logSource), rows });
    }
  }

  #persist(stream: string, logSource: string, rows: Row[]): void {
    if (!this.#dataDir) return;
    const file = join(this.#dataDir, `${stream}.jsonl`);
    const head = existsSync(file) ? '' : `${JSON.stringify({ logSource })}\n`;
    appendFileSync(file, head + rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  rows(stream = 'vLLMmetrics'): Row[] {
    return this.streams.get(stream)?.rows ?? [];
  }

  /** Listen (again) on the same port, so a "Parseable is back" test keeps its URL. */
  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.listen(port, this.#host);
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Go down: refuse connections until start() again. */
  async stop(): Promise<void> {
    if (!this.#server) return;
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
    await once(this.#server, 'close').catch(() => {});
    this.#server = undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    // A client that gave up is not ingested (the real one may have; the relay's retry would then duplicate: see docs/otlp.md).
    if (req.socket.destroyed) return;
    const [status, answer] = this.#ingest(req, body);
    if (!req.url?.startsWith('/standin/')) this.requests.push({ headers: req.headers, body, status, answer });
    res.writeHead(status, { 'content-type': 'text/plain' }).end(answer);
  }

  /** JSON logs (DESIGN.md): basic auth, X-P-Stream, X-P-Log-Source absent or json, an object or an array of objects. */
  #ingestLogs(req: IncomingMessage, body: string, expected: string): [number, string] {
    if (req.headers.authorization !== expected) return [401, 'Unauthorized'];
    if (this.failWith) return [this.failWith.status, this.failWith.text];
    const stream = req.headers['x-p-stream'];
    if (typeof stream !== 'string' || stream === '') return [400, 'Stream name not present in header X-P-Stream'];
    const source = req.headers['x-p-log-source'] ?? 'json';
    if (source !== 'json') return [400, `log source ${String(source)} is not accepted on /api/v1/ingest: use /v1/logs for OTLP`];
    const existing = this.streams.get(stream);
    if (existing && existing.logSource !== 'json') return [400, `stream ${stream} was created for log source ${existing.logSource}`];
    let rows: Row[];
    try {
      rows = logRows(body);
    } catch (err) {
      return [400, `Failed to parse the JSON body: ${(err as Error).message}`];
    }
    if (!existing) this.streams.set(stream, { logSource: 'json', rows: [] });
    this.streams.get(stream)!.rows.push(...rows);
    this.#persist(stream, 'json', rows);
    return [200, ''];
  }

  #ingest(req: IncomingMessage, body: string): [number, string] {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && (url.pathname === '/api/v1/liveness' || url.pathname === '/api/v1/readiness')) return [200, ''];
    const expected = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    // Not Parseable's: how a test in another process (the container stack test) reads what arrived.
    if (req.method === 'GET' && url.pathname.startsWith('/standin/')) {
      if (req.headers.authorization !== expected) return [401, 'Unauthorized'];
      if (url.pathname === '/standin/requests')
        return [200, JSON.stringify(this.requests.map((r) => ({ status: r.status, answer: r.answer, stream: r.headers['x-p-stream'] })))];
      const stream = /^\/standin\/rows\/([^/]+)$/.exec(url.pathname)?.[1];
      if (stream) return [200, JSON.stringify(this.rows(decodeURIComponent(stream)))];
      return [404, 'not found'];
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/ingest') return this.#ingestLogs(req, body, expected);
    const managed = this.api.handle(req.method ?? 'GET', url.pathname, req.headers, body, expected);
    if (managed) return managed;
    if (req.method !== 'POST' || url.pathname !== '/v1/metrics') return [404, 'not found'];
    if (req.headers.authorization !== expected) return [401, 'Unauthorized'];
    if (this.failWith) return [this.failWith.status, this.failWith.text];
    const stream = req.headers['x-p-stream'];
    const logSource = req.headers['x-p-log-source'];
    if (typeof stream !== 'string' || stream === '') return [400, 'Stream name not present in header X-P-Stream'];
    if (logSource !== 'otel-metrics') return [400, 'Log source header X-P-Log-Source must be otel-metrics for /v1/metrics'];
    const type = req.headers['content-type'];
    if (type === 'application/x-protobuf') return [400, 'Protobuf ingestion is not supported in Parseable OSS'];
    if (type !== 'application/json') return [400, `Unsupported Content-Type: ${type ?? '(none)'}`];
    const existing = this.streams.get(stream);
    if (existing && existing.logSource !== logSource) return [400, `stream ${stream} was created for log source ${existing.logSource}`];
    let rows: Row[];
    try {
      rows = metricsDataRows(parseExactJson(body));
    } catch (err) {
      return [400, `Failed to decode OTEL metrics: ${(err as Error).message}`];
    }
    if (!existing) this.streams.set(stream, { logSource, rows: [] });
    this.streams.get(stream)!.rows.push(...rows);
    this.#persist(stream, logSource, rows);
    return [200, ''];
  }
}

// --- JSON logs: POST /api/v1/ingest ------------------------------------------

export function logRows(body: string): Row[] {
  const parsed = JSON.parse(body) as unknown;
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const [i, v] of list.entries()) if (!isObj(v)) throw new MetricsDataError(`event ${i} is not a JSON object`);
  return list as Row[];
}

// --- the serde contract, as pure functions -----------------------------------

/** A bare JSON integer too long for a double, kept exact (serde reads u64 exactly; JSON.parse would round). */
class BigInteger {
  constructor(readonly digits: string) {}
}

/** JSON.parse, except that bare integers of 16+ digits become BigInteger. */
export function parseExactJson(text: string): unknown {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![.\deE])/g, (m) => (m.startsWith('"') ? m : `{"$exactInteger":"${m}"}`));
  return JSON.parse(marked, (_k, v) => (isObj(v) && typeof v.$exactInteger === 'string' && Object.keys(v).length === 1 ? new BigInteger(v.$exactInteger) : v));
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof BigInteger);

function fail(path: string, what: string): never {
  throw new MetricsDataError(`${path}: ${what}`);
}

function obj(v: unknown, path: string): Obj {
  if (!isObj(v)) fail(path, 'expected an object');
  return v;
}

function arr(v: unknown, path: string, optional = true): unknown[] {
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) fail(path, 'expected an array');
  return v;
}

function str(v: unknown, path: string, optional = true): string {
  if (v === undefined && optional) return '';
  if (typeof v !== 'string') fail(path, 'expected a string');
  return v;
}

/** A plain JSON integer: quoted is rejected, as serde rejects "4" for a u64. */
function plainInt(v: unknown, path: string): number {
  if (v instanceof BigInteger) return Number(v.digits);
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `expected a plain integer number, got ${JSON.stringify(v)}`);
  return v;
}

function num(v: unknown, path: string): number {
  if (typeof v !== 'number') fail(path, `expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Times on number/histogram points: decimal string or integer number. */
function lenientTime(v: unknown, path: string): string {
  if (v === undefined) return '0';
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  if (v instanceof BigInteger && /^\d+$/.test(v.digits)) return v.digits;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
  fail(path, `expected nanoseconds as a decimal string or number, got ${JSON.stringify(v)}`);
}

/** Times on summary and exponential-histogram points: plain numbers only. */
function plainTime(v: unknown, path: string): string {
  if (typeof v === 'string') fail(path, `expected nanoseconds as a plain number, got ${JSON.stringify(v)}`);
  return lenientTime(v, path);
}

function required(p: Obj, fields: string[], path: string): void {
  for (const f of fields) if (!(f in p)) fail(path, `missing field \`${f}\``);
}

function anyValue(v: unknown, path: string): unknown {
  const o = obj(v, path);
  if ('stringValue' in o) return str(o.stringValue, `${path}.stringValue`, false);
  if ('boolValue' in o) return o.boolValue;
  if ('intValue' in o) return plainInt(o.intValue, `${path}.intValue`);
  if ('doubleValue' in o) return num(o.doubleValue, `${path}.doubleValue`);
  if ('arrayValue' in o)
    return arr(obj(o.arrayValue, `${path}.arrayValue`).values, `${path}.arrayValue.values`).map((x, i) => anyValue(x, `${path}.arrayValue.values[${i}]`));
  if ('kvlistValue' in o) return attributes(obj(o.kvlistValue, path).values, `${path}.kvlistValue.values`);
  if ('bytesValue' in o) return str(o.bytesValue, path);
  fail(path, 'unknown AnyValue variant');
}

function attributes(v: unknown, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  arr(v, path).forEach((kv, i) => {
    const o = obj(kv, `${path}[${i}]`);
    out[str(o.key, `${path}[${i}].key`, false)] = o.value === undefined ? null : anyValue(o.value, `${path}[${i}].value`);
  });
  return out;
}

/** Decode MetricsData the way Parseable does, and flatten it to rows. */
export function metricsDataRows(data: unknown): Row[] {
  const rows: Row[] = [];
  const top = obj(data, '$');
  for (const key of Object.keys(top)) if (key !== 'resourceMetrics') fail('$', `unknown field \`${key}\``);
  arr(top.resourceMetrics, '$.resourceMetrics', false).forEach((rmv, ri) => {
    const rp = `$.resourceMetrics[${ri}]`;
    const rm = obj(rmv, rp);
    const resource = rm.resource === undefined ? {} : attributes(obj(rm.resource, `${rp}.resource`).attributes, `${rp}.resource.attributes`);
    arr(rm.scopeMetrics, `${rp}.scopeMetrics`).forEach((smv, si) => {
      const sp = `${rp}.scopeMetrics[${si}]`;
      const sm = obj(smv, sp);
      arr(sm.metrics, `${sp}.metrics`).forEach((mv, mi) => {
        const mp = `${sp}.metrics[${mi}]`;
        const m = obj(mv, mp);
        const base: Row = {
          metric_name: str(m.name, `${mp}.name`, false),
          metric_description: str(m.description, `${mp}.description`),
          metric_unit: str(m.unit, `${mp}.unit`),
        };
        for (const [k, v] of Object.entries(resource)) base[k] = v;
        const kinds = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].filter((k) => k in m);
        if (kinds.length !== 1) fail(mp, `expected exactly one of gauge, sum, histogram, exponentialHistogram, summary; got ${kinds.join(', ') || 'none'}`);
        const kind = kinds[0]!;
        const d = obj(m[kind], `${mp}.${kind}`);
        const temporality =
          kind === 'gauge' || kind === 'summary' ? undefined : plainInt(d.aggregationTemporality ?? 0, `${mp}.${kind}.aggregationTemporality`);
        const monotonic = kind === 'sum' ? d.isMonotonic === true : undefined;
        arr(d.dataPoints, `${mp}.${kind}.dataPoints`).forEach((pv, pi) => {
          const pp = `${mp}.${kind}.dataPoints[${pi}]`;
          const p = obj(pv, pp);
          const row: Row = {
            ...base,
            metric_type: kind,
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
            ...attributes(p.attributes, `${pp}.attributes`),
          };
          if (kind === 'gauge' || kind === 'sum') {
            row.start_time_unix_nano = lenientTime(p.startTimeUnixNano, `${pp}.startTimeUnixNano`);
            row.time_unix_nano = lenientTime(p.timeUnixNano, `${pp}.timeUnixNano`);
            if ('asInt' in p) row.data_point_value = plainInt(p.asInt, `${pp}.asInt`);
            else if ('asDouble' in p) row.data_point_value = num(p.asDouble, `${pp}.asDouble`);
            else fail(pp, 'missing asDouble or asInt');
          } else if (kind === 'histogram') {
            row.start_time_unix_nano = lenientTime(p.startTimeUnixNano, `${pp}.startTimeUnixNano`);
            row.time_unix_nano = lenientTime(p.timeUnixNano, `${pp}.timeUnixNano`);
            row.data_point_count = plainInt(p.count, `${pp}.count`);
            if (p.sum !== undefined) row.data_point_sum = num(p.sum, `${pp}.sum`);
            const counts = arr(p.bucketCounts, `${pp}.bucketCounts`).map((c, i) => plainInt(c, `${pp}.bucketCounts[${i}]`));
            const bounds = arr(p.explicitBounds, `${pp}.explicitBounds`).map((b, i) => num(b, `${pp}.explicitBounds[${i}]`));
            // OTLP: one more bucket than bounds (or none at all).
            if (counts.length !== 0 && counts.length !== bounds.length + 1) fail(pp, `${counts.length} bucketCounts for ${bounds.length} explicitBounds`);
            // No check that the counts add up to `count`: Parseable stores them as sent (DESIGN.md), so the tests check it.
            row.data_point_bucket_counts = counts;
            row.data_point_explicit_bounds = bounds;
          } else if (kind === 'summary') {
            required(p, ['attributes', 'startTimeUnixNano', 'timeUnixNano', 'count', 'sum', 'quantileValues', 'flags'], pp);
            row.start_time_unix_nano = plainTime(p.startTimeUnixNano, `${pp}.startTimeUnixNano`);
            row.time_unix_nano = plainTime(p.timeUnixNano, `${pp}.timeUnixNano`);
            row.data_point_count = plainInt(p.count, `${pp}.count`);
            row.data_point_sum = num(p.sum, `${pp}.sum`);
            row.data_point_quantile_values = arr(p.quantileValues, `${pp}.quantileValues`).map((q, i) => {
              const qo = obj(q, `${pp}.quantileValues[${i}]`);
              required(qo, ['quantile', 'value'], `${pp}.quantileValues[${i}]`);
              return [num(qo.quantile, `${pp}.quantileValues[${i}].quantile`), num(qo.value, `${pp}.quantileValues[${i}].value`)];
            });
          } else {
            required(
              p,
              ['attributes', 'startTimeUnixNano', 'timeUnixNano', 'count', 'scale', 'zeroCount', 'positive', 'negative', 'flags', 'exemplars', 'zeroThreshold'],
              pp,
            );
            row.start_time_unix_nano = plainTime(p.startTimeUnixNano, `${pp}.startTimeUnixNano`);
            row.time_unix_nano = plainTime(p.timeUnixNano, `${pp}.timeUnixNano`);
            row.data_point_count = plainInt(p.count, `${pp}.count`);
            plainInt(p.zeroCount, `${pp}.zeroCount`);
            for (const side of ['positive', 'negative']) {
              const b = obj(p[side], `${pp}.${side}`);
              arr(b.bucketCounts, `${pp}.${side}.bucketCounts`).forEach((c, i) => plainInt(c, `${pp}.${side}.bucketCounts[${i}]`));
            }
          }
          rows.push(row);
        });
      });
    });
  });
  return rows;
}
