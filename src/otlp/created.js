/**
 * The `_created` rule, one for every OTLP path.
 *
 * prometheus_client writes the creation time of each counter and histogram
 * series as a gauge `<base>_created` beside `<base>_total` (a counter) or
 * `<base>` (a histogram or summary). That time is the start time OTLP wants on
 * the owner's points; as a metric of its own it is noise (about 20 extra names
 * a scrape for vLLM). Both the direct push (from the exposition) and the relay
 * (from what Fluent Bit sends) fold a `_created` series into its owner and drop
 * it, and keep a `_created` gauge that has no owner as an ordinary gauge.
 */
const SUFFIX = '_created';
/** The names that may own `name` if it is a `_created` series, most specific first; none otherwise. */
export function createdOwnerNames(name) {
    if (!name.endsWith(SUFFIX) || name.length === SUFFIX.length)
        return [];
    const base = name.slice(0, -SUFFIX.length);
    return [`${base}_total`, base];
}
/** Kinds whose series have a start time a `_created` can give. */
export const CREATED_OWNER_KINDS = new Set(['counter', 'histogram', 'summary']);
