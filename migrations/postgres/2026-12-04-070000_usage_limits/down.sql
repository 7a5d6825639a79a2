DROP TABLE roles;
DROP TABLE usage_counters;
ALTER TABLE service_accounts DROP COLUMN usage_limits;
ALTER TABLE api_keys DROP COLUMN usage_limits;
