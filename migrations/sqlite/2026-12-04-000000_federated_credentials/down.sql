DROP TABLE federated_credentials;
