//! Path parameters: `ApiPath<T>` for raw values, and the typed paths of the native API, each both
//! the extractor that parses its ids and the `IntoParams` that documents them.
//!
//! A handler takes `path: ServiceAccountPath` and reads `path.account_id` as an `AccountId`: the
//! ids are parsed once, here, naming the parameter that was wrong, and the OpenAPI entry lists the
//! parameters with `params(ServiceAccountPath)` instead of repeating them.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use domain::id::{AccountId, FederatedCredentialId, SecretKeyId, ServiceAccountId, WebhookId};
use domain::limits::RoleName;
use domain::repository::KeyRef;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Path parameters of type `T`, as they come (strings, usually).
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| ApiError::validation("path", e.body_text()))
    }
}

/// Declares a typed path: its fields are named as the route's parameters, each parsed with its
/// type's `parse(text, field)` in the order written, and documented with the given schema.
macro_rules! typed_path {
    ($(#[$doc:meta])* $name:ident { $($(#[$field_doc:meta])* $field:ident: $ty:ty => $schema:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, utoipa::IntoParams)]
        #[into_params(parameter_in = Path)]
        pub struct $name {
            $(
                $(#[$field_doc])*
                #[param(value_type = $schema)]
                pub $field: $ty,
            )+
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                #[derive(serde::Deserialize)]
                struct Raw {
                    $($field: String,)+
                }
                let ApiPath(raw) = ApiPath::<Raw>::from_request_parts(parts, state).await?;
                Ok(Self { $($field: <$ty>::parse(&raw.$field, stringify!($field))?,)+ })
            }
        }
    };
}

typed_path!(
    /// `/v1/accounts/{account_id}`.
    AccountPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
    }
);

typed_path!(
    /// `/v1/accounts/{account_id}/service-accounts/{service_account_id}`.
    ServiceAccountPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The service account's id
        service_account_id: ServiceAccountId => crate::schema::Id,
    }
);

typed_path!(
    /// `.../service-accounts/{service_account_id}/api-keys/{key_id_or_name}`.
    ApiKeyPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The service account's id
        service_account_id: ServiceAccountId => crate::schema::Id,
        /// The key's id, or its name
        key_id_or_name: KeyRef => crate::schema::IdOrName,
    }
);

typed_path!(
    /// `.../service-accounts/{service_account_id}/secret-keys/{key_id}`.
    SecretKeyPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The service account's id
        service_account_id: ServiceAccountId => crate::schema::Id,
        /// The key's id
        key_id: SecretKeyId => crate::schema::Id,
    }
);

typed_path!(
    /// `.../service-accounts/{service_account_id}/federated-credentials/{federated_credential_id}`.
    FederatedCredentialPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The service account's id
        service_account_id: ServiceAccountId => crate::schema::Id,
        /// The federated credential's id
        federated_credential_id: FederatedCredentialId => crate::schema::Id,
    }
);

typed_path!(
    /// `/v1/accounts/{account_id}/roles/{role_name}`.
    RolePath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The role's name
        role_name: RoleName => crate::schema::LimitNameText,
    }
);

typed_path!(
    /// `/v1/accounts/{account_id}/webhooks/{webhook_id}`.
    WebhookPath {
        /// The account's id
        account_id: AccountId => crate::schema::Id,
        /// The webhook's id
        webhook_id: WebhookId => crate::schema::Id,
    }
);
