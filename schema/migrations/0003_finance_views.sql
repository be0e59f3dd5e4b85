-- Plain views for finance: spend_daily summed by one dimension, written
-- as "{sums of ...}" (see 0002); the dimension month is the first day of
-- the UTC month.

CREATE VIEW IF NOT EXISTS {db}.v_daily_team_spend AS
{sums of spend_daily by team_id with org_id};

CREATE VIEW IF NOT EXISTS {db}.v_daily_key_spend AS
{sums of spend_daily by key_hash with key_alias, team_id, user_id};

CREATE VIEW IF NOT EXISTS {db}.v_daily_user_spend AS
{sums of spend_daily by user_id with team_id};

CREATE VIEW IF NOT EXISTS {db}.v_daily_model_spend AS
{sums of spend_daily by model_group, model, provider};

CREATE VIEW IF NOT EXISTS {db}.v_monthly_org_spend AS
{sums of spend_daily by month, org_id};
