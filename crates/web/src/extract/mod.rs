//! Extractors that turn request parts into domain values, answering bad input with a problem.

use serde::Deserialize as _;

pub mod auth;
mod json;
mod path;
mod query;

pub use auth::Caller;
pub use auth::{ClientIp, DPOP, authenticate, client_ip, refused};
pub use json::ApiJson;
pub use json::{limits_of, parse_json};
pub use path::{
    AccountPath, ApiKeyPath, ApiPath, FederatedCredentialPath, RolePath, SecretKeyPath, ServiceAccountPath, WebhookPath,
};
pub use query::ApiQuery;

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`), for `PATCH` bodies where
/// `null` means "remove".
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
