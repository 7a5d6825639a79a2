-- postgres: usage control at verify time. A key's rate limits, uses left and permissions, and the
-- rate limits and uses left a service account's keys share, as JSON (empty where there are
-- none); the roles keys name (sets of permissions); and the counters every node adds its
-- spending to: one row a bucket (a rate limit's window, or a period of uses left), forgotten
-- after it expires.
-- Keep in step with the other backend.
ALTER TABLE api_keys ADD COLUMN usage_limits TEXT NOT NULL DEFAULT '';
ALTER TABLE service_accounts ADD COLUMN usage_limits TEXT NOT NULL DEFAULT '';

CREATE TABLE usage_counters (
    bucket TEXT PRIMARY KEY NOT NULL,
    spent BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX usage_counters_expiry ON usage_counters (expires_at);

CREATE TABLE roles (
    account_id  TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    permissions TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
