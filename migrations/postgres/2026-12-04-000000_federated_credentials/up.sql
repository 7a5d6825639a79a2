-- postgres: federated credentials, a service account's trust in an external OIDC issuer (workload
-- identity federation). Audiences and claims are JSON (an array of strings, an object of string
-- patterns). Keep in step with the other backend.
CREATE TABLE federated_credentials (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    service_account_id TEXT    NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    name               TEXT COLLATE "C" NOT NULL,
    issuer             TEXT COLLATE "C" NOT NULL,
    audiences          TEXT    NOT NULL,
    subject            TEXT,
    claims             TEXT    NOT NULL,
    scopes             TEXT    NOT NULL,
    max_ttl_seconds    BIGINT  NOT NULL,
    active             BOOLEAN NOT NULL,
    refuse_replay      BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    version            BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (service_account_id, name)
);
CREATE INDEX federated_credentials_by_service_account ON federated_credentials (service_account_id, id);
CREATE INDEX federated_credentials_by_issuer ON federated_credentials (issuer);
