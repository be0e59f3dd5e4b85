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
--
-- "{rollup table TABLE by DIMS with EXTRAS}" is the CREATE TABLE of a
-- rollup (schema/rolled.go): date, DIMS and EXTRAS (Strings), the
-- measures (cost Float64, prompt_tokens, completion_tokens, total_tokens,
-- requests, errors UInt64) and version; ReplacingMergeTree(version)
-- partitioned by month, ordered by (date, DIMS), sharded by day.
CREATE TABLE IF NOT EXISTS {db}.spend_rollup_days
(
    date    Date,
    state   String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (date, state)
{sharded by toYYYYMMDD(date)};

{rollup table spend_rollup by team_id, key_hash, user_id, org_id, model_group, model, provider with key_alias};

{rollup table spend_rollup_team by team_id with org_id};

{rollup table spend_rollup_key by key_hash with key_alias, team_id, user_id};

{rollup table spend_rollup_user by user_id with team_id};

{rollup table spend_rollup_model by model_group, model, provider};

{rollup table spend_rollup_org by org_id};

{rollup table spend_rollup_end_user by end_user};
