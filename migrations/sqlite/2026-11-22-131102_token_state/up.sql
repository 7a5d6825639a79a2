-- sqlite: what makes stateless tokens revocable and assertions single-use: revoked access token
-- ids until their tokens expire, and client assertion ids (jti) already used. Keep in step with
-- the other backend.
CREATE TABLE revoked_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE used_assertions (
    client_id  TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX used_assertions_by_expiry ON used_assertions (expires_at);
