DROP INDEX api_keys_by_service_account;
ALTER TABLE api_keys DROP COLUMN version;
