/**
 * Families back to Prometheus text (0.0.4), the format every scraper reads.
 * Pure; used where families are built or merged rather than relayed byte for
 * byte (the fleet's merged /metrics, Pushgateway bodies, prom files).
 */
import { sanitizeName } from './sanitizer.js';
/** The classic format's spelling of each type (it has no info, stateset or gauge histogram). */
const CLASSIC_TYPE = {
    counter: 'counter',
    gauge: 'gauge',
    histogram: 'histogram',
    summary: 'summary',
    gaugehistogram: 'untyped',
    info: 'gauge',
    stateset: 'gauge',
    unknown: 'untyped',
};
export function formatValue(v) {
    if (v === Infinity)
        return '+Inf';
    if (v === -Infinity)
        return '-Inf';
    if (Number.isNaN(v))
        return 'NaN';
    return String(v);
}
/** Whole milliseconds, in digits even where String() would switch to an exponent. */
export function formatTimestamp(ms) {
    const r = Math.round(ms);
    return Number.isSafeInteger(r) ? String(r) : BigInt(r).toString();
}
export const escapeLabelValue = (v) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const escapeHelp = (v) => (/[\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : v);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label names outside the legacy charset (Prometheus 3 quoted ones) get the metric names' rewrite. */
export function legacyLabelName(name) {
    if (LABEL_NAME.test(name))
        return name;
    return sanitizeName(name).replace(/:/g, '_');
}
export function renderLabels(labels) {
    let out = '';
    for (const k in labels)
        out += `${out ? ',' : ''}${legacyLabelName(k)}="${escapeLabelValue(labels[k])}"`;
    return out ? `{${out}}` : '';
}
/**
 * Append one family's text to `out`, metadata first; a family with no samples
 * still declares itself. Names are sanitized (a no-op for legal ones), so the
 * output is legal whatever the input spelled.
 */
export function renderFamily(f, out) {
    const name = sanitizeName(f.name);
    if (f.help !== undefined)
        out.push(`# HELP ${name} ${escapeHelp(f.help)}\n`);
    out.push(`# TYPE ${name} ${CLASSIC_TYPE[f.type]}\n`);
    for (const s of f.samples) {
        const ts = s.timestampMs === undefined ? '' : ` ${formatTimestamp(s.timestampMs)}`;
        out.push(`${sanitizeName(s.name)}${renderLabels(s.labels)} ${formatValue(s.value)}${ts}\n`);
    }
}
export function renderText(families) {
    const out = [];
    for (const f of families)
        renderFamily(f, out);
    return out.join('');
}
/**
 * An OpenMetrics-shaped family in the classic shape: a counter is named by its
 * `_total` series, and `_created`/`_info` series become gauge families of their
 * own, as prometheus_client renders them in the classic format. Families parsed
 * from classic text come back unchanged.
 */
export function toClassicFamilies(f) {
    const created = (prefix) => f.samples.filter((s) => s.name === `${prefix}_created`);
    switch (f.type) {
        case 'counter': {
            if (f.samples.every((s) => s.name === f.name))
                return [f];
            const total = f.samples.filter((s) => s.name !== `${f.name}_created`);
            const name = total[0]?.name ?? `${f.name}_total`;
            return withCreated({ ...f, name, samples: total }, created(f.name), f);
        }
        case 'histogram':
        case 'summary': {
            const made = created(f.name);
            if (made.length === 0)
                return [f];
            return withCreated({ ...f, samples: f.samples.filter((s) => s.name !== `${f.name}_created`) }, made, f);
        }
        case 'info':
            if (f.samples.every((s) => s.name === f.name))
                return [{ ...f, type: 'gauge' }];
            return [{ ...f, name: `${f.name}_info`, type: 'gauge' }];
        default:
            return [f];
    }
}
function withCreated(main, created, f) {
    if (created.length === 0)
        return [main];
    return [main, { name: `${f.name}_created`, type: 'gauge', help: f.help, samples: created }];
}
