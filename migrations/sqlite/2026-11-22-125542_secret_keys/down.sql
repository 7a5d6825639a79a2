DROP TABLE settings;
DROP TABLE secret_keys;
