/** What a scrape's request headers ask of the answer; shared by every /metrics answer. */

/** Prometheus tells how long it will wait; stop upstream work before it gives up. */
export function scrapeTimeout(configured: number, header: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isFinite(seconds) || seconds <= 0) return configured;
  return Math.max(100, Math.min(configured, Math.floor(seconds * 1000)));
}

/** Whether the client takes gzip (`gzip` listed with a q-value above zero). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of value.split(',')) {
    const [first, ...params] = part.toLowerCase().split(';');
    const coding = first!.trim();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (!q || Number(q.slice(2)) > 0) return true;
  }
  return false;
}
