//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The parts of the document that no handler declares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyward",
        description = "Machine identities for self-hosted platforms: accounts, service accounts, API keys.\n\n\
Every error is an RFC 9457 `application/problem+json` document with a stable `code` and, for invalid input, \
the `field` at fault. Lists return `{\"items\": [...], \"next_cursor\": ...}`; pass `next_cursor` back as `cursor` \
to get the next page. A cursor works only for the list (path, filters and sort) it came from.\n\n\
Credentials are strings matching `kw_(ak|sk)_[0-9a-f]{32}_[0-9a-f]{72}`; a secret is shown once, in the response \
that creates it. Resources of another account answer 404, never 403.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    components(schemas(
        web::schema::Id,
        web::schema::IdOrName,
        web::schema::IdOrToken,
        web::schema::NameText,
        web::schema::DescriptionText,
        web::schema::ScopeText,
        web::schema::PermissionText,
        web::schema::LimitNameText,
        web::schema::TimeBoundText,
        web::schema::ZenmlTimeFilter,
        web::schema::FalseOnly,
        web::schema::Labels,
    )),
    tags(
        (name = "accounts", description = "Tenants. Nothing crosses between accounts."),
        (name = "service accounts", description = "Machine identities inside an account."),
        (name = "api keys", description = "Opaque bearer credentials of a service account."),
        (name = "roles", description = "Named sets of permissions that API keys hold by name, checked by a verification's permission query."),
        (name = "secret keys", description = "Symmetric credentials (OAuth 2.0 client secrets, HMAC keys), stored sealed under the master key."),
        (name = "federated credentials", description = "Workload identity federation: a service account's trust in an external OIDC issuer (GitHub Actions, GitLab, Kubernetes), \
so that a workload trades its platform's token for a Keyward access token at `/oauth2/token` and no secret is stored. See docs/federation.md."),
        (name = "verification", description = "The data plane: other services asking whether a presented key is good."),
        (name = "oauth2", description = "OAuth 2.0 client credentials, Keyward's signing keys, the JWKS and server metadata."),
        (name = "audit", description = "The record of every change and refused credential."),
        (name = "operations", description = "Health and readiness."),
        (name = "dialect: Dynatrace API tokens v2", description = "Dynatrace's token API at its own paths, so that Dynatrace clients work unchanged. \
A token is a Keyward API key; its `owner` is its service account's name. Errors are `{\"error\": {\"code\", \"message\"}}`. See docs/dialects.md."),
        (name = "dialect: Wavefront API tokens", description = "Wavefront's service-account and API-token API at its own paths, so that Wavefront clients work unchanged. \
A token is a Keyward API key whose secret is kept sealed so that, as in Wavefront, its `tokenID` is the token and is listed again. \
Every answer is the `{\"status\", \"response\"}` envelope. See docs/dialects.md."),
        (name = "dialect: Smooch service accounts", description = "Smooch's ServiceAccountApi at its own paths, so that Smooch clients work unchanged. \
A Smooch secret key is a Keyward secret key (`_id` = its id). Clients authenticate with HTTP Basic (key id, secret) or an HS256 JWT \
signed with the secret (`kid` = key id, `scope: \"account\"`). Errors are `{\"error\": {\"code\", \"description\"}}`. See docs/dialects.md."),
        (name = "dialect: Service Identity", description = "The Service Identity API at its own paths: a service identity is a service account \
with one secret key (`client_id`, `client_token`), exchanged for a Keyward access token. Errors are `{\"error\": \"…\"}`. See docs/dialects.md."),
        (name = "dialect: ZenML service accounts", description = "What ZenML's client needs to manage service accounts and API keys: server info, \
login with an API key (`grant_type=zenml-api-key`) for a Keyward access token, the current user, and the service-account and API-key routes \
with ZenML's filters, sort and pages. Errors are `{\"detail\": [<exception class>, <message>]}`. See docs/dialects.md."),
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key `kw_ak_...`, or a JWT signed with a secret key: HS256, `kid` = the key's id, \
                         HMAC key = the whole `kw_sk_...` string, `exp` at most an hour ahead, optional `scope` \
                         (space-separated) to narrow the key's scopes. An access token from `/oauth2/token`; one \
                         bound to a key (DPoP, RFC 9449) is sent as `Authorization: DPoP <token>` with a `DPoP` \
                         proof header for the request's method and URL, never as `Bearer`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Dynatrace's scheme: `Authorization: Api-Token <kw_ak_... key>` (`Bearer` works too).",
            ))),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "OAuth 2.0 `client_secret_basic`: a secret key's id as the user name and its `kw_sk_...` secret as the password.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_secret_post",
            SecurityScheme::OAuth2(utoipa::openapi::security::OAuth2::with_description(
                [utoipa::openapi::security::Flow::ClientCredentials(utoipa::openapi::security::ClientCredentials::new(
                    "/oauth2/token",
                    utoipa::openapi::security::Scopes::new(),
                ))],
                "OAuth 2.0 client credentials: `client_id` and `client_secret` as form fields (`client_secret_post`), or an RFC 7523 \
                 `client_assertion` signed with the secret (`client_secret_jwt`), at `/oauth2/token`.",
            )),
        );
        components.add_security_scheme(
            "smooch_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("Smooch's scheme: a secret key's id as the user name and its `kw_sk_...` secret as the password."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "x_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "The Service Identity API's scheme: `X-API-Key: <kw_ak_... key>` (`Authorization: Bearer` works too).",
            ))),
        );
        components.add_security_scheme(
            "x_auth_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-AUTH-TOKEN",
                "Wavefront's scheme: `X-AUTH-TOKEN: <kw_ak_... key>` (`Authorization: Bearer` works too).",
            ))),
        );
    }
}

/// What every generated document gets once the routes are in: a description for each response
/// that has none (strict validators and generators want one), operation ids unique across the
/// dialects (whose handlers share names such as `list_service_accounts`), a server, and the
/// security of the OAuth 2.0 endpoints.
pub(crate) fn finish(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else { return doc };
    if let Some(paths) = value.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for operation in item.values_mut().filter_map(serde_json::Value::as_object_mut) {
                describe_responses(operation);
                prefix_dialect_operation_id(operation);
                if let Some(security) = oauth_security(path) {
                    operation.insert("security".to_owned(), security);
                }
            }
        }
    }
    value["servers"] = serde_json::json!([{"url": "/", "description": "This Keyward server"}]);
    serde_json::from_value(value).unwrap_or(doc)
}

/// The usual meaning of a status, for responses whose annotation gave none.
fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "Success.",
        "201" => "Created.",
        "204" => "Done; no content.",
        "400" => "Invalid request.",
        "401" => "No usable credential was presented.",
        "403" => "The credential lacks a required scope.",
        "404" => "No such resource in the caller's account.",
        "409" => "A conflict with the current state.",
        "429" => "Too many failed authentication attempts; retry after `Retry-After` seconds.",
        "503" => "Storage is unavailable; try again.",
        "4XX" => "Refused: the body says why and, for invalid input, which field.",
        "5XX" => "A server-side failure.",
        _ => "See the body.",
    }
}

fn describe_responses(operation: &mut serde_json::Map<String, serde_json::Value>) {
    let Some(responses) = operation.get_mut("responses").and_then(serde_json::Value::as_object_mut) else { return };
    for (status, response) in responses.iter_mut() {
        if let Some(response) = response.as_object_mut()
            && response.get("description").and_then(serde_json::Value::as_str).is_none_or(str::is_empty)
            && !response.contains_key("$ref")
        {
            response.insert("description".to_owned(), status_description(status).into());
        }
    }
}

/// Prefixes the operation id of a dialect's route with the dialect, so ids stay unique.
fn prefix_dialect_operation_id(operation: &mut serde_json::Map<String, serde_json::Value>) {
    let tag = operation.get("tags").and_then(|t| t.get(0)).and_then(serde_json::Value::as_str).unwrap_or("");
    let Some(dialect) = tag.strip_prefix("dialect: ") else { return };
    let prefix = match dialect.split_whitespace().next().unwrap_or("") {
        "Service" => "service_identity".to_owned(),
        first => first.to_ascii_lowercase(),
    };
    if let Some(id) = operation.get("operationId").and_then(serde_json::Value::as_str) {
        let id = format!("{prefix}_{id}");
        operation.insert("operationId".to_owned(), id.into());
    }
}

/// How the OAuth 2.0 endpoints authenticate their callers: a client (HTTP Basic, or credentials
/// or an assertion in the form) and, for introspection, any Bearer credential too.
fn oauth_security(path: &str) -> Option<serde_json::Value> {
    match path {
        "/oauth2/token" | "/oauth2/revoke" => {
            Some(serde_json::json!([{"client_secret_basic": []}, {"client_secret_post": []}]))
        }
        "/oauth2/introspect" => {
            Some(serde_json::json!([{"client_secret_basic": []}, {"client_secret_post": []}, {"bearer": []}]))
        }
        _ => None,
    }
}
