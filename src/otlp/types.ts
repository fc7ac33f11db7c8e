/**
 * OTLP metrics as plain objects, the shape protobufjs' `toObject` gives with
 * 64-bit integers as decimal strings (so no precision is lost on the way to JSON)
 * and bytes as base64. Fields at their default value may be absent.
 */

export type U64 = string;

export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: U64;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}

export interface KeyValue {
  key: string;
  value?: AnyValue;
}

export interface Exemplar {
  filteredAttributes?: KeyValue[];
  timeUnixNano?: U64;
  asDouble?: number;
  asInt?: U64;
  spanId?: string;
  traceId?: string;
}

interface PointBase {
  attributes?: KeyValue[];
  startTimeUnixNano?: U64;
  timeUnixNano?: U64;
  flags?: number;
}

export interface NumberDataPoint extends PointBase {
  asDouble?: number;
  asInt?: U64;
  exemplars?: Exemplar[];
}

export interface HistogramDataPoint extends PointBase {
  count?: U64;
  sum?: number;
  bucketCounts?: U64[];
  explicitBounds?: number[];
  exemplars?: Exemplar[];
  min?: number;
  max?: number;
}

export interface ExponentialHistogramDataPoint extends PointBase {
  count?: U64;
  sum?: number;
  scale?: number;
  zeroCount?: U64;
  positive?: { offset?: number; bucketCounts?: U64[] };
  negative?: { offset?: number; bucketCounts?: U64[] };
  exemplars?: Exemplar[];
  min?: number;
  max?: number;
  zeroThreshold?: number;
}

export interface SummaryDataPoint extends PointBase {
  count?: U64;
  sum?: number;
  quantileValues?: Array<{ quantile?: number; value?: number }>;
}

export interface Metric {
  name: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberDataPoint[] };
  sum?: { dataPoints?: NumberDataPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramDataPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { dataPoints?: ExponentialHistogramDataPoint[]; aggregationTemporality?: number };
  summary?: { dataPoints?: SummaryDataPoint[] };
  metadata?: KeyValue[];
}

export interface ScopeMetrics {
  scope?: { name?: string; version?: string; attributes?: KeyValue[]; droppedAttributesCount?: number };
  metrics?: Metric[];
  schemaUrl?: string;
}

export interface ResourceMetrics {
  resource?: { attributes?: KeyValue[]; droppedAttributesCount?: number };
  scopeMetrics?: ScopeMetrics[];
  schemaUrl?: string;
}

/** ExportMetricsServiceRequest, which is also the shape of MetricsData. */
export interface MetricsRequest {
  resourceMetrics?: ResourceMetrics[];
}

/** How many data points a request carries. */
export function countPoints(req: MetricsRequest): number {
  let n = 0;
  for (const rm of req.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
        n += data?.dataPoints?.length ?? 0;
      }
    }
  }
  return n;
}
