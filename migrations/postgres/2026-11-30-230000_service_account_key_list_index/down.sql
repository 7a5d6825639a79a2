DROP INDEX api_keys_by_account_service_account_created;
CREATE INDEX api_keys_by_service_account_created ON api_keys (service_account_id, created_at, id);
