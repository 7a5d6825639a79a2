-- sqlite: secret keys, stored sealed (AES-256-GCM under the master key), and server settings such
-- as the master-key check value. Keep in step with the other backend.
CREATE TABLE secret_keys (
    id                     TEXT    NOT NULL PRIMARY KEY,
    account_id             TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    service_account_id     TEXT    NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name                   TEXT    NOT NULL,
    scopes                 TEXT    NOT NULL,
    active                 BOOLEAN NOT NULL,
    expires_at             BIGINT,
    sealed_secret          BLOB    NOT NULL,
    previous_sealed_secret BLOB,
    previous_expires_at    BIGINT,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL,
    last_used_at           BIGINT,
    last_rotated_at        BIGINT,
    version                BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (service_account_id, name)
);
CREATE INDEX secret_keys_by_service_account ON secret_keys (service_account_id, id);

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);
