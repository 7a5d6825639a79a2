-- postgres: Keyward's own signing keys; private halves sealed under the master key. At most one key
-- is active and at most one is next. Keep in step with the other backend.
CREATE TABLE signing_keys (
    kid                 TEXT COLLATE "C"   NOT NULL PRIMARY KEY,
    algorithm           TEXT   NOT NULL,
    state               TEXT   NOT NULL,
    public_key          BYTEA  NOT NULL,
    sealed_private_key  BYTEA  NOT NULL,
    created_at          BIGINT NOT NULL,
    activated_at        BIGINT,
    deactivated_at      BIGINT,
    retired_at          BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active_one_next ON signing_keys (state) WHERE state IN ('active', 'next');
