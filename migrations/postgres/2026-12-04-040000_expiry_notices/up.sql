-- postgres: the expiry notices given (`7d`, `1d`, `expired`) per key target and expiry, so that each
-- is given once across nodes; a changed expiry gets notices of its own. Keep in step with the other
-- backend.
CREATE TABLE expiry_notices (
    target     TEXT COLLATE "C" NOT NULL,
    notice     TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (target, notice, expires_at)
);
CREATE INDEX api_keys_by_expiry ON api_keys (expires_at);
CREATE INDEX secret_keys_by_expiry ON secret_keys (expires_at);
