-- Rollups: spend per UTC day and group, read by the finance views and
-- /global/spend/report. See spend/rollup for how they stay exact; in short:
--
--   * A rollup row is never an increment. Rolling a day computes every
--     group of that day from spend_events (INSERT ... SELECT ... GROUP BY)
--     and inserts the result with a higher version; ReplacingMergeTree
--     (readers use FINAL) keeps the newest row per (date, group). Rolling a
--     day again (a redelivered batch, a retry after ClickHouse restarted,
--     `gatehouse rebuild-rollups`) gives the same rows: idempotent.
--   * spend_rollup_days records which days are rolled: 'rolling' when a
--     roll starts, 'done' when it finished. The views read a 'done' day from
--     the rollups and every other day from spend_events, so they are exact
--     whatever has been rolled.
--   * After inserting a batch, before acking it, the sink rolls again every
--     day of the batch that is marked (any state) or already over: a late
--     row can never be missing from a rolled day, and a crash between
--     insert and roll is repaired by the redelivery, which rolls the day
--     although its rows are now skipped as stored.
--
-- On a cluster every rollup table, and spend_rollup_days, is sharded by
-- day: all versions of a rollup row meet on one shard, so FINAL (which
-- runs per shard) keeps the newest.
--
-- No insert-time materialized view: on 18.16 it is not atomic with the
-- insert into spend_events (see 0002).
CREATE TABLE IF NOT EXISTS {db}.spend_rollup_days
(
    date    Date,
    state   String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (date, state)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup
(
    date              Date,
    team_id           String,
    key_hash          String,
    user_id           String,
    org_id            String,
    model_group       String,
    model             String,
    provider          String,
    key_alias         String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, team_id, key_hash, user_id, org_id, model_group, model, provider)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_team
(
    date              Date,
    team_id           String,
    org_id            String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, team_id)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_key
(
    date              Date,
    key_hash          String,
    key_alias         String,
    team_id           String,
    user_id           String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, key_hash)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_user
(
    date              Date,
    user_id           String,
    team_id           String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, user_id)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_model
(
    date              Date,
    model_group       String,
    model             String,
    provider          String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, model_group, model, provider)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_org
(
    date              Date,
    org_id            String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, org_id)
{sharded by toYYYYMMDD(date)};

CREATE TABLE IF NOT EXISTS {db}.spend_rollup_end_user
(
    date              Date,
    end_user          String,
    cost              Float64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    requests          UInt64,
    errors            UInt64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, end_user)
{sharded by toYYYYMMDD(date)};
