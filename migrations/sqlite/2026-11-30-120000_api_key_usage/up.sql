-- sqlite: how many times each API key was used and refused in each UTC hour, written in batches
-- (never once per request) and kept for the retention period (90 days unless configured). The
-- hour is the hour's start in microseconds since the Unix epoch. Counts go with their key.
-- Keep in step with the other backend.
CREATE TABLE api_key_usage (
    api_key_id TEXT   NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour       BIGINT NOT NULL,
    uses       BIGINT NOT NULL,
    refusals   BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, hour)
);
CREATE INDEX api_key_usage_by_hour ON api_key_usage (hour);
