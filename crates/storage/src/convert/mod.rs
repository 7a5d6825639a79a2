//! Rows as Diesel reads and writes them, and their conversion to and from domain values.
//!
//! Stored values were valid when written, so a row that no longer parses means the database was
//! changed behind Keyward's back; it is reported as a storage failure, never passed on.

use chrono::DateTime;
use diesel::prelude::*;
use domain::Timestamp;
use domain::account::Account;
use domain::audit::{Action, AuditEvent, Outcome};
use domain::id::{AccountId, AuditEventId, ServiceAccountId, SigningKeyId};
use domain::repository::{RepoError, RepoResult};
use domain::scope::Scopes;
use domain::service_account::ServiceAccount;
use domain::signing_key::{SigningAlgorithm, SigningKey, SigningKeyState};
use domain::text::{Description, Metadata, Name};
use uuid::Uuid;

use crate::schema::{accounts, audit_events, service_accounts, signing_keys};

mod keys;

pub(crate) use keys::{ApiKeyRow, SecretKeyRow};

pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::Unavailable(format!("a stored {what} is invalid"))
}

/// A time as stored: microseconds since the Unix epoch.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn time(m: i64) -> RepoResult<Timestamp> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| corrupt("time"))
}

pub(crate) fn opt_time(m: Option<i64>) -> RepoResult<Option<Timestamp>> {
    m.map(time).transpose()
}

pub(crate) fn uuid(s: &str) -> RepoResult<Uuid> {
    Uuid::try_parse(s).map_err(|_| corrupt("id"))
}

pub(crate) fn name(s: &str) -> RepoResult<Name> {
    Name::parse(s, "name").map_err(|_| corrupt("name"))
}

fn description(s: &str) -> RepoResult<Description> {
    Description::parse(s, "description").map_err(|_| corrupt("description"))
}

/// Scopes are stored space-separated with a space at each end (` a b `), so that a single scope
/// can be matched exactly with `LIKE '% scope %'`.
pub(crate) fn scopes_text(scopes: &Scopes) -> String {
    let mut s = String::from(" ");
    for scope in scopes.iter() {
        s.push_str(scope.as_str());
        s.push(' ');
    }
    s
}

pub(crate) fn scopes(s: &str) -> RepoResult<Scopes> {
    let items: Vec<&str> = s.split_whitespace().collect();
    Scopes::parse(&items, "scopes").map_err(|_| corrupt("scope"))
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub(crate) struct AccountRow {
    pub id: String,
    pub name: String,
    pub system: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Account> for AccountRow {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.as_str().to_owned(),
            system: a.system,
            created_at: micros(a.created_at),
            updated_at: micros(a.updated_at),
        }
    }
}

impl TryFrom<AccountRow> for Account {
    type Error = RepoError;
    fn try_from(r: AccountRow) -> RepoResult<Self> {
        Ok(Account {
            id: AccountId::from_uuid(uuid(&r.id)?),
            name: name(&r.name)?,
            system: r.system,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = service_accounts)]
pub(crate) struct ServiceAccountRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The rate limits and uses left its keys share (see `usage_limits`).
    pub usage_limits: String,
}

impl From<&ServiceAccount> for ServiceAccountRow {
    fn from(sa: &ServiceAccount) -> Self {
        Self {
            id: sa.id.to_string(),
            account_id: sa.account_id.to_string(),
            name: sa.name.as_str().to_owned(),
            description: sa.description.as_str().to_owned(),
            active: sa.active,
            metadata: serde_json::to_string(sa.metadata.entries()).unwrap_or_else(|_| "{}".to_owned()),
            created_at: micros(sa.created_at),
            updated_at: micros(sa.updated_at),
            usage_limits: crate::usage_limits::to_text(&sa.limits),
        }
    }
}

impl TryFrom<ServiceAccountRow> for ServiceAccount {
    type Error = RepoError;
    fn try_from(r: ServiceAccountRow) -> RepoResult<Self> {
        let map = serde_json::from_str(&r.metadata).map_err(|_| corrupt("metadata"))?;
        Ok(ServiceAccount {
            id: ServiceAccountId::from_uuid(uuid(&r.id)?),
            account_id: AccountId::from_uuid(uuid(&r.account_id)?),
            name: name(&r.name)?,
            description: description(&r.description)?,
            active: r.active,
            metadata: Metadata::parse(map, "metadata").map_err(|_| corrupt("metadata"))?,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
            limits: crate::usage_limits::from_text(&r.usage_limits).map_err(|_| corrupt("usage limits"))?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub state: String,
    pub public_key: Vec<u8>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub deactivated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

impl From<&SigningKey> for SigningKeyRow {
    fn from(k: &SigningKey) -> Self {
        Self {
            kid: k.kid.to_string(),
            algorithm: k.algorithm.as_str().to_owned(),
            state: k.state.as_str().to_owned(),
            public_key: k.public_key.clone(),
            sealed_private_key: k.sealed_private_key.clone(),
            created_at: micros(k.created_at),
            activated_at: k.activated_at.map(micros),
            deactivated_at: k.deactivated_at.map(micros),
            retired_at: k.retired_at.map(micros),
        }
    }
}

impl TryFrom<SigningKeyRow> for SigningKey {
    type Error = RepoError;
    fn try_from(r: SigningKeyRow) -> RepoResult<Self> {
        Ok(SigningKey {
            kid: SigningKeyId::from_uuid(uuid(&r.kid)?),
            algorithm: SigningAlgorithm::parse(&r.algorithm).ok_or_else(|| corrupt("signing algorithm"))?,
            state: SigningKeyState::parse(&r.state).ok_or_else(|| corrupt("signing key state"))?,
            public_key: r.public_key,
            sealed_private_key: r.sealed_private_key,
            created_at: time(r.created_at)?,
            activated_at: opt_time(r.activated_at)?,
            deactivated_at: opt_time(r.deactivated_at)?,
            retired_at: opt_time(r.retired_at)?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub(crate) struct AuditEventRow {
    pub id: String,
    pub account_id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub at: i64,
    pub ip: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
}

impl From<&AuditEvent> for AuditEventRow {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            account_id: e.account_id.to_string(),
            actor: e.actor.clone(),
            action: e.action.as_str().to_owned(),
            target: e.target.clone(),
            at: micros(e.at),
            ip: e.ip.clone(),
            outcome: e.outcome.as_str().to_owned(),
            reason: e.reason.clone(),
        }
    }
}

impl TryFrom<AuditEventRow> for AuditEvent {
    type Error = RepoError;
    fn try_from(r: AuditEventRow) -> RepoResult<Self> {
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(uuid(&r.id)?),
            account_id: AccountId::from_uuid(uuid(&r.account_id)?),
            actor: r.actor,
            action: Action::parse(&r.action).ok_or_else(|| corrupt("audit action"))?,
            target: r.target,
            at: time(r.at)?,
            ip: r.ip,
            outcome: Outcome::parse(&r.outcome).ok_or_else(|| corrupt("audit outcome"))?,
            reason: r.reason,
            notify: None,
        })
    }
}

/// Converts every row, failing on the first invalid one.
pub(crate) fn all<R, T: TryFrom<R, Error = RepoError>>(rows: Vec<R>) -> RepoResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}
