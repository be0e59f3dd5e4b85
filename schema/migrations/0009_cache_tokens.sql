-- Prompt cache tokens (issue 14): cached_tokens were read from the
-- provider's prompt cache, cache_creation_tokens written to it. Both are
-- parts of prompt_tokens, which keeps counting every prompt token; cost
-- prices them at the deployment's cache prices. UInt64 like the other
-- token columns. 0 is a row written before this migration (or a request
-- that used no cache).
--
-- No IF NOT EXISTS: 18.16 has none for ADD COLUMN; schema.Exec treats an
-- existing column as done, one column per statement. Added at the end:
-- every INSERT names its columns.
ALTER TABLE {db}.spend_events ADD COLUMN cached_tokens UInt64 DEFAULT 0;

ALTER TABLE {db}.spend_events ADD COLUMN cache_creation_tokens UInt64 DEFAULT 0;
