//! The rows of the two kinds of key. Their columns that every key has bear the same names in
//! `api_keys` and `secret_keys`, so `key_of_row!` and `row_of_key!` convert those once and each
//! kind converts only its own.

use diesel::prelude::*;
use domain::api_key::{ApiKey, ApiKeyPart, StoredSecret};
use domain::id::{AccountId, ApiKeyId, SecretKeyId, ServiceAccountId};
use domain::key::Key;
use domain::repository::{RepoError, RepoResult};
use domain::secret::SecretHash;
use domain::secret_key::{SealedSecret, SecretKey, SecretKeyPart};

use super::{corrupt, description, micros, name, opt_time, scopes, scopes_text, time, uuid};
use crate::schema::{api_keys, secret_keys};

/// The `Key` a row `$r` holds, its id of type `$id`, with its kind's `part` and `secret` as the
/// caller reads them from the row's own columns.
macro_rules! key_of_row {
    ($r:ident as $id:ident, part: $part:expr, secret: $secret:expr $(,)?) => {
        Key {
            id: $id::from_uuid(uuid(&$r.id)?),
            account_id: AccountId::from_uuid(uuid(&$r.account_id)?),
            service_account_id: ServiceAccountId::from_uuid(uuid(&$r.service_account_id)?),
            name: name(&$r.name)?,
            scopes: scopes(&$r.scopes)?,
            active: $r.active,
            expires_at: opt_time($r.expires_at)?,
            created_at: time($r.created_at)?,
            updated_at: time($r.updated_at)?,
            last_used_at: opt_time($r.last_used_at)?,
            last_rotated_at: opt_time($r.last_rotated_at)?,
            leaked_at: opt_time($r.leaked_at)?,
            part: $part,
            secret: $secret,
        }
    };
}

/// The row `$row` of the key `$k`, with its kind's own columns given after the common ones.
macro_rules! row_of_key {
    ($row:ident of $k:ident { $($own:ident: $value:expr),* $(,)? }) => {
        $row {
            id: $k.id.to_string(),
            account_id: $k.account_id.to_string(),
            service_account_id: $k.service_account_id.to_string(),
            name: $k.name.as_str().to_owned(),
            scopes: scopes_text(&$k.scopes),
            active: $k.active,
            expires_at: $k.expires_at.map(micros),
            created_at: micros($k.created_at),
            updated_at: micros($k.updated_at),
            last_used_at: $k.last_used_at.map(micros),
            last_rotated_at: $k.last_rotated_at.map(micros),
            leaked_at: $k.leaked_at.map(micros),
            version: 0,
            $($own: $value),*
        }
    };
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub account_id: String,
    pub service_account_id: String,
    pub name: String,
    pub description: String,
    pub scopes: String,
    pub active: bool,
    pub expires_at: Option<i64>,
    pub secret_hash: Vec<u8>,
    pub previous_secret_hash: Option<Vec<u8>>,
    pub previous_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub last_rotated_at: Option<i64>,
    /// Bumped by every change; see `update_api_key`.
    pub version: i64,
    /// The credential string sealed under the master key, for retrievable keys only.
    pub sealed_secret: Option<Vec<u8>>,
    pub leaked_at: Option<i64>,
    /// Its rate limits, uses left and permissions (see `usage_limits`).
    pub usage_limits: String,
}

impl From<&ApiKey> for ApiKeyRow {
    fn from(k: &ApiKey) -> Self {
        row_of_key!(ApiKeyRow of k {
            description: k.part.description.as_str().to_owned(),
            secret_hash: k.secret.current.as_bytes().to_vec(),
            previous_secret_hash: k.secret.previous.as_ref().map(|(h, _)| h.as_bytes().to_vec()),
            previous_expires_at: k.secret.previous.as_ref().map(|(_, t)| micros(*t)),
            last_used_ip: k.part.last_used_ip.map(|ip| ip.to_string()),
            sealed_secret: k.secret.sealed.clone(),
            usage_limits: crate::usage_limits::to_text(&k.part.limits),
        })
    }
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = RepoError;
    fn try_from(r: ApiKeyRow) -> RepoResult<Self> {
        let hash = |b: &[u8]| SecretHash::from_bytes(b).ok_or_else(|| corrupt("secret hash"));
        let previous = match (r.previous_secret_hash, r.previous_expires_at) {
            (Some(h), Some(until)) => Some((hash(&h)?, time(until)?)),
            _ => None,
        };
        Ok(key_of_row!(r as ApiKeyId,
            part: ApiKeyPart {
                description: description(&r.description)?,
                last_used_ip: r
                    .last_used_ip
                    .map(|ip| ip.parse().map_err(|_| corrupt("last used address")))
                    .transpose()?,
                limits: crate::usage_limits::from_text(&r.usage_limits).map_err(|_| corrupt("usage limits"))?,
            },
            secret: StoredSecret { current: hash(&r.secret_hash)?, previous, sealed: r.sealed_secret },
        ))
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = secret_keys)]
pub(crate) struct SecretKeyRow {
    pub id: String,
    pub account_id: String,
    pub service_account_id: String,
    pub name: String,
    pub scopes: String,
    pub active: bool,
    pub expires_at: Option<i64>,
    pub sealed_secret: Vec<u8>,
    pub previous_sealed_secret: Option<Vec<u8>>,
    pub previous_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub last_rotated_at: Option<i64>,
    /// Bumped by every change; see `update_secret_key`.
    pub version: i64,
    pub leaked_at: Option<i64>,
    pub require_dpop: bool,
}

impl From<&SecretKey> for SecretKeyRow {
    fn from(k: &SecretKey) -> Self {
        row_of_key!(SecretKeyRow of k {
            sealed_secret: k.secret.current.clone(),
            previous_sealed_secret: k.secret.previous.as_ref().map(|(s, _)| s.clone()),
            previous_expires_at: k.secret.previous.as_ref().map(|(_, t)| micros(*t)),
            require_dpop: k.part.require_dpop,
        })
    }
}

impl TryFrom<SecretKeyRow> for SecretKey {
    type Error = RepoError;
    fn try_from(r: SecretKeyRow) -> RepoResult<Self> {
        let previous = match (r.previous_sealed_secret, r.previous_expires_at) {
            (Some(s), Some(until)) => Some((s, time(until)?)),
            _ => None,
        };
        Ok(key_of_row!(r as SecretKeyId,
            part: SecretKeyPart { require_dpop: r.require_dpop },
            secret: SealedSecret { current: r.sealed_secret, previous },
        ))
    }
}
