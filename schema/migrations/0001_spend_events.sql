-- Raw spend: one row per request an edge served, written by the
-- clickhouse-sink consumer of GATEHOUSE_SPEND (spend/sink).
--
-- Must run on ClickHouse 18.16 (Debian's) and current releases: no
-- DateTime64, TTL, LowCardinality, Nullable keys or skipping indexes.
--
-- ORDER BY (date, event_time, request_id):
--   * ReplacingMergeTree collapses rows with equal sorting keys, and a
--     duplicate of a request (redelivery, resend after the stream's dedupe
--     window) is the same event, so it has the same date and event_time:
--     request_id last makes the key unique per request, and the duplicates
--     meet in one partition (date decides the partition too).
--   * The sink looks up the request ids of each batch before inserting it
--     (WHERE date IN .. AND event_time BETWEEN .. AND request_id IN ..); a
--     batch is a few seconds of traffic, so the time range prunes that
--     lookup to a few granules however big the day is.
--   * /spend/logs and finance queries are time-range scans (newest first)
--     filtered by key, team or user; aggregates come from the
--     spend_daily rollup (0002), not from here.
-- Rows are never updated; replacing is only a safety net (the sink's
-- pre-check is what keeps duplicates out, and the aggregate views, which
-- see every insert, would double count one that got in).
--
-- On a cluster, shards hold the requests by a hash of request_id: every
-- copy of a request lands on the same shard, where the pre-check and
-- ReplacingMergeTree see it.
--
-- event_time is the request start in UTC seconds, event_ms its millisecond
-- part; date is the UTC day of event_time (inserted by the sink).
CREATE TABLE IF NOT EXISTS {db}.spend_events
(
    request_id        String,
    event_time        DateTime('UTC'),
    event_ms          UInt16,
    date              Date,
    key_hash          String,
    key_alias         String,
    user_id           String,
    team_id           String,
    org_id            String,
    end_user          String,
    auth              String,
    model_group       String,
    model             String,
    deployment_id     String,
    provider          String,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    estimated         UInt8,
    cost              Float64,
    latency_ms        Float64,
    ttft_ms           Float64,
    status            UInt16,
    stream            UInt8,
    outcome           String,
    edge_id           String,
    region            String,
    inserted_at       DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(date)
ORDER BY (date, event_time, request_id)
SETTINGS index_granularity = 8192
{sharded by cityHash64(request_id)};
