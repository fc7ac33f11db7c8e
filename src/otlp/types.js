/**
 * OTLP metrics as plain objects, the shape protobufjs' `toObject` gives with
 * 64-bit integers as decimal strings (so no precision is lost on the way to JSON)
 * and bytes as base64. Fields at their default value may be absent.
 */
/** How many data points a request carries. */
export function countPoints(req) {
    let n = 0;
    for (const rm of req.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) {
                const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
                n += data?.dataPoints?.length ?? 0;
            }
        }
    }
    return n;
}
