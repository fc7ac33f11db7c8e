/** Programmatic entry point: the same parts the CLI is built from. */
export { NameSanitizer, sanitizeBuffer, sanitizeName, toLegacyName, type Collision, type SanitizerOptions } from './exposition/sanitizer.js';
export { SanitizeStream, type SanitizeStreamOptions } from './exposition/sanitize-stream.js';
export { ExpositionParser, ExpositionParseError, parseExposition, type ParserOptions } from './exposition/parser.js';
export type { Exemplar, ExpositionFormat, Labels, MetricFamily, MetricType, Sample } from './exposition/model.js';
export { toResourceMetrics, StartTimes } from './otlp/from-exposition.js';
export { encodeForParseable } from './otlp/parseable-json.js';
export { decodeJson, decodeProtobuf, encodeProtobuf } from './otlp/proto.js';
export {
  startProxy,
  type FleetConfig,
  type OtlpConfig,
  type ProxyConfig,
  type PushgatewayConfig,
  type RunningProxy,
  type SpoolConfig,
} from './server/proxy.js';
export { checkProxyConfig } from './server/proxy-config.js';
export { Spool, type SpooledBatch } from './spool/spool.js';
export { renderText, toClassicFamilies } from './exposition/render.js';
export { TextMerge, type MergeIssue, type TextMergeOptions } from './fleet/text-merge.js';
export { FleetAggregator } from './fleet/aggregates.js';
export { PushgatewayClient, GatewayError, type GroupingKey } from './export/pushgateway.js';
export { parseTargetsText } from './targets/file.js';
export type { TargetSpec } from './targets/spec.js';
export { Simulator, DEFAULT_SIMULATOR_OPTIONS, type SimulatorOptions } from './simulator/simulator.js';
export { startSimulator, type RunningSimulator } from './simulator/start.js';
export { ConfigError, DataFileError, OtlpDecodeError, SimulatedApiError, SpoolError, UpstreamError, VmpError, type UpstreamErrorKind } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { parseDuration, parseBytes } from './units.js';
export { Collector, type CollectorOptions, type CollectorStats, type RoundResult } from './collect/collector.js';
export { selection, type Selection } from './collect/selection.js';
export { Deriver, AlreadyDerivedError, type DeriveStats } from './collect/derive.js';
export { counterDeltas, histogramQuantile, histogramWindows, type Delta, type HistogramPoint, type HistogramWindow, type Point } from './exposition/series.js';
export { postprocessFile, type PostprocessResult } from './collect/postprocess-file.js';
export { readRows, sniffFormat } from './store/read.js';
export { openRowStore, ROW_EXTENSIONS, type RowFormat } from './store/row-formats.js';
export { readRun, writeReport, type ReportResult } from './report/report-file.js';
export { renderReport } from './report/html.js';
export { RunBuilder, type Run } from './report/run.js';
export { JsonlStore } from './store/jsonl.js';
export { CsvStore } from './store/csv.js';
export { SqliteStore, SQLITE_SCHEMA } from './store/sqlite.js';
export { PromFileStore } from './store/prom-file.js';
export { PushgatewayStore } from './store/pushgateway.js';
export { DERIVED_TYPES, StoreError, type DerivedType, type Round, type Row, type RowStore, type Store, type TargetScrape } from './store/store.js';
export { TargetSet, type Target, type TargetSetOptions } from './targets/target-set.js';
export { RelayRepair, repairBuckets, type BucketVerdict, type RepairCounts } from './otlp/relay-repair.js';
export { createdOwnerNames } from './otlp/created.js';
export { targetAttributes, parseResourceAttributes, type ResourceAttributes } from './otlp/resource.js';
export { checkHealth, type HealthResult } from './commands/healthcheck.js';
export type { ApiPassthroughConfig } from './api/wiring.js';
export { buildRecord, type RequestRecord } from './requests/record.js';
export { readRequestLog } from './requests/read.js';
export { RequestLog } from './requests/request-log.js';
export { summarize, type RequestSummary } from './requests/summary.js';
export { ServerView, Snapshots, totalsByModel, type ServerSide } from './requests/server-view.js';
export { SimulatorApi, type ApiOptions, type ServedRequest } from './simulator/api.js';
export { SIGNALS, PARTS, type SignalDef, type SignalName, type PartName } from './saturation/signals.js';
export {
  buildReport,
  type SaturationReport,
  type SignalValue,
  type Signals,
  type TargetParts,
  type TargetSaturation,
  type ModelSaturation,
} from './saturation/report.js';
export { SaturationWindow } from './saturation/window.js';
export { extractParts } from './saturation/extract.js';
export { signalQuery, type PromqlOptions } from './saturation/promql.js';
export { PrometheusClient, PrometheusError, type PrometheusClientOptions } from './saturation/prometheus-client.js';
export { PrometheusSaturation, type PrometheusSaturationOptions } from './saturation/prometheus-source.js';
export { saturationFamilies, saturationTable } from './saturation/render.js';
export type { SaturationConfig } from './saturation/wiring.js';
