//! Federated credentials: their rows (audiences and claims as JSON text) and their repository.

use std::collections::BTreeMap;

use diesel::prelude::*;
use domain::Error;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::federation::{FederatedCredential, Issuer, TrustPolicy};
use domain::id::{AccountId, FederatedCredentialId, ServiceAccountId};
use domain::page::{Page, PageRequest, Position, SortKey};
use domain::repository::{FederatedCredentialRepository, RepoError, RepoResult};

use super::{fetch_limit, record};
use crate::Store;
use crate::connection::{DbConnection, MultiBackend};
use crate::convert::{corrupt, micros, name, scopes, scopes_text, time, uuid};
use crate::error::TxError;
use crate::schema::federated_credentials::{self, dsl};
use crate::schema::{accounts, service_accounts};
use crate::store::lock_row;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = federated_credentials)]
pub(crate) struct FederatedCredentialRow {
    pub id: String,
    pub account_id: String,
    pub service_account_id: String,
    pub name: String,
    pub issuer: String,
    /// A JSON array of strings.
    pub audiences: String,
    pub subject: Option<String>,
    /// A JSON object of claim name to pattern.
    pub claims: String,
    pub scopes: String,
    pub max_ttl_seconds: i64,
    pub active: bool,
    pub refuse_replay: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every change; see `update_federated_credential`.
    pub version: i64,
}

impl From<&FederatedCredential> for FederatedCredentialRow {
    fn from(f: &FederatedCredential) -> Self {
        let claims: BTreeMap<&str, &str> = f.policy.claims().iter().map(|(k, p)| (k.as_str(), p.as_str())).collect();
        Self {
            id: f.id.to_string(),
            account_id: f.account_id.to_string(),
            service_account_id: f.service_account_id.to_string(),
            name: f.name.as_str().to_owned(),
            issuer: f.policy.issuer().as_str().to_owned(),
            audiences: serde_json::to_string(f.policy.audiences()).unwrap_or_else(|_| "[]".to_owned()),
            subject: f.policy.subject().map(str::to_owned),
            claims: serde_json::to_string(&claims).unwrap_or_else(|_| "{}".to_owned()),
            scopes: scopes_text(&f.scopes),
            max_ttl_seconds: f.max_ttl_seconds,
            active: f.active,
            refuse_replay: f.refuse_replay,
            created_at: micros(f.created_at),
            updated_at: micros(f.updated_at),
            version: 0,
        }
    }
}

impl TryFrom<FederatedCredentialRow> for FederatedCredential {
    type Error = RepoError;
    fn try_from(r: FederatedCredentialRow) -> RepoResult<Self> {
        let issuer = Issuer::parse(&r.issuer, "issuer").map_err(|_| corrupt("issuer"))?;
        let audiences: Vec<String> = serde_json::from_str(&r.audiences).map_err(|_| corrupt("audience list"))?;
        let claims: BTreeMap<String, String> = serde_json::from_str(&r.claims).map_err(|_| corrupt("claim list"))?;
        let policy = TrustPolicy::new(issuer, audiences, r.subject, claims).map_err(|_| corrupt("trust policy"))?;
        Ok(FederatedCredential {
            id: FederatedCredentialId::from_uuid(uuid(&r.id)?),
            account_id: AccountId::from_uuid(uuid(&r.account_id)?),
            service_account_id: ServiceAccountId::from_uuid(uuid(&r.service_account_id)?),
            name: name(&r.name)?,
            policy,
            scopes: scopes(&r.scopes)?,
            max_ttl_seconds: r.max_ttl_seconds,
            active: r.active,
            refuse_replay: r.refuse_replay,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

fn one(
    account: AccountId,
    sa: ServiceAccountId,
    id: FederatedCredentialId,
) -> federated_credentials::BoxedQuery<'static, MultiBackend> {
    federated_credentials::table
        .filter(dsl::id.eq(id.to_string()))
        .filter(dsl::account_id.eq(account.to_string()))
        .filter(dsl::service_account_id.eq(sa.to_string()))
        .into_boxed()
}

fn read_one(
    c: &mut DbConnection,
    account: AccountId,
    sa: ServiceAccountId,
    id: FederatedCredentialId,
) -> QueryResult<FederatedCredentialRow> {
    one(account, sa, id).select(FederatedCredentialRow::as_select()).get_result(c)
}

impl FederatedCredentialRepository for Store {
    fn insert_federated_credential(&self, credential: &FederatedCredential, audit: &AuditEvent) -> RepoResult<()> {
        let row = FederatedCredentialRow::from(credential);
        self.write(Entity::FederatedCredential, |c| {
            diesel::insert_into(federated_credentials::table).values(&row).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
    ) -> RepoResult<FederatedCredential> {
        self.read(Entity::FederatedCredential, |c| Ok(FederatedCredential::try_from(read_one(c, account, sa, id)?)?))
    }

    fn list_federated_credentials(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> RepoResult<Page<FederatedCredential>> {
        let rows = self.read_lagging(page.may_lag, Entity::FederatedCredential, |c| {
            let mut q = federated_credentials::table
                .filter(dsl::account_id.eq(account.to_string()))
                .filter(dsl::service_account_id.eq(sa.to_string()))
                .select(FederatedCredentialRow::as_select())
                .order(dsl::id.asc())
                .limit(fetch_limit(page.limit))
                .into_boxed();
            if let Some(after) = &page.after {
                q = q.filter(dsl::id.gt(after.id.hyphenated().to_string()));
            }
            let rows: Vec<FederatedCredentialRow> = q.load(c)?;
            Ok(rows.into_iter().map(FederatedCredential::try_from).collect::<RepoResult<Vec<_>>>()?)
        })?;
        Ok(Page::from_rows(rows, page.limit, |f| Position { key: SortKey::Id, id: *f.id.as_uuid() }))
    }

    fn federated_credentials_for_issuer(&self, issuer: &Issuer) -> RepoResult<Vec<(FederatedCredential, bool)>> {
        self.read(Entity::FederatedCredential, |c| {
            let rows: Vec<(FederatedCredentialRow, bool)> = federated_credentials::table
                .inner_join(service_accounts::table)
                .filter(dsl::issuer.eq(issuer.as_str()))
                .select((FederatedCredentialRow::as_select(), service_accounts::active))
                .order(dsl::id.asc())
                .limit(1000)
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(row, owner_active)| FederatedCredential::try_from(row).map(|f| (f, owner_active)))
                .collect::<RepoResult<Vec<_>>>()?)
        })
    }

    fn federated_credential_for_auth(
        &self,
        id: FederatedCredentialId,
    ) -> RepoResult<Option<(FederatedCredential, bool, bool)>> {
        self.read(Entity::FederatedCredential, |c| {
            let found: Option<(FederatedCredentialRow, bool, bool)> = federated_credentials::table
                .inner_join(service_accounts::table.inner_join(accounts::table))
                .filter(dsl::id.eq(id.to_string()))
                .select((FederatedCredentialRow::as_select(), service_accounts::active, accounts::system))
                .get_result(c)
                .optional()?;
            Ok(found
                .map(|(row, active, system)| FederatedCredential::try_from(row).map(|f| (f, active, system)))
                .transpose()?)
        })
    }

    fn update_federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        change: &mut dyn FnMut(&mut FederatedCredential) -> Result<AuditEvent, Error>,
    ) -> Result<FederatedCredential, Error> {
        self.read_modify_write(Entity::FederatedCredential, |c| {
            let mut row = read_one(c, account, sa, id)?;
            if lock_row(c, "federated_credentials", &row.id)? {
                row = read_one(c, account, sa, id)?;
            }
            let version = row.version;
            let mut credential = FederatedCredential::try_from(row)?;
            let audit = change(&mut credential).map_err(TxError::Domain)?;
            let new = FederatedCredentialRow::from(&credential);
            let unchanged_since_read = dsl::id.eq(&new.id).and(dsl::version.eq(version));
            let updated = diesel::update(federated_credentials::table.filter(unchanged_since_read))
                .set((
                    dsl::name.eq(&new.name),
                    dsl::issuer.eq(&new.issuer),
                    dsl::audiences.eq(&new.audiences),
                    dsl::subject.eq(&new.subject),
                    dsl::claims.eq(&new.claims),
                    dsl::scopes.eq(&new.scopes),
                    dsl::max_ttl_seconds.eq(new.max_ttl_seconds),
                    dsl::active.eq(new.active),
                    dsl::refuse_replay.eq(new.refuse_replay),
                    dsl::updated_at.eq(new.updated_at),
                    dsl::version.eq(version + 1),
                ))
                .execute(c)?;
            if updated == 0 {
                return Ok(None);
            }
            record(c, &audit)?;
            Ok(Some(credential))
        })
    }

    fn delete_federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        self.write(Entity::FederatedCredential, |c| {
            let deleted = diesel::delete(
                federated_credentials::table
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::account_id.eq(account.to_string()))
                    .filter(dsl::service_account_id.eq(sa.to_string())),
            )
            .execute(c)?;
            if deleted == 0 {
                return Err(TxError::Repo(RepoError::NotFound(Entity::FederatedCredential)));
            }
            record(c, audit)?;
            Ok(())
        })
    }
}
