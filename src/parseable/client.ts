/**
 * Parseable's management API, the part `parseable setup` uses (read in the v2.9.5 source,
 * src/handlers/http/: DESIGN.md, "Parseable's management API"): streams and their info,
 * retention, saved queries (filters). Basic auth. Every failure becomes a ParseableError
 * whose message says what to do, and never carries the password.
 */
import { request } from 'undici';
import { ParseableError } from '../errors.js';

export interface StreamInfo {
  createdAt?: string;
  logSource?: Array<{ log_source_format: string; fields?: string[] }>;
  streamType?: string;
}

export interface RetentionTask {
  description: string;
  action: 'delete';
  duration: string;
}

export interface Filter {
  filter_id?: string;
  stream_name: string;
  filter_name: string;
  query: { filter_type: 'filter' | 'sql' | 'search'; filter_query?: string | null };
  time_filter?: { from: string; to: string } | null;
  [other: string]: unknown;
}

export interface DashboardSummary {
  dashboardId: string;
  title: string;
  tags?: string[] | null;
}

export interface Dashboard extends DashboardSummary {
  tiles?: Array<Record<string, unknown>>;
  [other: string]: unknown;
}

export interface ParseableClientOptions {
  /** Parseable's origin, e.g. http://parseable:8000 (a path prefix is kept). */
  url: string;
  username: string;
  password: string;
  timeoutMs?: number;
}

export class ParseableClient {
  readonly base: string;
  readonly #auth: string;
  readonly #timeoutMs: number;

  constructor(o: ParseableClientOptions) {
    this.base = o.url.replace(/\/+$/, '');
    this.#auth = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
    this.#timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** GET /api/v1/liveness: Parseable answers at all (no credentials needed). */
  async live(): Promise<boolean> {
    try {
      const res = await request(`${this.base}/api/v1/liveness`, { headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /** GET /api/v1/about: the server's version and mode. */
  about(): Promise<{ version?: string; mode?: string }> {
    return this.#json('GET', '/api/v1/about', 'read the server version');
  }

  async streams(): Promise<string[]> {
    const list = await this.#json<Array<{ name: string }>>('GET', '/api/v1/logstream', 'list the streams');
    return list.map((s) => s.name);
  }

  streamInfo(name: string): Promise<StreamInfo> {
    return this.#json('GET', `/api/v1/logstream/${encodeURIComponent(name)}/info`, `read stream ${name}`);
  }

  /** PUT /api/v1/logstream/{name}, for the log source its data will have. */
  async createStream(name: string, logSource: string): Promise<void> {
    await this.#call('PUT', `/api/v1/logstream/${encodeURIComponent(name)}`, `create stream ${name}`, undefined, { 'x-p-log-source': logSource });
  }

  retention(name: string): Promise<RetentionTask[]> {
    return this.#json('GET', `/api/v1/logstream/${encodeURIComponent(name)}/retention`, `read the retention of ${name}`);
  }

  async setRetention(name: string, tasks: RetentionTask[]): Promise<void> {
    await this.#call('PUT', `/api/v1/logstream/${encodeURIComponent(name)}/retention`, `set the retention of ${name}`, tasks);
  }

  filters(): Promise<Filter[]> {
    return this.#json('GET', '/api/v1/filters', 'list the saved queries');
  }

  createFilter(f: Filter): Promise<Filter> {
    return this.#json('POST', '/api/v1/filters', `save the query "${f.filter_name}"`, f);
  }

  updateFilter(id: string, f: Filter): Promise<Filter> {
    return this.#json('PUT', `/api/v1/filters/${encodeURIComponent(id)}`, `update the saved query "${f.filter_name}"`, f);
  }

  dashboards(): Promise<DashboardSummary[]> {
    return this.#json('GET', '/api/v1/dashboards', 'list the dashboards');
  }

  dashboard(id: string): Promise<Dashboard> {
    return this.#json('GET', `/api/v1/dashboards/${encodeURIComponent(id)}`, 'read the dashboard');
  }

  /** POST: the server makes the id and drops any tiles (they go in with updateDashboard). */
  createDashboard(title: string, tags: string[]): Promise<Dashboard> {
    return this.#json('POST', '/api/v1/dashboards', `create the dashboard "${title}"`, { title, tags });
  }

  updateDashboard(id: string, body: Dashboard): Promise<Dashboard> {
    return this.#json('PUT', `/api/v1/dashboards/${encodeURIComponent(id)}`, `update the dashboard "${body.title}"`, body);
  }

  async #json<T>(method: string, path: string, what: string, body?: unknown): Promise<T> {
    const text = await this.#call(method, path, what, body);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ParseableError(`Parseable at ${this.base} answered ${method} ${path} with something that is not JSON: is that URL Parseable?`, 200);
    }
  }

  async #call(method: string, path: string, what: string, body?: unknown, headers: Record<string, string> = {}): Promise<string> {
    let res;
    try {
      res = await request(`${this.base}${path}`, {
        method: method as 'GET',
        headers: { authorization: this.#auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      throw new ParseableError(`cannot reach Parseable at ${this.base} to ${what} (${(err as Error).message}): check --parseable-url and that it is up`, 0);
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return text;
    const said = text.trim().slice(0, 300);
    const why =
      res.statusCode === 401
        ? 'Parseable asks for credentials: set P_USERNAME and P_PASSWORD (or --username, --password-file)'
        : res.statusCode === 403
          ? 'wrong credentials, or this user may not: setup needs an admin or editor account'
          : res.statusCode === 404 && !path.startsWith('/api/v1/logstream/')
            ? `this Parseable has no ${path} (${said || '404'}): it is older than the API setup uses (Parseable 2.x, as compose runs)`
            : `Parseable answered ${res.statusCode}${said ? `: ${said}` : ''}`;
    throw new ParseableError(`cannot ${what}: ${why}`, res.statusCode);
  }
}
