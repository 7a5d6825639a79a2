ALTER TABLE secret_keys DROP COLUMN leaked_at;
ALTER TABLE api_keys DROP COLUMN leaked_at;
