-- Saved SQL queries for the vLLMmetrics stream in Parseable (SQL editor, or
-- POST /api/v1/query). Each query is one block: a `-- name:` line, a comment
-- line saying what it shows, the SQL. Parseable queries with DataFusion; every
-- data point is a row (metric_name, data_point_value, data_point_sum,
-- data_point_count, data_point_bucket_counts, data_point_explicit_bounds, ...)
-- with one column per label (model_name, engine, finished_reason).
-- Counters and histograms are cumulative: rates are max - min within a bucket of time.

-- name: kv_cache_usage
-- Peak KV-cache usage (0..1) per model and engine, per minute. Near 1 means preemptions follow.
SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
       model_name, engine, MAX(data_point_value) AS kv_cache_usage
FROM "vLLMmetrics"
WHERE metric_name = 'vllm_kv_cache_usage_perc'
GROUP BY minute, model_name, engine
ORDER BY minute;

-- name: requests_running_waiting
-- Requests running and waiting per model and engine, averaged per minute. Waiting > 0 for long means saturation.
SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
       model_name, engine,
       AVG(CASE WHEN metric_name = 'vllm_num_requests_running' THEN data_point_value END) AS running,
       AVG(CASE WHEN metric_name = 'vllm_num_requests_waiting' THEN data_point_value END) AS waiting
FROM "vLLMmetrics"
WHERE metric_name IN ('vllm_num_requests_running', 'vllm_num_requests_waiting')
GROUP BY minute, model_name, engine
ORDER BY minute;

-- name: token_throughput
-- Prompt and generation tokens per second per model, per minute (engines added up).
SELECT minute, model_name, metric_name, SUM(tokens) / 60.0 AS tokens_per_second
FROM (
  SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
         model_name, engine, metric_name, MAX(data_point_value) - MIN(data_point_value) AS tokens
  FROM "vLLMmetrics"
  WHERE metric_name IN ('vllm_prompt_tokens_total', 'vllm_generation_tokens_total')
  GROUP BY minute, model_name, engine, metric_name
) AS per_engine
GROUP BY minute, model_name, metric_name
ORDER BY minute;

-- name: latency_mean
-- Mean time to first token, end-to-end latency and inter-token latency per model, per minute,
-- in seconds. vLLM 0.11 and later name the last inter_token_latency_seconds, earlier ones
-- time_per_output_token_seconds: both are read, each under its own name.
SELECT minute, model_name, metric_name,
       SUM(seconds) / NULLIF(SUM(requests), 0) AS mean_seconds
FROM (
  SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
         model_name, engine, metric_name,
         MAX(data_point_sum) - MIN(data_point_sum) AS seconds,
         MAX(data_point_count) - MIN(data_point_count) AS requests
  FROM "vLLMmetrics"
  WHERE metric_name IN ('vllm_time_to_first_token_seconds', 'vllm_e2e_request_latency_seconds',
                        'vllm_inter_token_latency_seconds', 'vllm_time_per_output_token_seconds')
  GROUP BY minute, model_name, engine, metric_name
) AS per_engine
GROUP BY minute, model_name, metric_name
ORDER BY minute;

-- name: preemptions
-- Requests preempted per minute per model (engines added up): KV cache too small for the load.
SELECT minute, model_name, SUM(preempted) AS preemptions
FROM (
  SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
         model_name, engine, MAX(data_point_value) - MIN(data_point_value) AS preempted
  FROM "vLLMmetrics"
  WHERE metric_name = 'vllm_num_preemptions_total'
  GROUP BY minute, model_name, engine
) AS per_engine
GROUP BY minute, model_name
ORDER BY minute;

-- name: latency_percentiles
-- p50, p90 and p99 of time to first token and end-to-end latency per model, from the
-- latest histogram of each engine (since the engine started), as the upper bound of
-- the bucket the percentile falls in (Prometheus' histogram_quantile interpolates inside it).
WITH latest AS (
  SELECT model_name, engine, metric_name, data_point_bucket_counts AS counts,
         data_point_explicit_bounds AS bounds, data_point_count AS total,
         ROW_NUMBER() OVER (PARTITION BY model_name, engine, metric_name ORDER BY p_timestamp DESC) AS age
  FROM "vLLMmetrics"
  WHERE metric_name IN ('vllm_time_to_first_token_seconds', 'vllm_e2e_request_latency_seconds')
    AND p_timestamp > NOW() - INTERVAL '10 minutes'
),
buckets AS (
  SELECT model_name, engine, metric_name, counts, bounds, total, UNNEST(RANGE(1, ARRAY_LENGTH(counts) + 1)) AS i
  FROM latest
  WHERE age = 1
),
cumulative AS (
  SELECT model_name, metric_name, i,
         SUM(ARRAY_ELEMENT(counts, i)) AS in_bucket,
         MAX(CASE WHEN i <= ARRAY_LENGTH(bounds) THEN ARRAY_ELEMENT(bounds, i) END) AS upper_bound
  FROM buckets
  GROUP BY model_name, metric_name, i
),
ranked AS (
  SELECT model_name, metric_name, i, upper_bound,
         SUM(in_bucket) OVER (PARTITION BY model_name, metric_name ORDER BY i) AS at_or_below,
         SUM(in_bucket) OVER (PARTITION BY model_name, metric_name) AS requests
  FROM cumulative
)
SELECT model_name, metric_name,
       MIN(CASE WHEN at_or_below >= 0.50 * requests THEN upper_bound END) AS p50_seconds,
       MIN(CASE WHEN at_or_below >= 0.90 * requests THEN upper_bound END) AS p90_seconds,
       MIN(CASE WHEN at_or_below >= 0.99 * requests THEN upper_bound END) AS p99_seconds
FROM ranked
GROUP BY model_name, metric_name
ORDER BY model_name, metric_name;

-- name: request_outcomes
-- Finished requests per minute per model by reason (stop, length, abort).
SELECT minute, model_name, finished_reason, SUM(requests) AS requests
FROM (
  SELECT DATE_BIN(INTERVAL '1 minute', p_timestamp, TIMESTAMP '1970-01-01T00:00:00') AS minute,
         model_name, engine, finished_reason, MAX(data_point_value) - MIN(data_point_value) AS requests
  FROM "vLLMmetrics"
  WHERE metric_name = 'vllm_request_success_total'
  GROUP BY minute, model_name, engine, finished_reason
) AS per_engine
GROUP BY minute, model_name, finished_reason
ORDER BY minute;
