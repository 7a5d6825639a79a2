-- sqlite: when a key was reported leaked (microseconds since the epoch), while it is in the `leaked`
-- state. Keep in step with the other backend.
ALTER TABLE api_keys ADD COLUMN leaked_at BIGINT;
ALTER TABLE secret_keys ADD COLUMN leaked_at BIGINT;
