ALTER TABLE api_keys DROP COLUMN sealed_secret;
