//! `/v1/accounts/{account_id}/audit-events`: the audit trail.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::TimeBound;
use domain::audit::{Action, AuditEvent, Outcome};
use domain::id::AccountId;
use domain::repository::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery, Caller};
use crate::list::{list_body, next_cursor, page_request};
use crate::state::AppState;

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    /// Its id (UUIDv7).
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// Who acted: `api_key:<id>`, `ip:<address>` for a refused credential, or `system:bootstrap`.
    pub actor: String,
    /// What was done, such as `api_key.create` or `auth.failure`.
    pub action: String,
    /// What it was done to, such as `service_account:<id>`.
    pub target: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The client address, when known.
    pub ip: Option<String>,
    /// `success` or `failure`.
    #[schema(value_type = String, example = "success")]
    pub outcome: Outcome,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            account_id: e.account_id.to_string(),
            actor: e.actor,
            action: e.action.as_str().to_owned(),
            target: e.target,
            at: e.at,
            ip: e.ip,
            outcome: e.outcome,
        }
    }
}

list_body!(AuditEventList, AuditEventBody);

/// Filters and paging of the audit trail (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// Only this action, such as `api_key.create`.
    #[param(
        pattern = "^(account\\.create|account\\.update|account\\.delete|service_account\\.create|service_account\\.update|service_account\\.delete|api_key\\.create|api_key\\.update|api_key\\.rotate|api_key\\.delete|secret_key\\.create|secret_key\\.update|secret_key\\.rotate|secret_key\\.delete|token\\.revoke|signing_key\\.rotate|auth\\.failure)$"
    )]
    pub action: Option<String>,
    /// Only this actor, such as `api_key:<id>`.
    pub actor: Option<String>,
    /// Only this target, such as `service_account:<id>`.
    pub target: Option<String>,
    /// Only events at or after this time: RFC 3339, or relative such as `now-7d`.
    #[param(value_type = Option<crate::schema::TimeBoundText>)]
    pub from: Option<String>,
    /// Only events before this time: RFC 3339, or relative such as `now-1h`.
    #[param(value_type = Option<crate::schema::TimeBoundText>)]
    pub to: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The audit trail's filters, parsed: what the API and the console both accept.
#[derive(Debug)]
pub(crate) struct AuditFilter {
    action: Option<Action>,
    actor: Option<String>,
    target: Option<String>,
    from: Option<TimeBound>,
    to: Option<TimeBound>,
}

impl AuditFilter {
    /// Parses the raw filters; an empty one means "any".
    pub(crate) fn parse(
        action: Option<&str>,
        actor: Option<String>,
        target: Option<String>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> ApiResult<Self> {
        let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let action = match given(action) {
            None => None,
            Some(a) => Some(Action::parse(&a).ok_or_else(|| {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                ApiError::validation("action", format!("must be one of {}", known.join(", ")))
            })?),
        };
        Ok(Self {
            action,
            actor: given(actor.as_deref()),
            target: given(target.as_deref()),
            from: given(from).map(|s| TimeBound::parse(&s, "from")).transpose()?,
            to: given(to).map(|s| TimeBound::parse(&s, "to")).transpose()?,
        })
    }

    /// The query for `page`, with relative times resolved at `now`.
    pub(crate) fn query(self, now: chrono::DateTime<Utc>, page: domain::page::PageRequest) -> AuditQuery {
        AuditQuery {
            action: self.action,
            actor: self.actor,
            target: self.target,
            from: self.from.map(|b| b.resolve(now)),
            to: self.to.map(|b| b.resolve(now)),
            page,
        }
    }
}

/// Lists the audit events of an account, newest first. Needs `audit:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/audit-events", tag = "audit",
    params(("account_id" = crate::schema::Id, Path, description = "The account's id"), AuditListParams),
    security(("bearer" = [])),
    responses((status = 200, body = AuditEventList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %account))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditListParams>,
) -> ApiResult<Json<AuditEventList>> {
    let account = AccountId::parse(&account, "account_id")?;
    let filter = AuditFilter::parse(q.action.as_deref(), q.actor, q.target, q.from.as_deref(), q.to.as_deref())?;
    let list = format!(
        "/v1/accounts/{account}/audit-events?action={:?}&actor={:?}&target={:?}&from={:?}&to={:?}",
        q.action, filter.actor, filter.target, q.from, q.to
    );
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let result = state.run(move |kw| kw.list_audit_events(&p, account, &filter.query(kw.now(), page))).await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(AuditEventList { items: result.items.into_iter().map(Into::into).collect(), next_cursor }))
}
