DROP TABLE used_assertions;
DROP TABLE revoked_tokens;
