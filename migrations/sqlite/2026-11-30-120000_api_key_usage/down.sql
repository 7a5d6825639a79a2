DROP TABLE api_key_usage;
