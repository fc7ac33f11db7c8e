/**
 * The readers' one question, answered from the table in known.ts: under which names may a
 * target write a family? `spellings('kv_cache_usage_perc')` is every sanitized family name
 * that means it, in order of preference: vLLM's current name, its deprecated ones, SGLang's,
 * and the same vLLM names under each extra prefix (KServe re-prefixes vLLM's as
 * `kserve_vllm:`). And the other way: which known family a name is.
 *
 * The extra prefixes are set once at start (`--engine-prefix`), for the whole process: a
 * process reads one fleet, and every reader must agree on what a name means.
 */
import { ENGINE_PREFIX, KNOWN, type Engine, type KnownFamily, type Spelling } from './known.js';

/** A name as the sanitizer writes it: colons become underscores. */
const sanitize = (name: string) => name.replaceAll(':', '_');

export interface Resolved {
  family: KnownFamily;
  spelling: Spelling;
  /** The prefix the name came under, sanitized (`vllm_`, `sglang_`, `kserve_vllm_`). */
  prefix: string;
}

export class Vocabulary {
  /** The prefixes under which vLLM's names are written, as the engine writes them (`vllm:` first). */
  readonly vllmPrefixes: readonly string[];
  /** Every prefix a known name may come under, as written: what a line scan looks for. */
  readonly prefixes: readonly string[];
  private readonly bySpelling = new Map<string, Resolved>();
  private readonly byCanonical = new Map<string, { sanitized: string[]; raw: string[] }>();

  constructor(extraPrefixes: readonly string[] = []) {
    for (const p of extraPrefixes) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_:]*$/.test(p)) throw new Error(`"${p}" is not a metric name prefix (letters, digits, _ and :)`);
    }
    this.vllmPrefixes = [...new Set([ENGINE_PREFIX.vllm, ...extraPrefixes])];
    this.prefixes = [...this.vllmPrefixes, ...Object.values(ENGINE_PREFIX).filter((p) => p !== ENGINE_PREFIX.vllm)];
    for (const family of KNOWN) {
      const sanitized: string[] = [];
      const raw: string[] = [];
      for (const spelling of family.spellings) {
        for (const prefix of this.prefixesOf(spelling.engine)) {
          const full = sanitize(`${prefix}${spelling.name}`);
          sanitized.push(full);
          raw.push(`${prefix}${spelling.name}`);
          if (!this.bySpelling.has(full)) this.bySpelling.set(full, { family, spelling, prefix: sanitize(prefix) });
        }
      }
      this.byCanonical.set(family.canonical, { sanitized, raw });
    }
  }

  private prefixesOf(engine: Engine): readonly string[] {
    return engine === 'vllm' ? this.vllmPrefixes : [ENGINE_PREFIX[engine]];
  }

  private entry(canonical: string) {
    const e = this.byCanonical.get(canonical);
    if (!e) throw new Error(`${canonical} is not in the names table (src/names/known.ts)`);
    return e;
  }

  /** Every sanitized family name that means `canonical`, preferred first. */
  spellings(canonical: string): readonly string[] {
    return this.entry(canonical).sanitized;
  }

  /** The same names as the engines write them (`vllm:kv_cache_usage_perc`, `sglang:token_usage`): what PromQL on a server scraped directly needs. */
  rawSpellings(canonical: string): readonly string[] {
    return this.entry(canonical).raw;
  }

  /** The known family a family name (colons or not) is a spelling of. */
  resolve(name: string): Resolved | undefined {
    return this.bySpelling.get(sanitize(name));
  }

  /** Every sanitized family name the table knows. */
  allSpellings(): IterableIterator<string> {
    return this.bySpelling.keys();
  }
}

let active = new Vocabulary();
const derived = new WeakMap<Vocabulary, Map<unknown, unknown>>();

/**
 * A reader's lookup table, built from the active vocabulary the first time it is asked for
 * and again only if the vocabulary changed (module-level tables would be built before the
 * command set its prefixes).
 */
export function fromVocabulary<T>(build: (v: Vocabulary) => T): () => T {
  const key = {};
  return () => {
    let tables = derived.get(active);
    if (!tables) derived.set(active, (tables = new Map()));
    if (!tables.has(key)) tables.set(key, build(active));
    return tables.get(key) as T;
  };
}

/** The process's vocabulary: vLLM and SGLang, and the extra prefixes given at start. */
export const vocabulary = (): Vocabulary => active;

/** Set at start, before the readers are built (each reads the vocabulary when it is made). */
export function useEnginePrefixes(prefixes: readonly string[]): Vocabulary {
  active = new Vocabulary(prefixes);
  return active;
}
