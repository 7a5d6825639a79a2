//! The ZenML dialect: what ZenML's client (`RestZenStore`) needs to manage service accounts and
//! their API keys against Keyward — server info, login with an API key, the current user, and
//! `/api/v1/service_accounts[/{id}/api_keys]` with ZenML's filters, sort and pages.
//!
//! A ZenML service account is a Keyward service account; a ZenML API key a Keyward API key. Login
//! (`grant_type=zenml-api-key`) answers a Keyward access token bound to the key. Errors are
//! `{"detail": [<exception class>, <message>]}` with the statuses ZenML's client maps to its
//! exceptions (401 → `CredentialsNotValid`, 404 → `KeyError`, ...).

mod api_keys;
mod service_accounts;
mod session;
mod wire;
mod workspace;

use axum::Json;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::filter::{Criterion, FieldKind, Filter, Sort};
use domain::id::ServiceAccountId;
use domain::principal::Principal;
use domain::service::Keyward;
use domain::service_account::ServiceAccount;
use domain::text::Name;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Dialect, Presented, authorization};
use web::error::ApiError;
use web::state::AppState;

pub use wire::ZenmlError;

/// The ZenML dialect.
#[derive(Debug)]
pub struct Zenml;

impl Dialect for Zenml {
    fn credential(parts: &Parts) -> Option<Presented<'_>> {
        authorization(parts, "Bearer").map(Presented::Token)
    }

    fn error(status: StatusCode, message: String) -> Response {
        let exception = match status.as_u16() {
            400 | 413 | 415 | 422 => "ValueError",
            401 => "CredentialsNotValid",
            403 => "IllegalOperationError",
            404 => "KeyError",
            405 => "MethodNotAllowedError",
            409 => "EntityExistsError",
            _ => "RuntimeError",
        };
        let mut res = (status, Json(ZenmlError { detail: vec![exception.to_owned(), message] })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }

    /// ZenML refuses what a caller may not do to itself as an illegal operation (403).
    fn status(e: &ApiError) -> StatusCode {
        if e.code() == "own_credential" { StatusCode::FORBIDDEN } else { e.status() }
    }
}

/// The tag of these routes in the OpenAPI document.
pub const TAG: &str = "dialect: ZenML service accounts";

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session::info))
        .routes(routes!(session::login))
        .routes(routes!(session::current_user))
        .routes(routes!(service_accounts::create_service_account, service_accounts::list_service_accounts))
        .routes(routes!(
            service_accounts::get_service_account,
            service_accounts::update_service_account,
            service_accounts::delete_service_account
        ))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::get_api_key, api_keys::update_api_key, api_keys::delete_api_key))
        .routes(routes!(api_keys::rotate_api_key))
        .routes(routes!(workspace::list_projects))
        .routes(routes!(workspace::get_project))
        .routes(routes!(workspace::list_stacks))
        .routes(routes!(workspace::get_stack))
}

/// The service account a ZenML path names by id or by name, in the caller's account.
fn service_account(kw: &Keyward, p: &Principal, raw: &str) -> Result<ServiceAccount, domain::Error> {
    match ServiceAccountId::parse(raw, "service_account_id") {
        Ok(id) => kw.get_service_account(p, p.account_id, id),
        Err(_) => kw.find_service_account(p, p.account_id, &Name::parse(raw, "service_account_name_or_id")?),
    }
}

/// The filters, sort and page of a ZenML list. Times are `%Y-%m-%d %H:%M:%S` (UTC) or ISO 8601.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `created` (default), or a field prefixed `asc:` or `desc:` (`desc:created`, `asc:name`).
    pub sort_by: Option<String>,
    /// `and` (default) or `or`: how the filters combine.
    #[param(pattern = "^(and|or)$")]
    pub logical_operator: Option<String>,
    /// The page, from 1 (default 1).
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 10000 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 10000)]
    pub size: Option<String>,
    /// Accepted and ignored: answers always carry their metadata.
    #[param(value_type = Option<bool>)]
    pub hydrate: Option<String>,
    /// Filter on the id: a value, or `operator:value` (`equals`, `notequals`, `contains`,
    /// `startswith`, `endswith`, `oneof`).
    pub id: Option<String>,
    /// Filter on the creation time (`gt`, `gte`, `lt`, `lte`, `equals`, ...).
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub created: Option<String>,
    /// Filter on the time of the last change.
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub updated: Option<String>,
    /// Filter on the name.
    pub name: Option<String>,
    /// Filter on the description.
    pub description: Option<String>,
    /// Filter on the state: `true` or `false`.
    #[param(value_type = Option<bool>)]
    pub active: Option<String>,
    /// API keys only: filter on the last use.
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub last_login: Option<String>,
    /// API keys only: filter on the last rotation.
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub last_rotated: Option<String>,
}

/// `?hydrate=` on a single resource: accepted and ignored (answers always carry their metadata),
/// but it must be a boolean, as documented.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Hydrate {
    /// Accepted and ignored: answers always carry their metadata.
    #[param(value_type = Option<bool>)]
    pub hydrate: Option<String>,
}

impl Hydrate {
    /// Refuses a `hydrate` that is not `true` or `false` (in any case: Python sends `True`).
    fn check(&self) -> Result<(), ApiError> {
        match self.hydrate.as_deref() {
            None => Ok(()),
            Some(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => Ok(()),
            Some(_) => Err(ApiError::validation("hydrate", "must be `true` or `false`")),
        }
    }
}

/// A parsed list request.
pub(super) struct ListRequest {
    filter: Filter,
    sort: Sort,
    index: u64,
    size: u64,
}

const SA_FIELDS: &[&str] = &["id", "created", "updated", "name", "description", "active"];
const KEY_FIELDS: &[&str] =
    &["id", "created", "updated", "name", "description", "active", "last_login", "last_rotated"];

impl ListParams {
    /// Parses the filters that `fields` allows (the others must be absent), sort and page.
    fn parse(&self, fields: &[&str]) -> Result<ListRequest, ApiError> {
        Hydrate { hydrate: self.hydrate.clone() }.check()?;
        let given: [(&str, FieldKind, &Option<String>); 8] = [
            ("id", FieldKind::Text, &self.id),
            ("created", FieldKind::Time, &self.created),
            ("updated", FieldKind::Time, &self.updated),
            ("name", FieldKind::Text, &self.name),
            ("description", FieldKind::Text, &self.description),
            ("active", FieldKind::Bool, &self.active),
            ("last_login", FieldKind::Time, &self.last_login),
            ("last_rotated", FieldKind::Time, &self.last_rotated),
        ];
        let mut criteria = Vec::new();
        for (field, kind, value) in given {
            let Some(value) = value else { continue };
            if !fields.contains(&field) {
                return Err(ApiError::validation(field, "this list cannot be filtered on it"));
            }
            criteria.push(Criterion::parse(field, kind, value)?);
        }
        let any = match self.logical_operator.as_deref() {
            None | Some("and") => false,
            Some("or") => true,
            Some(_) => return Err(ApiError::validation("logical_operator", "must be `and` or `or`")),
        };
        let sort = Sort::parse(self.sort_by.as_deref().unwrap_or("created"), fields)?;
        let number = |raw: Option<&str>, field: &str, default: u64, max: u64| match raw {
            None => Ok(default),
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ApiError::validation(field, format!("must be a whole number from 1 to {max}"))),
        };
        Ok(ListRequest {
            filter: Filter { criteria, any },
            sort,
            index: number(self.page.as_deref(), "page", 1, u64::from(u32::MAX))?,
            size: number(self.size.as_deref(), "size", 20, 10_000)?,
        })
    }
}

/// One page of `records`, in ZenML's page envelope, each item translated by `view`.
fn page_of<T: domain::filter::Filterable, V>(
    records: Vec<T>,
    request: &ListRequest,
    view: impl Fn(&T) -> V,
) -> wire::Page<V> {
    let (items, total) = domain::filter::page(records, &request.filter, &request.sort, request.index, request.size);
    wire::Page {
        index: request.index,
        max_size: request.size,
        total_pages: total.div_ceil(request.size).max(1),
        total,
        items: items.iter().map(view).collect(),
    }
}
