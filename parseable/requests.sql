-- Saved SQL queries for the vLLMrequests stream in Parseable: one row per API request that
-- went through the proxy (docs/api-passthrough.md lists the fields). Same format as
-- queries.sql: a `-- name:` line, a comment saying what it answers, the SQL.

-- name: slowest_requests
-- The 50 slowest requests by end-to-end time, with their model, time to first token and tokens.
SELECT start_time, id, model, endpoint, stream, status, e2e_ms, ttft_ms, prompt_tokens, completion_tokens, finish_reason
FROM "vLLMrequests"
WHERE e2e_ms IS NOT NULL
ORDER BY e2e_ms DESC
LIMIT 50;

-- name: request_ttft_distribution
-- How many requests had their first token within each 100 ms, per model (streamed requests).
SELECT model, FLOOR(ttft_ms / 100) * 100 AS ttft_ms_from, COUNT(*) AS requests
FROM "vLLMrequests"
WHERE ttft_ms IS NOT NULL
GROUP BY model, FLOOR(ttft_ms / 100) * 100
ORDER BY model, ttft_ms_from;

-- name: request_errors
-- Requests that failed or that the client gave up on, by status and kind, per model.
SELECT model, status, error_kind, client_abort, COUNT(*) AS requests
FROM "vLLMrequests"
WHERE status >= 400 OR error_kind IS NOT NULL OR client_abort = true
GROUP BY model, status, error_kind, client_abort
ORDER BY requests DESC;
