/**
 * What a parsed exposition is: families of samples, as the text formats define
 * them. Pure data; the parser builds it, the OTLP mapping and the collector read it.
 */
export function newLabels() {
    return Object.create(null);
}
/** The exposition format a Content-Type names; Prometheus text for anything else. */
export function formatOfContentType(contentType) {
    return contentType !== undefined && /^\s*application\/openmetrics-text\b/i.test(contentType) ? 'openmetrics' : 'prometheus';
}
