/**
 * The "vLLM" dashboard `parseable setup` provisions: tiles in the format Parseable's own UI
 * writes, as its one public example shows it (Parseable v2.9.5's resources/ingest_demo_data.sh:
 * a `chartQuery` of an x field (`p_timestamp`, type time, a granularity) and y fields with an
 * aggregate and a groupBy, on the stream named by `dbName`; a `config` for the chart; a grid
 * `layout`). That example uses the COUNT aggregate and no filter, and the UI that reads tiles is
 * not published, so the tiles keep to exactly that: counts per minute, grouped by a column.
 * What needs a filter or another aggregate (a metric's value, a percentile) is in the saved
 * queries, which are SQL (docs/parseable.md).
 *
 * Tile ids are ULIDs derived from each tile's key, so every run writes the same tiles and a
 * second run finds nothing to change.
 */
import { createHash } from 'node:crypto';

export const DASHBOARD_TITLE = 'vLLM';
/** Marks the dashboards setup made: one of the same title without it is the user's. */
export const DASHBOARD_TAG = 'vllm-metrics-proxy';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A valid ULID (26 Crockford characters, the first 0 to 7) that depends only on `key`. */
export function stableUlid(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  let out = CROCKFORD[digest[0]! % 8]!;
  for (let i = 1; i < 26; i++) out += CROCKFORD[digest[i]! % 32];
  return out;
}

interface TileSpec {
  key: string;
  title: string;
  stream: string;
  /** The column counted, and the one the counts are grouped by. */
  count: string;
  groupBy: string;
  yTitle: string;
  chart: 'bar' | 'line' | 'area';
}

function tile(spec: TileSpec, at: { x: number; y: number; w: number }): Record<string, unknown> {
  const id = stableUlid(`${DASHBOARD_TAG}/${spec.key}`);
  return {
    tile_id: id,
    title: spec.title,
    chartQuery: {
      x: { fields: [{ name: 'p_timestamp', type: 'time' }], granularity: 'minute' },
      y: { fields: [{ name: spec.count, aggregate: 'COUNT' }], groupBy: [spec.groupBy] },
      filters: [],
    },
    dbName: spec.stream,
    chartType: 'timeseries',
    config: {
      type: spec.chart,
      colourScheme: 'forest',
      layout: { legendPosition: 'bottom' },
      axes: { x: { field: 'time_bucket', title: 'Time' }, y: { field: `COUNT_${spec.count}`, title: spec.yTitle } },
    },
    layout: { w: at.w, h: 8, x: at.x, y: at.y, i: id },
  };
}

/** The tiles, for the two streams. */
export function dashboardTiles(metricsStream: string, requestsStream: string): Array<Record<string, unknown>> {
  const specs: TileSpec[] = [
    {
      key: 'requests-by-model',
      title: 'Requests per minute, by model',
      stream: requestsStream,
      count: 'id',
      groupBy: 'model',
      yTitle: 'Requests',
      chart: 'bar',
    },
    {
      key: 'requests-by-status',
      title: 'Requests per minute, by HTTP status',
      stream: requestsStream,
      count: 'id',
      groupBy: 'status',
      yTitle: 'Requests',
      chart: 'bar',
    },
    {
      key: 'finish-reason',
      title: 'Requests per minute, by finish reason',
      stream: requestsStream,
      count: 'id',
      groupBy: 'finish_reason',
      yTitle: 'Requests',
      chart: 'area',
    },
    {
      key: 'errors',
      title: 'Failed requests per minute, by kind',
      stream: requestsStream,
      count: 'error_kind',
      groupBy: 'error_kind',
      yTitle: 'Errors',
      chart: 'bar',
    },
    {
      key: 'metric-rows',
      title: 'Metric rows per minute, by metric (what the streams keep)',
      stream: metricsStream,
      count: 'metric_name',
      groupBy: 'metric_name',
      yTitle: 'Rows',
      chart: 'line',
    },
  ];
  return specs.map((s, i) => tile(s, { x: (i % 2) * 6, y: Math.floor(i / 2) * 8, w: i === specs.length - 1 ? 12 : 6 }));
}
