//! Keyward's HTTP API: thin axum handlers that extract input, parse it into domain values, call the
//! domain, and map the result, plus the middleware around them and the generated OpenAPI document.
//!
//! Handlers hold no business rules and never see a database: they run
//! [`domain::service::Keyward`] operations on blocking threads through [`AppState::run`].

mod openapi;
pub mod routes;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use web::request_id;
pub use web::{
    ApiConfig, ApiError, AppState, AuthLimits, BodyLimits, Problem, TrustedProxies, metrics, usage, webhooks,
};

fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::router())
        .merge(dialects::router())
        .split_for_parts();
    (router, openapi::finish(doc))
}

/// The whole application: routes, error fallbacks and middleware.
pub fn app(config: ApiConfig) -> Router {
    let (router, doc) = documented();
    let proxies = config.trusted_proxies.clone();
    let body_limits = config.body_limits;
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    let doc = doc.clone();
    metrics::install();
    // The document's reading room: Swagger UI, served from the binary, over the same document.
    let docs: Router<AppState> = utoipa_swagger_ui::SwaggerUi::new("/docs").url("/docs/openapi.json", doc).into();
    router
        .merge(docs)
        .merge(console::router())
        .route("/openapi.json", get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc_json) }))
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(|| async { ApiError::no_route().into_response() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        .with_state(AppState::new(config))
        .layer(DefaultBodyLimit::max(body_limits.max_bytes))
        .layer(axum::Extension(body_limits))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request<_>| {
                    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only, with any credential in it redacted (vendor dialects accept a token
                    // in the path): query strings and headers (which carry credentials) are never logged.
                    let path = redact_path(req.uri().path());
                    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
                    let client = proxies.client(peer, req.headers()).map(|ip| ip.to_string());
                    tracing::info_span!(
                        "request",
                        id = %request_id,
                        method = %req.method(),
                        path = %path,
                        client = client.as_deref().unwrap_or("-"),
                        // Filled in by authentication: the credential's id, never its secret.
                        credential = tracing::field::Empty,
                    )
                })
                .on_response(|res: &axum::http::Response<_>, latency: std::time::Duration, _: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "answered"
                    );
                }),
        )
        .layer(SetRequestIdLayer::x_request_id(request_id::MakeRequestId))
        .layer(catch_panics())
}

/// Answers a request whose handler panicked with 500 problem+json instead of a dropped
/// connection. The panic's message is never put in the answer: it could hold a secret.
pub fn catch_panics()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> axum::response::Response> {
    fn answer(_: Box<dyn std::any::Any + Send>) -> axum::response::Response {
        ::metrics::counter!("keyward_panics_total").increment(1);
        ApiError::internal("the request failed inside Keyward; the failure is logged without its details")
            .into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(answer as fn(_) -> _)
}

/// `path` with every segment that holds a Keyward credential string replaced by `[REDACTED]`.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains("kw_") {
        return std::borrow::Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path.split('/').map(|s| if s.contains("kw_") { "[REDACTED]" } else { s }).collect();
    std::borrow::Cow::Owned(segments.join("/"))
}

/// The full OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented().1
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_paths_are_redacted() {
        let secret = format!("kw_ak_{}_{}", "a".repeat(32), "b".repeat(72));
        let path = format!("/api/v2/apitoken/serviceaccount/sa::ci/{secret}");
        assert_eq!(super::redact_path(&path), "/api/v2/apitoken/serviceaccount/sa::ci/[REDACTED]");
        assert_eq!(super::redact_path("/v1/accounts"), "/v1/accounts");
    }
}
