/**
 * `--otlp-names genai`: the few vLLM and SGLang histograms that OpenTelemetry's GenAI semantic
 * conventions name, under those names, on the OTLP paths (the relay and the direct push).
 * Only what matches, per the GenAI conventions of open-telemetry/semantic-conventions-genai
 * v0.1.0 (docs/gen-ai/gen-ai-metrics.md, "Generative AI model server metrics", status
 * Development; the same three as semantic-conventions v1.41.0 before the move):
 *
 * - `gen_ai.server.time_to_first_token` (histogram, s): "time to generate first token for
 *   successful responses": vLLM's and SGLang's time_to_first_token_seconds.
 * - `gen_ai.server.request.duration` (histogram, s): "server request duration such as
 *   time-to-last byte or last output token": their e2e_request_latency_seconds.
 * - `gen_ai.server.time_per_output_token` (histogram, s): "time per output token generated
 *   after the first token", one value per request: vLLM's
 *   request_time_per_output_token_seconds. Not inter_token_latency_seconds (nor the old
 *   time_per_output_token_seconds), which observe every gap between two tokens.
 *
 * Their points get `gen_ai.request.model` from `model_name` (which they no longer carry)
 * and `gen_ai.provider.name` `vllm` or `sglang` (no well-known value fits; the conventions
 * allow a custom one). `gen_ai.operation.name` is Required there, but vLLM's histograms
 * do not tell chat from completions: it is left out rather than guessed. Every other
 * metric keeps its name. In place.
 */
import { DataPointType, type MetricData, type ResourceMetrics as SdkResourceMetrics } from '@opentelemetry/sdk-metrics';
import { vocabulary } from '../names/vocabulary.js';
import { MODEL_ATTRIBUTE } from './resource.js';
import type { KeyValue, MetricsRequest } from './types.js';

export const OTLP_NAMES = ['vllm', 'genai'] as const;
export type OtlpNames = (typeof OTLP_NAMES)[number];

export const GENAI_NAMES: Readonly<Record<string, string>> = {
  time_to_first_token_seconds: 'gen_ai.server.time_to_first_token',
  e2e_request_latency_seconds: 'gen_ai.server.request.duration',
  request_time_per_output_token_seconds: 'gen_ai.server.time_per_output_token',
};

/** The names it gives, which the Parseable encoder keeps as they are. */
export const GENAI_METRIC_NAMES: ReadonlySet<string> = new Set(Object.values(GENAI_NAMES));

export function applyGenaiNames(request: MetricsRequest): MetricsRequest {
  const v = vocabulary();
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        if (!m.histogram) continue;
        const r = v.resolve(m.name);
        const name = r && GENAI_NAMES[r.family.canonical];
        if (!name) continue;
        m.name = name;
        m.unit = 's';
        for (const p of m.histogram.dataPoints ?? []) {
          const attrs: KeyValue[] = [];
          for (const kv of p.attributes ?? []) {
            if (kv.key === 'model_name') attrs.push({ key: 'gen_ai.request.model', value: kv.value });
            else attrs.push(kv);
          }
          attrs.push({ key: 'gen_ai.provider.name', value: { stringValue: r.spelling.engine } });
          p.attributes = attrs;
        }
      }
    }
  }
  return request;
}

/** The same for the direct push's SDK objects (a new list; the points' attributes copied). */
export function applyGenaiNamesSdk(resources: SdkResourceMetrics[]): SdkResourceMetrics[] {
  const v = vocabulary();
  return resources.map((rm) => ({
    ...rm,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      ...sm,
      metrics: sm.metrics.map((m): MetricData => {
        if (m.dataPointType !== DataPointType.HISTOGRAM) return m;
        const r = v.resolve(m.descriptor.name);
        const name = r && GENAI_NAMES[r.family.canonical];
        if (!name) return m;
        const model = rm.resource.attributes[MODEL_ATTRIBUTE];
        return {
          ...m,
          descriptor: { ...m.descriptor, name, unit: 's' },
          dataPoints: m.dataPoints.map((p) => {
            const { model_name: own, ...rest } = p.attributes;
            const requested = own ?? model;
            return {
              ...p,
              attributes: { ...rest, ...(requested !== undefined ? { 'gen_ai.request.model': requested } : {}), 'gen_ai.provider.name': r.spelling.engine },
            };
          }),
        } as MetricData;
      }),
    })),
  }));
}
