-- sqlite: whether a secret key's access tokens must be bound to a client key (DPoP, RFC 9449).
-- Keep in step with the other backend.
ALTER TABLE secret_keys ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
