-- Keyward's first schema, PostgreSQL flavour. Ids are lowercase hyphenated UUID text; times are
-- microseconds since the Unix epoch (UTC) in 64-bit integers. Text that lists are sorted by uses
-- the "C" collation, so that both backends order it byte by byte. Keep in step with ../../sqlite.

CREATE TABLE accounts (
    id         TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    system     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE service_accounts (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C"    NOT NULL,
    description TEXT    NOT NULL,
    active      BOOLEAN NOT NULL,
    metadata    TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX service_accounts_by_created ON service_accounts (account_id, created_at, id);

CREATE TABLE api_keys (
    id                   TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    account_id           TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    service_account_id   TEXT    NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name                 TEXT COLLATE "C"    NOT NULL,
    description          TEXT    NOT NULL,
    scopes               TEXT    NOT NULL,
    active               BOOLEAN NOT NULL,
    expires_at           BIGINT,
    secret_hash          BYTEA   NOT NULL,
    previous_secret_hash BYTEA,
    previous_expires_at  BIGINT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    last_used_at         BIGINT,
    last_used_ip         TEXT,
    last_rotated_at      BIGINT,
    UNIQUE (service_account_id, name)
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, id);

-- Audit events outlive what they describe, so they have no foreign keys.
CREATE TABLE audit_events (
    id         TEXT COLLATE "C"   NOT NULL PRIMARY KEY,
    account_id TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    ip         TEXT,
    outcome    TEXT   NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, id);
