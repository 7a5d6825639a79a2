//! The one project and the one stack a ZenML client looks for after it logs in, so that `zenml
//! login --api-key` and `zenml.client.Client()` start against Keyward.
//!
//! Both are read-only and derived from the caller's account, never stored: the project *is* the
//! account (same id, named `default`, displayed with the account's name), and the stack is an
//! empty stack named `default` with an id derived from the account's. Keyward runs no pipelines,
//! so the stack holds no components; a client that tries to run one is told so by ZenML itself.

use axum::Json;
use axum::extract::State;
use domain::Timestamp;
use domain::filter::{FieldValue, Filterable};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use uuid::Uuid;

use super::wire::{Page, ProjectResponse, StackResponse, ZenmlError, time};
use super::{ListParams, TAG, Zenml, page_of};
use crate::{DialectCaller, DialectResult, Path, Query};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Zenml>;
type Result<T> = DialectResult<T, Zenml>;

/// The name of the project and of the stack.
const DEFAULT: &str = "default";

/// The fields a project or stack list can be filtered and sorted on.
const FIELDS: &[&str] = &["id", "created", "updated", "name"];

/// The filters, sort and page of a project or stack list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkspaceListParams {
    /// `created` (default), or a field prefixed `asc:` or `desc:` (`asc:name`).
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
    /// Accepted and ignored.
    #[param(value_type = Option<bool>)]
    pub hydrate: Option<String>,
    /// Filter on the id: a value, or `operator:value`.
    pub id: Option<String>,
    /// Filter on the creation time (the account's).
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub created: Option<String>,
    /// Filter on the time of the last change (the account's).
    #[param(value_type = Option<web::schema::ZenmlTimeFilter>)]
    pub updated: Option<String>,
    /// Filter on the name (`default`).
    pub name: Option<String>,
}

impl WorkspaceListParams {
    fn parse(self) -> std::result::Result<super::ListRequest, ApiError> {
        let Self { sort_by, logical_operator, page, size, hydrate, id, created, updated, name } = self;
        let all = ListParams {
            sort_by,
            logical_operator,
            page,
            size,
            hydrate,
            id,
            created,
            updated,
            name,
            ..Default::default()
        };
        all.parse(FIELDS)
    }
}

/// The account, seen as ZenML's one project and one stack.
struct Workspace {
    account_id: Uuid,
    account_name: String,
    created: Timestamp,
    updated: Timestamp,
}

/// The project or the stack of a [`Workspace`], as a list filters it.
struct Entry<'a> {
    id: Uuid,
    workspace: &'a Workspace,
}

impl Filterable for Entry<'_> {
    fn field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Text(self.id.to_string()),
            "name" => FieldValue::Text(DEFAULT.to_owned()),
            "created" => FieldValue::Time(Some(self.workspace.created)),
            "updated" => FieldValue::Time(Some(self.workspace.updated)),
            _ => return None,
        })
    }
}

impl Workspace {
    /// The stack's id: stable for the account, and never the id of anything else.
    fn stack_id(&self) -> Uuid {
        Uuid::new_v5(&self.account_id, b"zenml default stack")
    }

    fn project(&self) -> ProjectResponse {
        ProjectResponse {
            id: self.account_id.to_string(),
            name: DEFAULT.to_owned(),
            body: json!({
                "created": time(self.created),
                "updated": time(self.updated),
                "display_name": self.account_name,
            }),
            metadata: json!({
                "description": format!("The Keyward account {}", self.account_name),
                "project_metadata": {},
            }),
            resources: json!({}),
        }
    }

    fn stack(&self) -> StackResponse {
        StackResponse {
            id: self.stack_id().to_string(),
            name: DEFAULT.to_owned(),
            body: json!({"created": time(self.created), "updated": time(self.updated), "user_id": null}),
            metadata: json!({
                "components": {},
                "description": "Keyward runs no pipelines: this stack is empty.",
                "stack_spec_path": null,
                "environment": {},
                "secrets": [],
                "labels": null,
            }),
            resources: json!({"user": null}),
        }
    }
}

/// The caller's account as a [`Workspace`].
async fn workspace(state: &AppState, p: domain::principal::Principal) -> std::result::Result<Workspace, ApiError> {
    let account = state.run(move |kw| kw.get_account(&p, p.account_id)).await?;
    Ok(Workspace {
        account_id: *account.id.as_uuid(),
        account_name: account.name.as_str().to_owned(),
        created: account.created_at,
        updated: account.updated_at,
    })
}

/// Whether `raw` names the entry with `id`: its id or `default`.
fn names(raw: &str, id: Uuid) -> bool {
    raw == DEFAULT || Uuid::parse_str(raw).is_ok_and(|given| given == id)
}

/// The projects: the caller's account, as the one project `default`.
#[utoipa::path(get, path = "/api/v1/projects", tag = TAG, params(WorkspaceListParams), security(("bearer" = [])),
    responses((status = 200, body = Page<ProjectResponse>, description = "A page holding the one project."),
              (status = "4XX", body = ZenmlError, description = "Bad filters (400), no or a bad token (401).")))]
#[tracing::instrument(skip_all)]
pub async fn list_projects(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Query(q, _): Query<Zenml, WorkspaceListParams>,
) -> Result<Json<Page<ProjectResponse>>> {
    let request = q.parse()?;
    let w = workspace(&state, p).await?;
    let entry = Entry { id: w.account_id, workspace: &w };
    Ok(Json(page_of(vec![entry], &request, |e| e.workspace.project())))
}

/// The one project, by its id (the account's) or its name (`default`).
#[utoipa::path(get, path = "/api/v1/projects/{project_name_or_id}", tag = TAG,
    params(("project_name_or_id" = web::schema::IdOrName, Path, description = "`default`, or the caller's account id"), super::Hydrate),
    security(("bearer" = [])),
    responses((status = 200, body = ProjectResponse, description = "The project."),
              (status = "4XX", body = ZenmlError, description = "No or a bad token (401), any other project (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_project(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Zenml, String>,
    Query(hydrate, _): Query<Zenml, super::Hydrate>,
) -> Result<Json<ProjectResponse>> {
    hydrate.check()?;
    let w = workspace(&state, p).await?;
    if !names(&raw, w.account_id) {
        return Err(ApiError::not_found("project").into());
    }
    Ok(Json(w.project()))
}

/// The stacks: the one empty stack `default`.
#[utoipa::path(get, path = "/api/v1/stacks", tag = TAG, params(WorkspaceListParams), security(("bearer" = [])),
    responses((status = 200, body = Page<StackResponse>, description = "A page holding the one stack."),
              (status = "4XX", body = ZenmlError, description = "Bad filters (400), no or a bad token (401).")))]
#[tracing::instrument(skip_all)]
pub async fn list_stacks(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Query(q, _): Query<Zenml, WorkspaceListParams>,
) -> Result<Json<Page<StackResponse>>> {
    let request = q.parse()?;
    let w = workspace(&state, p).await?;
    let entry = Entry { id: w.stack_id(), workspace: &w };
    Ok(Json(page_of(vec![entry], &request, |e| e.workspace.stack())))
}

/// The one stack, by its id or its name (`default`).
#[utoipa::path(get, path = "/api/v1/stacks/{stack_id}", tag = TAG,
    params(("stack_id" = web::schema::IdOrName, Path, description = "The default stack's id, or `default`"), super::Hydrate),
    security(("bearer" = [])),
    responses((status = 200, body = StackResponse, description = "The stack."),
              (status = "4XX", body = ZenmlError, description = "No or a bad token (401), any other stack (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_stack(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Zenml, String>,
    Query(hydrate, _): Query<Zenml, super::Hydrate>,
) -> Result<Json<StackResponse>> {
    hydrate.check()?;
    let w = workspace(&state, p).await?;
    if !names(&raw, w.stack_id()) {
        return Err(ApiError::not_found("stack").into());
    }
    Ok(Json(w.stack()))
}
