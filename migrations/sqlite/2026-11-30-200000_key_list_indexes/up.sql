-- Key lists are sorted by creation time unless asked otherwise; without these indexes a page of
-- a service account with many keys sorted every one of its keys first (tens of milliseconds at
-- 20,000 keys). With them a page reads only its own rows.
CREATE INDEX api_keys_by_service_account_created ON api_keys (service_account_id, created_at, id);
CREATE INDEX api_keys_by_account_created ON api_keys (account_id, created_at, id);
CREATE INDEX secret_keys_by_service_account_created ON secret_keys (service_account_id, created_at, id);
