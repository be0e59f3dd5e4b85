-- The finance views (names and columns as in 0002/0003, plus
-- v_daily_end_user_spend) read the rollups (0005) for the days marked
-- 'done' in spend_rollup_days and spend_events for every other day (today,
-- until it is rolled), so they stay exact while cheap: a 'done' day costs
-- its rollup rows, not its requests.
--
-- A daily view is a UNION ALL of the two halves without an outer GROUP BY:
-- their days are disjoint and a rollup row (FINAL) is already one group,
-- so a query's WHERE date ... only filters a stream (18.16 does not push
-- it into a view by default) instead of aggregating every day first.
--
-- The days not done are written as "date IN (every Date not done)", not
-- "date NOT IN (done)": ClickHouse 18.16 prunes spend_events by its
-- sorting key for IN but reads every part for NOT IN.
--
-- "{split TABLE by DIMS with EXTRAS}" (schema/rolled.go) is that UNION
-- ALL: the rollup TABLE's rows (FINAL) of the days done, then the SELECT of
-- "{sums of spend_events ...}" (0002) for the other days, its DIMS on one
-- line.
--
-- Views cannot be altered: drop and create (each statement idempotent).

DROP TABLE IF EXISTS {db}.spend_daily;

CREATE VIEW IF NOT EXISTS {db}.spend_daily AS
{split spend_rollup by team_id, key_hash, user_id, org_id, model_group, model, provider with key_alias};

DROP TABLE IF EXISTS {db}.v_daily_team_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_team_spend AS
{split spend_rollup_team by team_id with org_id};

DROP TABLE IF EXISTS {db}.v_daily_key_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_key_spend AS
{split spend_rollup_key by key_hash with key_alias, team_id, user_id};

DROP TABLE IF EXISTS {db}.v_daily_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_user_spend AS
{split spend_rollup_user by user_id with team_id};

DROP TABLE IF EXISTS {db}.v_daily_model_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_model_spend AS
{split spend_rollup_model by model_group, model, provider};

DROP TABLE IF EXISTS {db}.v_daily_end_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_end_user_spend AS
{split spend_rollup_end_user by end_user};

-- month is the first day of the UTC month; a month mixes rolled and
-- unrolled days, hence the GROUP BY (over a few rows per org and day).
DROP TABLE IF EXISTS {db}.v_monthly_org_spend;

CREATE VIEW IF NOT EXISTS {db}.v_monthly_org_spend AS
SELECT
    toStartOfMonth(date) AS month,
    org_id,
    sum(cost) AS cost,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(requests) AS requests,
    sum(errors) AS errors
FROM (
    SELECT date, org_id, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_org FINAL
    WHERE date IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done')
    UNION ALL
    SELECT date, org_id, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY month, org_id;
