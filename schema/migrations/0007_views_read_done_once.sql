-- The finance views (names and columns as in 0006) without a race that
-- 0006 had: there, the rollup half read the 'done' days and the ledger
-- half the days not done, in two subqueries run at different moments of
-- one query. A day marked done between the two (the Roller after
-- midnight, rebuild-rollups) was then in neither half, or in both: a
-- finance query missed or doubled a day (seen as sink TestMalformed
-- reading 13 of 20 requests from v_daily_key_spend while the Roller ran).
--
-- Now the done days are read once, by the ledger half: it takes every
-- request of the days not done. The rollup half takes every rollup row,
-- and each group (day and dimensions) keeps the ledger's sums when the
-- ledger half has it (a day not done: its rollup rows, if any, may be
-- from a roll that did not finish) and the rollup row otherwise (a done
-- day, whose rollup is complete). A group in the rollup of a day not done
-- is also in the ledger (groups only grow), so no day is missed or
-- counted twice, whenever a day is marked done.
--
-- The GROUP BY over the rollup rows is cheap: a rollup row per day and
-- group, not per request.
--
-- Views cannot be altered: drop and create (each statement idempotent).

DROP TABLE IF EXISTS {db}.spend_daily;

CREATE VIEW IF NOT EXISTS {db}.spend_daily AS
SELECT
    date,
    team_id,
    key_hash,
    user_id,
    org_id,
    model_group,
    model,
    provider,
    any(key_alias) AS key_alias,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, team_id, key_hash, user_id, org_id, model_group, model, provider, key_alias, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, team_id, key_hash, user_id, org_id, model_group, model, provider, key_alias, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, team_id, key_hash, user_id, org_id, model_group, model, provider;

DROP TABLE IF EXISTS {db}.v_daily_team_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_team_spend AS
SELECT
    date,
    team_id,
    any(org_id) AS org_id,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, team_id, org_id, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_team FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, team_id, org_id, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, team_id;

DROP TABLE IF EXISTS {db}.v_daily_key_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_key_spend AS
SELECT
    date,
    key_hash,
    any(key_alias) AS key_alias,
    any(team_id) AS team_id,
    any(user_id) AS user_id,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, key_hash, key_alias, team_id, user_id, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_key FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, key_hash, key_alias, team_id, user_id, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, key_hash;

DROP TABLE IF EXISTS {db}.v_daily_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_user_spend AS
SELECT
    date,
    user_id,
    any(team_id) AS team_id,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, user_id, team_id, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_user FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, user_id, team_id, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, user_id;

DROP TABLE IF EXISTS {db}.v_daily_model_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_model_spend AS
SELECT
    date,
    model_group,
    model,
    provider,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, model_group, model, provider, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_model FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, model_group, model, provider, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, model_group, model, provider;

DROP TABLE IF EXISTS {db}.v_daily_end_user_spend;

CREATE VIEW IF NOT EXISTS {db}.v_daily_end_user_spend AS
SELECT
    date,
    end_user,
    if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
    if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
    if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
    if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
    if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
    if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
FROM (
    SELECT toUInt8(0) AS ledger, date, end_user, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
    FROM {db}.spend_rollup_end_user FINAL
    UNION ALL
    SELECT toUInt8(1) AS ledger, date, end_user, cost, prompt_tokens, completion_tokens, total_tokens,
        toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
    FROM {db}.spend_events
    WHERE date IN (
        SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
        WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
)
GROUP BY date, end_user;

-- month is the first day of the UTC month.
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
    SELECT
        date,
        org_id,
        if(max(ledger) = 1, sumIf(cost, ledger = 1), sum(cost)) AS cost,
        if(max(ledger) = 1, sumIf(prompt_tokens, ledger = 1), sum(prompt_tokens)) AS prompt_tokens,
        if(max(ledger) = 1, sumIf(completion_tokens, ledger = 1), sum(completion_tokens)) AS completion_tokens,
        if(max(ledger) = 1, sumIf(total_tokens, ledger = 1), sum(total_tokens)) AS total_tokens,
        if(max(ledger) = 1, sumIf(requests, ledger = 1), sum(requests)) AS requests,
        if(max(ledger) = 1, sumIf(errors, ledger = 1), sum(errors)) AS errors
    FROM (
        SELECT toUInt8(0) AS ledger, date, org_id, cost, prompt_tokens, completion_tokens, total_tokens, requests, errors
        FROM {db}.spend_rollup_org FINAL
        UNION ALL
        SELECT toUInt8(1) AS ledger, date, org_id, cost, prompt_tokens, completion_tokens, total_tokens,
            toUInt64(1) AS requests, toUInt64(outcome != 'ok') AS errors
        FROM {db}.spend_events
        WHERE date IN (
            SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536)
            WHERE d NOT IN (SELECT date FROM {db}.spend_rollup_days WHERE state = 'done'))
    )
    GROUP BY date, org_id
)
GROUP BY month, org_id;
