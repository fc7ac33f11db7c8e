/** Prometheus-style durations and human byte sizes, for flags and env values. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;

/**
 * Parse `500ms`, `2s`, `1m30s`, or a bare number of seconds (`10`, `0.5`) into
 * milliseconds. Throws with a message fit for "--flag: <message>".
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  let ms = 0;
  let at = 0;
  DURATION_PART.lastIndex = 0;
  while (at < s.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(s);
    if (!m) throw new Error(`"${text}" is not a duration (use 500ms, 2s, 1m, 1m30s, or seconds as a number)`);
    ms += Number(m[1]) * DURATION_UNITS[m[2]];
    at = DURATION_PART.lastIndex;
  }
  if (s.length === 0) throw new Error('empty duration');
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0 || ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s % 60 !== 0) return `${s}s`;
  return `${s / 60}m`;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parse `65536`, `64KiB`, `64MiB`, `1GB` into bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${text}" is not a size (use bytes, or units like 64KiB, 64MiB, 1GB)`);
  return Math.floor(Number(m[1]) * unit);
}
