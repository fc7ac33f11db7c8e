import type { Fleet } from '../fleet/fleet.js';
import type { TargetSet } from '../targets/target-set.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Poller } from './poller.js';

/**
 * Where /metrics (and /ready) get their data, one of three modes:
 * - `stream`: one upstream, relayed through the sanitizer as it arrives;
 * - `fleet`: every target scraped for the request and merged;
 * - `poll`: either of the above on the proxy's own schedule, served from memory.
 */
export type MetricsSource =
  { mode: 'stream'; upstream: Upstream } | { mode: 'fleet'; fleet: Fleet; targets: TargetSet } | { mode: 'poll'; poller: Poller; maxStalenessMs: number };
