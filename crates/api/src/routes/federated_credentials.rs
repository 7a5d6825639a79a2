//! `.../service-accounts/{service_account_id}/federated-credentials`: a service account's trust in
//! external OIDC issuers (workload identity federation), and the dry run of a token against one.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::federation::{Check, FederatedCredential};
use domain::scope::Scopes;
use domain::service::{FederatedCredentialChanges, NewFederatedCredential};
use domain::text::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use web::error::{ApiResult, Problem};
use web::extract::{ApiJson, ApiQuery, Caller, FederatedCredentialPath, ServiceAccountPath};
use web::list::{PageParams, list_body, next_cursor, page_request};
use web::state::AppState;

/// A federated credential: which tokens of an external OIDC issuer may be exchanged for access
/// tokens of its service account, with which scopes and for how long.
#[derive(Debug, Serialize, ToSchema)]
pub struct FederatedCredentialBody {
    /// Its id (UUIDv7); access tokens minted through it carry it in their `fed` claim.
    pub id: String,
    /// The account of its service account.
    pub account_id: String,
    /// The service account whose access tokens it mints.
    pub service_account_id: String,
    /// Its name, unique per service account.
    pub name: String,
    /// The issuer, exactly as its tokens' `iss` says.
    #[schema(example = "https://token.actions.githubusercontent.com")]
    pub issuer: String,
    /// The `aud` values accepted; a token must carry one of them.
    pub audiences: Vec<String>,
    /// The exact `sub` required, or `null`.
    pub subject: Option<String>,
    /// Other claims required, by name: an exact value, or a glob where `*` matches any run of
    /// characters (anchored, case-sensitive).
    #[schema(example = json!({"repository_owner": "octo-org", "ref": "refs/heads/main"}))]
    pub claims: BTreeMap<String, String>,
    /// The scopes a minted token may carry (a request may narrow them).
    pub scopes: Vec<String>,
    /// The longest life of a minted token in seconds; it is also never longer than the configured
    /// access-token lifetime, nor than the external token's remaining life.
    pub max_ttl_seconds: i64,
    /// Whether it may be used.
    pub active: bool,
    /// Whether an external token may be exchanged only once (by its `jti`) within its life.
    pub refuse_replay: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<FederatedCredential> for FederatedCredentialBody {
    fn from(f: FederatedCredential) -> Self {
        Self {
            id: f.id.to_string(),
            account_id: f.account_id.to_string(),
            service_account_id: f.service_account_id.to_string(),
            name: f.name.into(),
            issuer: f.policy.issuer().as_str().to_owned(),
            audiences: f.policy.audiences().to_vec(),
            subject: f.policy.subject().map(str::to_owned),
            claims: f.policy.claims().iter().map(|(k, p)| (k.clone(), p.as_str().to_owned())).collect(),
            scopes: f.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            max_ttl_seconds: f.max_ttl_seconds,
            active: f.active,
            refuse_replay: f.refuse_replay,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

list_body!(FederatedCredentialList, FederatedCredentialBody);

fn yes() -> bool {
    true
}

/// A new federated credential. Give a `subject`, or at least one claim. For
/// `https://token.actions.githubusercontent.com` bind `repository_owner` (or
/// `repository_owner_id`) exactly, for `https://gitlab.com` `namespace_path` (or `namespace_id`):
/// those issuers sign for all their users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFederatedCredential {
    /// 1 to 100 characters, unique per service account.
    #[schema(value_type = web::schema::NameText, example = "github-deploy")]
    pub name: Name,
    /// The issuer: an https URL (plain http only for loopback addresses), exactly as its tokens'
    /// `iss` says.
    pub issuer: String,
    /// 1 to 10 accepted `aud` values.
    pub audiences: Vec<String>,
    /// The exact `sub` required.
    pub subject: Option<String>,
    /// Up to 20 other claims, by name: an exact value or a glob (`*`).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// What a minted token may carry; the caller must hold each one itself.
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::ScopeText>)]
    pub scopes: Scopes,
    /// The longest life of a minted token, 1 to 86400 seconds (default 3600).
    #[serde(default, deserialize_with = "web::whole_number::optional")]
    #[schema(minimum = 1, maximum = 86_400)]
    pub max_ttl_seconds: Option<i64>,
    /// Whether it may be used at once (default `true`).
    #[serde(default = "yes")]
    pub active: bool,
    /// Refuse an external token already exchanged (same issuer and `jti`) within its life
    /// (default `false`).
    #[serde(default)]
    pub refuse_replay: bool,
}

/// Changes to a federated credential; absent fields stay as they are. The policy (issuer,
/// audiences, subject, claims) is checked again as a whole.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFederatedCredential {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<Name>,
    /// A new issuer.
    pub issuer: Option<String>,
    /// New accepted audiences.
    pub audiences: Option<Vec<String>>,
    /// A new required subject, or `null` for none.
    #[serde(default, deserialize_with = "web::extract::present")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Option<String>>,
    /// New required claims, replacing the old ones.
    pub claims: Option<BTreeMap<String, String>>,
    /// New scopes; the caller must hold each one itself.
    #[schema(value_type = Option<Vec<web::schema::ScopeText>>)]
    pub scopes: Option<Scopes>,
    /// A new maximum lifetime, 1 to 86400 seconds.
    #[serde(default, deserialize_with = "web::whole_number::optional")]
    #[schema(minimum = 1, maximum = 86_400)]
    pub max_ttl_seconds: Option<i64>,
    /// Enable or disable it.
    pub active: Option<bool>,
    /// Refuse replayed external tokens, or not.
    pub refuse_replay: Option<bool>,
}

/// A token to try against a federated credential.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestToken {
    /// The external token (a compact JWT), as the workload would present it. It is not stored.
    pub token: String,
}

/// The token is a bearer credential until it expires: `Debug` never shows it.
impl std::fmt::Debug for TestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestToken { token: [REDACTED] }")
    }
}

/// One check of a dry run.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBody {
    /// `token`, `signature`, `issuer`, `expiry`, `not_before`, `audience`, `subject` or
    /// `claims.<name>`.
    pub name: String,
    /// Whether the token passed it.
    pub passed: bool,
    /// What it requires.
    pub requirement: String,
}

/// The outcome of a dry run: each check, and whether the token would be exchanged.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether every check passed (and the credential and its service account are active).
    pub passed: bool,
    /// The checks, in the order the exchange makes them.
    pub checks: Vec<CheckBody>,
}

impl From<Check> for CheckBody {
    fn from(c: Check) -> Self {
        Self { name: c.name, passed: c.passed, requirement: c.requirement }
    }
}

/// Creates a federated credential. Needs `service-accounts:write`.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials",
    tag = "federated credentials", request_body = CreateFederatedCredential,
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = FederatedCredentialBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn create_federated_credential(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiJson(body): ApiJson<CreateFederatedCredential>,
) -> ApiResult<(StatusCode, Json<FederatedCredentialBody>)> {
    let new = NewFederatedCredential {
        name: body.name,
        issuer: body.issuer,
        audiences: body.audiences,
        subject: body.subject,
        claims: body.claims,
        scopes: body.scopes,
        max_ttl_seconds: body.max_ttl_seconds,
        active: body.active,
        refuse_replay: body.refuse_replay,
    };
    let (account, sa) = (path.account_id, path.service_account_id);
    let made = state.run(move |kw| kw.create_federated_credential(&p, account, sa, new)).await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// Lists a service account's federated credentials. Needs `service-accounts:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials",
    tag = "federated credentials",
    params(ServiceAccountPath, PageParams),
    security(("bearer" = [])),
    responses((status = 200, body = FederatedCredentialList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn list_federated_credentials(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<FederatedCredentialList>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let list = format!("/v1/accounts/{account}/service-accounts/{sa}/federated-credentials");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let found = state.run(move |kw| kw.list_federated_credentials(&p, account, sa, &page)).await?;
    let next_cursor = next_cursor(&state, &list, found.next.as_ref());
    Ok(Json(FederatedCredentialList { items: found.items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One federated credential. Needs `service-accounts:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials/{federated_credential_id}",
    tag = "federated credentials",
    params(FederatedCredentialPath),
    security(("bearer" = [])),
    responses((status = 200, body = FederatedCredentialBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn get_federated_credential(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: FederatedCredentialPath,
) -> ApiResult<Json<FederatedCredentialBody>> {
    let FederatedCredentialPath { account_id, service_account_id, federated_credential_id } = path;
    let found = state
        .run(move |kw| kw.get_federated_credential(&p, account_id, service_account_id, federated_credential_id))
        .await?;
    Ok(Json(found.into()))
}

/// Changes a federated credential. Needs `service-accounts:write`.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials/{federated_credential_id}",
    tag = "federated credentials", request_body = UpdateFederatedCredential,
    params(FederatedCredentialPath),
    security(("bearer" = [])),
    responses((status = 200, body = FederatedCredentialBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn update_federated_credential(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: FederatedCredentialPath,
    ApiJson(body): ApiJson<UpdateFederatedCredential>,
) -> ApiResult<Json<FederatedCredentialBody>> {
    let changes = FederatedCredentialChanges {
        name: body.name,
        issuer: body.issuer,
        audiences: body.audiences,
        subject: body.subject,
        claims: body.claims,
        scopes: body.scopes,
        max_ttl_seconds: body.max_ttl_seconds,
        active: body.active,
        refuse_replay: body.refuse_replay,
    };
    let FederatedCredentialPath { account_id, service_account_id, federated_credential_id } = path;
    let changed = state
        .run(move |kw| {
            kw.update_federated_credential(&p, account_id, service_account_id, federated_credential_id, changes)
        })
        .await?;
    Ok(Json(changed.into()))
}

/// Deletes a federated credential. Access tokens it minted stay valid until they expire. Needs
/// `service-accounts:write`.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials/{federated_credential_id}",
    tag = "federated credentials",
    params(FederatedCredentialPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn delete_federated_credential(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: FederatedCredentialPath,
) -> ApiResult<StatusCode> {
    let FederatedCredentialPath { account_id, service_account_id, federated_credential_id } = path;
    state
        .run(move |kw| kw.delete_federated_credential(&p, account_id, service_account_id, federated_credential_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tries a token against a federated credential without minting anything: which checks pass
/// (signature against the issuer's published keys, issuer, expiry, not-before, audience,
/// subject, each claim). Needs `service-accounts:read`.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/federated-credentials/{federated_credential_id}/test",
    tag = "federated credentials", request_body = TestToken,
    params(FederatedCredentialPath),
    security(("bearer" = [])),
    responses((status = 200, body = TestResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn test_federated_credential(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: FederatedCredentialPath,
    ApiJson(body): ApiJson<TestToken>,
) -> ApiResult<Json<TestResult>> {
    let FederatedCredentialPath { account_id, service_account_id, federated_credential_id } = path;
    let checks = state
        .run(move |kw| {
            kw.test_federated_credential(&p, account_id, service_account_id, federated_credential_id, &body.token)
        })
        .await?;
    let passed = checks.iter().all(|c| c.passed);
    Ok(Json(TestResult { passed, checks: checks.into_iter().map(Into::into).collect() }))
}
