//! `/v1/accounts/{account_id}/audit-events`: the audit trail.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::audit::{AuditEvent, Outcome};
use domain::audit_filter::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use web::error::{ApiResult, Problem};
use web::extract::{AccountPath, ApiQuery, Caller};
use web::list::{list_body, next_cursor, page_request};
use web::state::AppState;

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    /// Its id (UUIDv7).
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// Who acted: `api_key:<id>`, `ip:<address>` for a refused credential, `system:bootstrap`, or
    /// `external:<sub>@<iss>` for a workload exchanging its platform's token.
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
    /// Why it was refused, when that says more than the action (absent otherwise): for a refused
    /// `token.exchange`, the checks that failed, such as `failed checks: audience, claims.ref`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
            reason: e.reason,
        }
    }
}

list_body!(AuditEventList, AuditEventBody);

/// Filters and paging of the audit trail (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// Only this action, such as `api_key.create`. (The pattern lists every action; a test keeps
    /// it in step with `Action::ALL`.)
    #[param(
        pattern = "^(account\\.create|account\\.update|account\\.delete|service_account\\.create|service_account\\.update|service_account\\.delete|api_key\\.create|api_key\\.update|api_key\\.rotate|api_key\\.delete|secret_key\\.create|secret_key\\.update|secret_key\\.rotate|secret_key\\.delete|federated_credential\\.create|federated_credential\\.update|federated_credential\\.delete|token\\.exchange|token\\.revoke|signing_key\\.rotate|auth\\.failure|credential\\.leaked|credential\\.expiring|credential\\.expired|credential\\.new_network|webhook\\.create|webhook\\.delete|role\\.create|role\\.update|role\\.delete)$"
    )]
    pub action: Option<String>,
    /// Only this actor, such as `api_key:<id>`.
    pub actor: Option<String>,
    /// Only this target, such as `service_account:<id>`.
    pub target: Option<String>,
    /// Only events at or after this time: RFC 3339, or relative such as `now-7d`.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub from: Option<String>,
    /// Only events before this time: RFC 3339, or relative such as `now-1h`.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub to: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the audit events of an account, newest first. Needs `audit:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/audit-events", tag = "audit",
    params(AccountPath, AuditListParams),
    security(("bearer" = [])),
    responses((status = 200, body = AuditEventList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiQuery(q): ApiQuery<AuditListParams>,
) -> ApiResult<Json<AuditEventList>> {
    let account = path.account_id;
    let filter = AuditFilter::parse(q.action.as_deref(), q.actor, q.target, q.from.as_deref(), q.to.as_deref())?;
    let list = format!(
        "/v1/accounts/{account}/audit-events?action={:?}&actor={:?}&target={:?}&from={:?}&to={:?}",
        q.action,
        filter.actor(),
        filter.target(),
        q.from,
        q.to
    );
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let result = state.run(move |kw| kw.list_audit_events(&p, account, &filter.query(kw.now(), page))).await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(AuditEventList { items: result.items.into_iter().map(Into::into).collect(), next_cursor }))
}

#[cfg(test)]
mod tests {
    use domain::audit::Action;
    use utoipa::IntoParams;

    #[test]
    fn the_documented_action_pattern_names_every_action() {
        let params = super::AuditListParams::into_params(|| None);
        let action = params.iter().find(|p| p.name == "action").expect("an action parameter");
        let schema = serde_json::to_value(&action.schema).expect("a schema");
        let expected: Vec<String> = Action::ALL.iter().map(|a| a.as_str().replace('.', "\\.")).collect();
        assert_eq!(schema["pattern"], format!("^({})$", expected.join("|")));
    }
}
