import { gzipSync } from 'node:zlib';
import { dialect, type DialectId } from './dialects.js';
import { EngineState, type EngineParams } from './engine.js';
import { SPEC_DECODE_FAMILIES, vllmFamilies, type FamilyDef } from './families.js';
import { Random } from './random.js';
import { CONTENT_TYPES, renderExposition } from './render.js';

export interface SimulatorOptions {
  engines: number;
  models: number;
  /** Mean request arrivals per second per engine. */
  rate: number;
  /** How often the simulated state advances (and the exposition is re-rendered). */
  tickMs: number;
  seed: number;
  multiprocess: boolean;
  maxModelLen: number;
  specDecode: boolean;
  /** Served model names; defaults to realistic ones. */
  modelNames?: string[];
  /** Whose names and labels the exposition has (dialects.ts). */
  dialect: DialectId;
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  engines: 1,
  models: 1,
  rate: 4,
  tickMs: 1000,
  seed: 1,
  multiprocess: false,
  maxModelLen: 32768,
  specDecode: false,
  dialect: 'vllm-0.9',
};

const MODEL_NAMES = [
  'meta-llama/Llama-3.1-8B-Instruct',
  'Qwen/Qwen2.5-7B-Instruct',
  'mistralai/Mistral-7B-Instruct-v0.3',
  'google/gemma-2-9b-it',
  'microsoft/Phi-3.5-mini-instruct',
  'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B',
  'ibm-granite/granite-3.1-8b-instruct',
  'allenai/OLMo-2-1124-7B-Instruct',
];

export type Format = keyof typeof CONTENT_TYPES;

interface Rendered {
  text: Buffer;
  gzip?: Buffer;
}

/**
 * A simulated vLLM server's metrics state. The exposition is rendered once per
 * tick and served from memory, as vLLM's numbers also only move when the engine
 * logs them; serving is then as cheap as a static file, which keeps the
 * simulator from being the bottleneck of a benchmark.
 */
export class Simulator {
  readonly options: SimulatorOptions;
  readonly engines: EngineState[] = [];
  readonly families: FamilyDef[];
  readonly startTime: number;
  private rendered = new Map<string, Rendered>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick: number;
  ticks = 0;

  constructor(options: Partial<SimulatorOptions> = {}, now = Date.now() / 1000) {
    this.options = { ...DEFAULT_SIMULATOR_OPTIONS, ...options };
    const o = this.options;
    const d = dialect(o.dialect);
    if (o.engines > d.maxEngines) throw new Error(`${o.dialect} has one engine per model (no data parallelism): not ${o.engines}`);
    this.families = o.specDecode ? [...vllmFamilies(o.maxModelLen), ...SPEC_DECODE_FAMILIES] : vllmFamilies(o.maxModelLen);
    this.startTime = now - 60;
    this.lastTick = now;
    const rng = new Random(o.seed);
    const params: EngineParams = {
      rate: o.rate,
      maxNumSeqs: 256,
      kvCapacityTokens: 8192 * 16,
      maxModelLen: o.maxModelLen,
      decodeTokensPerSecond: 60,
      prefillTokensPerSecond: 8000,
      specDecode: o.specDecode,
    };
    const names =
      o.modelNames ??
      Array.from(
        { length: o.models },
        (_, m) => MODEL_NAMES[m % MODEL_NAMES.length] + (m >= MODEL_NAMES.length ? `-${Math.floor(m / MODEL_NAMES.length)}` : ''),
      );
    for (const model of names) {
      for (let e = 0; e < o.engines; e++) this.engines.push(new EngineState(model, String(e), this.families, params, rng, now - 60));
    }
    // Start with a minute of history so a first scrape already shows traffic.
    for (let s = 0; s < 60; s++) this.advance(now - 60 + s + 1, 1);
  }

  /** Move the simulation forward to `now` (unix seconds). */
  advance(now = Date.now() / 1000, dt = now - this.lastTick): void {
    if (dt <= 0) return;
    for (const e of this.engines) e.advance(now, dt);
    this.lastTick = now;
    this.rendered.clear();
    this.ticks++;
  }

  /** Something outside the tick moved (an API request): render afresh on the next scrape. */
  changed(): void {
    this.rendered.clear();
  }

  start(): void {
    if (this.timer || this.options.tickMs <= 0) return;
    this.timer = setInterval(() => this.advance(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  exposition(format: Format, gzip = false): Buffer {
    const key = `${format}:${this.options.multiprocess}`;
    let r = this.rendered.get(key);
    if (!r) {
      const text = renderExposition(
        this.families,
        this.engines,
        { format, multiprocess: this.options.multiprocess, startTime: this.startTime, dialect: this.options.dialect },
        this.lastTick,
      );
      r = { text: Buffer.from(text, 'utf8') };
      this.rendered.set(key, r);
    }
    if (!gzip) return r.text;
    r.gzip ??= gzipSync(r.text, { level: 6 });
    return r.gzip;
  }

  static contentType(format: Format): string {
    return CONTENT_TYPES[format];
  }
}
