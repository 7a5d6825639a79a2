-- sqlite: every change to an API key bumps its version, so that two concurrent changes cannot
-- overwrite each other (optimistic locking). Keep in step with the other backend.
ALTER TABLE api_keys ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX api_keys_by_service_account ON api_keys (service_account_id, id);
