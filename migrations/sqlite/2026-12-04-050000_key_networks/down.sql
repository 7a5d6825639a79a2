DROP TABLE key_networks;
