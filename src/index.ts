/** Programmatic entry point: the same parts the CLI is built from. */
export { NameSanitizer, sanitizeBuffer, sanitizeName, toLegacyName, type Collision, type SanitizerOptions } from './exposition/sanitizer.js';
export { SanitizeStream, type SanitizeStreamOptions } from './exposition/sanitize-stream.js';
export { ExpositionParser, ExpositionParseError, parseExposition, type ParserOptions } from './exposition/parser.js';
export type { Exemplar, ExpositionFormat, Labels, MetricFamily, MetricType, Sample } from './exposition/model.js';
export { toResourceMetrics, StartTimes } from './otlp/from-exposition.js';
export { encodeForParseable } from './otlp/parseable-json.js';
export { decodeJson, decodeProtobuf, encodeProtobuf } from './otlp/proto.js';
export { startProxy, type OtlpConfig, type ProxyConfig, type RunningProxy } from './server/proxy.js';
export { Simulator, DEFAULT_SIMULATOR_OPTIONS, type SimulatorOptions } from './simulator/simulator.js';
export { startSimulator, type RunningSimulator } from './simulator/start.js';
export { ConfigError, type UpstreamError } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { parseDuration, parseBytes } from './units.js';
