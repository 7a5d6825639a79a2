-- A service account's key list filters by account and service account and sorts by creation time.
-- With only (service_account_id, created_at, id) and (account_id, created_at, id) to choose from,
-- SQLite chose the account's index and read every key of the account to fill a page of one
-- service account: a service account with fewer keys than a page, in an account with 1,000 other
-- keys, listed at half the speed. An index on both ids leaves no such choice.
DROP INDEX api_keys_by_service_account_created;
CREATE INDEX api_keys_by_account_service_account_created ON api_keys (account_id, service_account_id, created_at, id);
