/**
 * The Parseable stand-in's management API: the part `parseable setup` uses, answering as the
 * v2.9.5 source does (src/handlers/http/logstream.rs, users/filters.rs, about.rs; DESIGN.md,
 * "Parseable's management API"), strictly:
 *
 * - basic auth: no Authorization header 401, wrong credentials 403;
 * - GET /about; GET /logstream ([{name}]); PUT /logstream/{name} (X-P-Log-Source, default
 *   json; an existing stream 400 unless X-P-Update-Stream: true; X-P-Stream-Type other than
 *   UserDefined or Internal is a 500, as the handler's crash); GET /logstream/{name}/info
 *   (camelCase StreamInfo, 404 for a missing stream);
 * - GET|PUT /logstream/{name}/retention: a bare array of {description, action, duration},
 *   all three required, action only delete, duration Nd with N from 1 to 36500, one task per
 *   action;
 * - GET|POST /filters, PUT|DELETE /filters/{id}: stream_name of letters, digits, - and _ and
 *   no SQL word; filter_name and query.filter_type (filter|sql|search) required; the server
 *   sets filter_id (a ULID), user_id and version "v2"; no duplicate check.
 * - dashboards (users/dashboards.rs): POST /dashboards needs a `title` (unique: 400 "Dashboard
 *   title must be unique") and answers with the server's `dashboardId` (a ULID), `author`,
 *   `version` "v1", `dashboardType` "Dashboard", `created`, `modified` and `tiles: []` (tiles
 *   sent on create are dropped); PUT /dashboards/{id} takes the whole body, every tile with a
 *   non-nil `tile_id` ULID, all different; a malformed id is a 400, an unknown one 400 "does not
 *   exist or user is not authorized"; GET /dashboards lists summaries, GET /dashboards/{id} one.
 * A `withoutFilters` or `withoutDashboards` stand-in answers 404 there, as an older Parseable.
 */
import { randomBytes } from 'node:crypto';

export interface StreamState {
  logSource: string;
  rows: Array<Record<string, unknown>>;
  streamType?: string;
  createdAt?: string;
  retention?: unknown[];
}

type Answer = [number, string];

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A ULID: 48 bits of milliseconds, 80 random bits, in Crockford's base 32. */
export function ulid(now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i]! % 32];
  return time + rand;
}

const SQL_WORDS = new Set(['select', 'from', 'where', 'sql', 'group', 'order', 'by', 'join', 'table', 'insert', 'delete', 'update', 'drop', 'create', 'limit']);

export class ManagementApi {
  readonly filters = new Map<string, Record<string, unknown>>();
  /** Answer 404 on /filters, as a Parseable without saved queries. */
  withoutFilters = false;
  readonly dashboards = new Map<string, Record<string, unknown>>();
  /** Answer 404 on /dashboards, as a Parseable without them. */
  withoutDashboards = false;
  version = 'v2.9.5';

  constructor(private readonly streams: Map<string, StreamState>) {}

  /** undefined: not a management path. */
  handle(method: string, path: string, headers: Record<string, string | string[] | undefined>, body: string, expected: string): Answer | undefined {
    const m = /^\/api\/v1\/(about|logstream|filters|dashboards)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return undefined;
    if (headers.authorization === undefined) return [401, ''];
    if (headers.authorization !== expected) return [403, 'Forbidden'];
    const [, area, id, sub] = m;
    if (area === 'about' && method === 'GET' && !id) return [200, JSON.stringify({ version: this.version, mode: 'Standalone', license: { plan: 'OSS' } })];
    if (area === 'logstream') return this.#logstream(method, id && decodeURIComponent(id), sub, headers, body);
    if (area === 'filters') return this.withoutFilters ? [404, ''] : this.#filters(method, id, body);
    if (area === 'dashboards') return this.withoutDashboards ? [404, ''] : this.#dashboards(method, id, body);
    return [404, ''];
  }

  #logstream(method: string, name: string | undefined, sub: string | undefined, headers: Record<string, string | string[] | undefined>, body: string): Answer {
    if (!name) return method === 'GET' ? [200, JSON.stringify([...this.streams.keys()].map((n) => ({ name: n })))] : [405, ''];
    const stream = this.streams.get(name);
    if (!sub && method === 'PUT') {
      const type = headers['x-p-stream-type'] ?? 'UserDefined';
      if (type !== 'UserDefined' && type !== 'Internal') return [500, ''];
      if (stream && headers['x-p-update-stream'] !== 'true') return [400, `Log stream ${name} already exists`];
      const logSource = String(headers['x-p-log-source'] ?? 'json');
      if (!stream) this.streams.set(name, { logSource, rows: [], streamType: String(type), createdAt: new Date().toISOString() });
      return [200, 'Log stream created'];
    }
    if (!stream) return [404, `Stream ${name} not found`];
    if (sub === 'info' && method === 'GET')
      return [
        200,
        JSON.stringify({
          createdAt: stream.createdAt ?? new Date().toISOString(),
          streamType: stream.streamType ?? 'UserDefined',
          logSource: [{ log_source_format: stream.logSource, fields: [] }],
          telemetryType: stream.logSource === 'otel-metrics' ? 'metrics' : 'logs',
          hotTierEnabled: false,
        }),
      ];
    if (sub === 'retention' && method === 'GET') return [200, JSON.stringify(stream.retention ?? [])];
    if (sub === 'retention' && method === 'PUT') {
      let tasks: unknown;
      try {
        tasks = JSON.parse(body);
      } catch (err) {
        return [400, `Json deserialize error: ${(err as Error).message}`];
      }
      if (!Array.isArray(tasks)) return [400, 'Json deserialize error: invalid type: expected a sequence'];
      const actions = new Set<string>();
      for (const t of tasks as Array<Record<string, unknown>>) {
        for (const f of ['description', 'action', 'duration']) if (typeof t?.[f] !== 'string') return [400, `Json deserialize error: missing field \`${f}\``];
        if (t.action !== 'delete') return [400, `Json deserialize error: unknown variant \`${String(t.action)}\`, expected \`delete\``];
        const d = /^(\d+)d$/.exec(String(t.duration));
        if (!d || Number(d[1]) < 1 || Number(d[1]) > 36_500) return [400, 'duration must be in days, from 1d to 36500d'];
        if (actions.has(t.action)) return [400, 'only one task per action'];
        actions.add(t.action);
      }
      stream.retention = tasks;
      return [200, `set retention configuration for log stream ${name}`];
    }
    return [404, ''];
  }

  #dashboards(method: string, id: string | undefined, body: string): Answer {
    const summary = (d: Record<string, unknown>) => {
      const { title, author, created, modified, dashboardId, tags, isFavorite } = d;
      return { title, author, created, modified, dashboardId, tags, isFavorite };
    };
    if (!id) {
      if (method === 'GET') return [200, JSON.stringify([...this.dashboards.values()].map(summary))];
      if (method !== 'POST') return [405, ''];
    } else if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(id)) return [400, `Invalid dashboard ID: ${id}`];
    let d: Record<string, unknown> = {};
    if (method === 'POST' || method === 'PUT') {
      try {
        d = JSON.parse(body) as Record<string, unknown>;
      } catch (err) {
        return [400, `Json deserialize error: ${(err as Error).message}`];
      }
      if (typeof d.title !== 'string' || d.title === '') return [400, 'Title must be provided'];
      if ([...this.dashboards.values()].some((x) => x.title === d.title && x.dashboardId !== id)) return [400, 'Dashboard title must be unique'];
    }
    if (method === 'POST') {
      const now = new Date().toISOString();
      const made = { ...d, dashboardId: ulid(), author: 'hash-of-admin', version: 'v1', dashboardType: 'Dashboard', created: now, modified: now, tiles: [] };
      this.dashboards.set(made.dashboardId, made);
      return [200, JSON.stringify(made)];
    }
    const existing = this.dashboards.get(id!);
    if (!existing) return [400, 'Dashboard does not exist or user is not authorized'];
    if (method === 'GET') return [200, JSON.stringify(existing)];
    if (method === 'DELETE') return (this.dashboards.delete(id!), [200, '']);
    if (method !== 'PUT') return [405, ''];
    const tiles = (d.tiles ?? []) as Array<Record<string, unknown>>;
    if (!Array.isArray(tiles)) return [400, 'Json deserialize error: tiles: expected a sequence'];
    const ids = tiles.map((t) => t.tile_id);
    for (const t of ids)
      if (typeof t !== 'string' || !/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(t)) return [400, `Json deserialize error: invalid ULID tile_id ${String(t)}`];
    if (ids.some((t) => t === '00000000000000000000000000')) return [400, 'Tile ID must be provided'];
    if (new Set(ids).size !== ids.length) return [400, 'Tile IDs must be unique'];
    const updated = {
      ...d,
      dashboardId: id,
      author: existing.author,
      version: 'v1',
      dashboardType: 'Dashboard',
      created: existing.created,
      modified: new Date().toISOString(),
    };
    this.dashboards.set(id!, updated);
    return [200, JSON.stringify(updated)];
  }

  #filters(method: string, id: string | undefined, body: string): Answer {
    if (method === 'GET' && !id) return [200, JSON.stringify([...this.filters.values()])];
    if (method === 'DELETE' && id) return this.filters.delete(id) ? [200, ''] : [400, 'Filter does not exist or user is not authorized'];
    if ((method === 'POST' && !id) || (method === 'PUT' && id)) {
      let f: Record<string, unknown>;
      try {
        f = JSON.parse(body) as Record<string, unknown>;
      } catch (err) {
        return [400, `Json deserialize error: ${(err as Error).message}`];
      }
      for (const k of ['stream_name', 'filter_name']) if (typeof f[k] !== 'string') return [400, `Json deserialize error: missing field \`${k}\``];
      const q = f.query as Record<string, unknown> | undefined;
      if (typeof q !== 'object' || q === null) return [400, 'Json deserialize error: missing field `query`'];
      if (!['filter', 'sql', 'search'].includes(String(q.filter_type))) return [400, `Json deserialize error: unknown variant \`${String(q.filter_type)}\``];
      const stream = String(f.stream_name);
      if (!/^[A-Za-z0-9_-]+$/.test(stream) || SQL_WORDS.has(stream.toLowerCase())) return [400, `Invalid stream name ${stream}`];
      if (method === 'PUT' && !this.filters.has(id!)) return [400, 'Filter does not exist or user is not authorized'];
      const saved = { ...f, filter_id: id ?? ulid(), user_id: 'hash-of-admin', version: 'v2' };
      this.filters.set(saved.filter_id, saved);
      return [200, JSON.stringify(saved)];
    }
    return [405, ''];
  }
}
