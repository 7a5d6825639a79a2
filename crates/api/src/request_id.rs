//! Request ids: a UUIDv7 for every request that does not bring its own `x-request-id`.

use std::sync::Arc;

use axum::http::{HeaderValue, Request};
use domain::{Clock, SystemClock, SystemEntropy};

/// Makes request ids.
#[derive(Debug, Clone, Default)]
pub struct MakeRequestId {
    entropy: Arc<SystemEntropy>,
}

impl tower_http::request_id::MakeRequestId for MakeRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let id = domain::id::new_v7(SystemClock.now(), self.entropy.as_ref());
        HeaderValue::from_str(&id.hyphenated().to_string()).ok().map(Into::into)
    }
}
