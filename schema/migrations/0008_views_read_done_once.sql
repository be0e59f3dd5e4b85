-- The finance views (names and columns as in 0006) without a race that
-- 0006 had: there, the rollup half read the 'done' days and the ledger
-- half the days not done, in two subqueries run at different moments of
-- one query. A day marked done between the two (the Roller after
-- midnight, rebuild-rollups) was then in neither half, or in both: a
-- finance query missed or doubled a day (seen as sink TestMalformed
-- reading 13 of 20 requests from v_daily_key_spend while the Roller ran).
--
-- Now the done days are read once per query: "{rolled TABLE by DIMS with
-- EXTRAS}" is schema.Rolled, the same subquery as Report reads (its doc
-- says why it is exact whenever a day is marked done). Its GROUP BY over
-- the rollup rows is cheap: a rollup row per day and group, not per
-- request. "{select rolled ...}" is every column of "{rolled ...}":
-- SELECT date, DIMS, EXTRAS, the measures FROM {rolled ...}.
--
-- Views cannot be altered: drop and create (each statement idempotent).


DROP TABLE IF EXISTS {db}.spend_daily;

CREATE VIEW IF NOT EXISTS {db}.spend_daily AS
{select rolled spend_rollup by team_id, key_hash, user_id, org_id, model_group, model, provider with key_alias};

DROP TABLE IF EXISTS {db}.v_daily_team_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_team_spend AS
{select rolled spend_rollup_team by team_id with org_id};

DROP TABLE IF EXISTS {db}.v_daily_key_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_key_spend AS
{select rolled spend_rollup_key by key_hash with key_alias, team_id, user_id};

DROP TABLE IF EXISTS {db}.v_daily_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_user_spend AS
{select rolled spend_rollup_user by user_id with team_id};

DROP TABLE IF EXISTS {db}.v_daily_model_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_model_spend AS
{select rolled spend_rollup_model by model_group, model, provider};

DROP TABLE IF EXISTS {db}.v_daily_end_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_end_user_spend AS
{select rolled spend_rollup_end_user by end_user};

-- month is the first day of the UTC month.
DROP TABLE IF EXISTS {db}.v_monthly_org_spend;

CREATE VIEW IF NOT EXISTS {db}.v_monthly_org_spend AS
SELECT toStartOfMonth(date) AS month, org_id, sum(cost) AS cost, sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens, sum(requests) AS requests, sum(errors) AS errors
FROM {rolled spend_rollup_org by org_id}
GROUP BY month, org_id;
