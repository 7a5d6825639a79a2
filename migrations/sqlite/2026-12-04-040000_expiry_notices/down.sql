DROP INDEX secret_keys_by_expiry;
DROP INDEX api_keys_by_expiry;
DROP TABLE expiry_notices;
