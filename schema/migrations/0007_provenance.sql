-- Decision provenance (issue 16): every row names the policy sequence the
-- edge decided at, and refusals are rows too (outcome 'denied', cost 0)
-- with a stable reason code and the rule that decided, e.g.
-- deny_reason 'budget_exceeded', deny_rule 'team:<id>:max_budget'.
--
-- policy_seq 0 is a row written before this migration (or by an edge that
-- had no snapshot yet). No IF NOT EXISTS: 18.16 has none for ADD COLUMN;
-- schema.Exec treats an existing column as done, one column per statement.
-- Added at the end: every INSERT names its columns.
ALTER TABLE {db}.spend_events ADD COLUMN policy_seq UInt64 DEFAULT 0;

ALTER TABLE {db}.spend_events ADD COLUMN deny_reason String DEFAULT '';

ALTER TABLE {db}.spend_events ADD COLUMN deny_rule String DEFAULT '';
