-- sqlite: API keys whose secret may be shown again (tokens made through the Wavefront dialect,
-- where a token's id is the token) keep it sealed under the master key, as secret keys do. NULL
-- for every other key, of which only the hash is kept. Keep in step with the other backend.
ALTER TABLE api_keys ADD COLUMN sealed_secret BLOB;
