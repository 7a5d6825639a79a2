//! The Diesel schema, shared by both backends: only portable column types.

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        system -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    service_accounts (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        description -> Text,
        active -> Bool,
        metadata -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        usage_limits -> Text,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        account_id -> Text,
        service_account_id -> Text,
        name -> Text,
        description -> Text,
        scopes -> Text,
        active -> Bool,
        expires_at -> Nullable<BigInt>,
        secret_hash -> Binary,
        previous_secret_hash -> Nullable<Binary>,
        previous_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        last_used_ip -> Nullable<Text>,
        last_rotated_at -> Nullable<BigInt>,
        version -> BigInt,
        sealed_secret -> Nullable<Binary>,
        leaked_at -> Nullable<BigInt>,
        usage_limits -> Text,
    }
}

diesel::table! {
    secret_keys (id) {
        id -> Text,
        account_id -> Text,
        service_account_id -> Text,
        name -> Text,
        scopes -> Text,
        active -> Bool,
        expires_at -> Nullable<BigInt>,
        sealed_secret -> Binary,
        previous_sealed_secret -> Nullable<Binary>,
        previous_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        last_rotated_at -> Nullable<BigInt>,
        version -> BigInt,
        leaked_at -> Nullable<BigInt>,
        require_dpop -> Bool,
    }
}

diesel::table! {
    federated_credentials (id) {
        id -> Text,
        account_id -> Text,
        service_account_id -> Text,
        name -> Text,
        issuer -> Text,
        audiences -> Text,
        subject -> Nullable<Text>,
        claims -> Text,
        scopes -> Text,
        max_ttl_seconds -> BigInt,
        active -> Bool,
        refuse_replay -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        state -> Text,
        public_key -> Binary,
        sealed_private_key -> Binary,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        deactivated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    used_assertions (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Binary,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        account_id -> Text,
        actor -> Text,
        action -> Text,
        target -> Text,
        at -> BigInt,
        ip -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        account_id -> Text,
        url -> Text,
        events -> Text,
        active -> Bool,
        sealed_secret -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        account_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> BigInt,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        last_status -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    expiry_notices (target, notice, expires_at) {
        target -> Text,
        notice -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    key_networks (api_key_id, network) {
        api_key_id -> Text,
        network -> Text,
        first_seen -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries);

diesel::joinable!(api_keys -> service_accounts (service_account_id));
diesel::joinable!(service_accounts -> accounts (account_id));
diesel::joinable!(secret_keys -> service_accounts (service_account_id));
diesel::joinable!(federated_credentials -> service_accounts (service_account_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    service_accounts,
    api_keys,
    secret_keys,
    federated_credentials,
    settings,
    audit_events
);

diesel::table! {
    roles (account_id, name) {
        account_id -> Text,
        name -> Text,
        permissions -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    usage_counters (bucket) {
        bucket -> Text,
        spent -> BigInt,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_key_usage (api_key_id, hour) {
        api_key_id -> Text,
        hour -> BigInt,
        uses -> BigInt,
        refusals -> BigInt,
    }
}
