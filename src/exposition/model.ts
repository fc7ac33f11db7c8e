/**
 * What a parsed exposition is: families of samples, as the text formats define
 * them. Pure data; the parser builds it, the OTLP mapping and the collector read it.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown';

/** Label name to value, in exposition order. Null prototype: `__proto__` is a legal label name. */
export type Labels = Record<string, string>;

export interface Exemplar {
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch, when the exemplar carries one. */
  timestampMs?: number;
}

export interface Sample {
  /** The full sample name, suffix included (`vllm:prompt_tokens_total`). */
  name: string;
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch (OpenMetrics seconds are converted). */
  timestampMs?: number;
  exemplar?: Exemplar;
}

export interface MetricFamily {
  /** The name from TYPE/HELP, or the sample name when there was no metadata. */
  name: string;
  type: MetricType;
  help?: string;
  unit?: string;
  samples: Sample[];
}

export type ExpositionFormat = 'openmetrics' | 'prometheus';

export function newLabels(): Labels {
  return Object.create(null) as Labels;
}

/** The exposition format a Content-Type names; Prometheus text for anything else. */
export function formatOfContentType(contentType: string | undefined): ExpositionFormat {
  return contentType !== undefined && /^\s*application\/openmetrics-text\b/i.test(contentType) ? 'openmetrics' : 'prometheus';
}
