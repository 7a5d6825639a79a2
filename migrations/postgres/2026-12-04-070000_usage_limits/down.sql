DROP TABLE usage_counters;
ALTER TABLE api_keys DROP COLUMN usage_limits;
