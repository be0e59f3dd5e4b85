-- endpoint: the API the client called ("chat", "embeddings",
-- "completions", "responses", "messages"), which /spend/logs shows as
-- LiteLLM's call_type ("acompletion", "aembedding", ...). '' is a row
-- written before this migration, shown as "acompletion" as before.
--
-- No IF NOT EXISTS: 18.16 has none for ADD COLUMN; schema.Exec treats an
-- existing column as done. Added at the end: every INSERT names its
-- columns.
ALTER TABLE {db}.spend_events ADD COLUMN endpoint String DEFAULT '';
