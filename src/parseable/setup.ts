/**
 * `parseable setup`: make a Parseable ready for the proxy's data: the two streams, their
 * retention, the project's saved queries and the "vLLM" dashboard. Idempotent: it matches what
 * it made by name (the dashboard by title and tag) and changes only what differs, so running it again, or after an upgrade that
 * changed a query, creates nothing twice.
 *
 * It reads everything first and checks what it can before the first change (the API exists,
 * the credentials work, a stream that exists takes the data it will get, a "vLLM" dashboard is
 * its own or --force was given), so a run that
 * cannot finish stops before it changed anything it could have foreseen.
 */
import { ParseableError } from '../errors.js';
import type { Dashboard, Filter, ParseableClient, RetentionTask } from './client.js';
import { DASHBOARD_TAG, DASHBOARD_TITLE, dashboardTiles } from './dashboard.js';
import type { SavedQuery } from './queries.js';

export interface SetupOptions {
  /** The stream of the metrics (OTLP) and of the request records (JSON). */
  metricsStream: string;
  requestsStream: string;
  /** Retention of both streams, in whole days. */
  retentionDays: number;
  queries: SavedQuery[];
  /** Replace the tiles of a dashboard titled "vLLM" that setup did not make. */
  force?: boolean;
}

/** JSON with every object's keys sorted: equal for equal content, whatever order a server keeps. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export type Change = { what: string; name: string; action: 'created' | 'updated' | 'unchanged'; detail?: string };

/** The saved query's name in Parseable: what it answers, marked as the project's. */
export const filterName = (q: SavedQuery) => `vLLM: ${q.name.replace(/_/g, ' ')}`;

export const RETENTION_DESCRIPTION = 'vllm-metrics-proxy: delete what is older';

export async function setupParseable(client: ParseableClient, o: SetupOptions): Promise<{ version?: string; changes: Change[]; dashboardId?: string }> {
  // Read and check first.
  const about = await client.about();
  const existing = new Set(await client.streams());
  const streams: Array<[string, string]> = [
    [o.metricsStream, 'otel-metrics'],
    [o.requestsStream, 'json'],
  ];
  const queries = o.queries.map((q) => ({
    ...q,
    stream: q.stream === 'vLLMmetrics' ? o.metricsStream : q.stream === 'vLLMrequests' ? o.requestsStream : q.stream,
    sql: q.sql.replace(/"vLLMmetrics"/g, `"${o.metricsStream}"`).replace(/"vLLMrequests"/g, `"${o.requestsStream}"`),
  }));
  for (const [name, source] of streams) {
    if (!existing.has(name)) continue;
    const info = await client.streamInfo(name);
    const sources = (info.logSource ?? []).map((s) => s.log_source_format);
    if (sources.length > 0 && !sources.includes(source))
      throw new ParseableError(
        `stream ${name} exists for log source ${sources.join(', ')}, and Parseable refuses ${source} data there: delete it, or name another stream (--${name === o.metricsStream ? 'metrics' : 'requests'}-stream)`,
        400,
      );
  }
  const filters = await client.filters();
  const retention = new Map<string, RetentionTask[]>();
  for (const [name] of streams) if (existing.has(name)) retention.set(name, await client.retention(name));
  const titled = (await client.dashboards()).find((d) => d.title === DASHBOARD_TITLE);
  const board: Dashboard | undefined = titled && (await client.dashboard(titled.dashboardId));
  if (board && !(board.tags ?? []).includes(DASHBOARD_TAG) && !o.force)
    throw new ParseableError(
      `a dashboard titled "${DASHBOARD_TITLE}" exists that setup did not make (no tag ${DASHBOARD_TAG}): rename it, or run again with --force to replace its tiles`,
      400,
    );

  // Then change what differs.
  const changes: Change[] = [];
  for (const [name, source] of streams) {
    if (existing.has(name)) changes.push({ what: 'stream', name, action: 'unchanged' });
    else {
      await client.createStream(name, source);
      changes.push({ what: 'stream', name, action: 'created', detail: source });
    }
  }
  const wanted: RetentionTask[] = [{ description: RETENTION_DESCRIPTION, action: 'delete', duration: `${o.retentionDays}d` }];
  for (const [name] of streams) {
    const now = retention.get(name) ?? [];
    const same = now.length === 1 && now[0]!.action === 'delete' && now[0]!.duration === wanted[0]!.duration;
    if (same) changes.push({ what: 'retention', name, action: 'unchanged', detail: wanted[0]!.duration });
    else {
      await client.setRetention(name, wanted);
      changes.push({
        what: 'retention',
        name,
        action: now.length ? 'updated' : 'created',
        detail: `${wanted[0]!.duration}${now.length ? ` (was ${now.map((r) => r.duration).join(', ')})` : ''}`,
      });
    }
  }
  for (const q of queries) {
    const body: Filter = { stream_name: q.stream, filter_name: filterName(q), query: { filter_type: 'sql', filter_query: q.sql }, time_filter: null };
    const found = filters.filter((f) => f.filter_name === body.filter_name && f.stream_name === body.stream_name);
    if (found.length === 0) {
      await client.createFilter(body);
      changes.push({ what: 'saved query', name: body.filter_name, action: 'created', detail: q.stream });
    } else if (found[0]!.query?.filter_type === 'sql' && found[0]!.query.filter_query === q.sql) {
      changes.push({ what: 'saved query', name: body.filter_name, action: 'unchanged', detail: q.stream });
    } else {
      await client.updateFilter(found[0]!.filter_id!, body);
      changes.push({ what: 'saved query', name: body.filter_name, action: 'updated', detail: q.stream });
    }
  }
  const tiles = dashboardTiles(o.metricsStream, o.requestsStream);
  const tags = [...new Set([...(board?.tags ?? []), DASHBOARD_TAG])];
  let dashboardId = board?.dashboardId;
  if (!board) {
    const made = await client.createDashboard(DASHBOARD_TITLE, tags);
    dashboardId = made.dashboardId;
    // Tiles sent on create are dropped: they go in with the update.
    await client.updateDashboard(made.dashboardId, { ...made, tags, tiles });
    changes.push({ what: 'dashboard', name: DASHBOARD_TITLE, action: 'created', detail: `${tiles.length} tiles` });
  } else if (canonical(board.tiles ?? []) === canonical(tiles) && canonical(board.tags ?? []) === canonical(tags)) {
    changes.push({ what: 'dashboard', name: DASHBOARD_TITLE, action: 'unchanged', detail: `${tiles.length} tiles` });
  } else {
    await client.updateDashboard(board.dashboardId, { ...board, tags, tiles });
    changes.push({ what: 'dashboard', name: DASHBOARD_TITLE, action: 'updated', detail: `${tiles.length} tiles` });
  }
  return { version: about.version, changes, dashboardId };
}
