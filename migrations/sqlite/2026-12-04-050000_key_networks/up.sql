-- sqlite: the address networks (/24 for IPv4, /48 for IPv6) each API key was used from, so that a use
-- from a new one can be told (`credential.new_network`). Keep in step with the other backend.
CREATE TABLE key_networks (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    network    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, network)
);
