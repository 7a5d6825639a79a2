//! What every HTTP face of Keyward shares: the native API, the vendor dialects and the console
//! build on these pieces and on the domain, never on each other.
//!
//! Here are the handler state and the bridge to the blocking domain ([`AppState::run`]), the one
//! error type and its problem+json answer, the extractors (authentication, JSON, path, query), list
//! and schema helpers, the failed-authentication limiter, the client address, request ids,
//! metrics, usage flushing and the hand-written JSON answers of the hot paths.

pub mod answer;
pub mod client_addr;
pub mod error;
pub mod extract;
pub mod limiter;
pub mod list;
pub mod metrics;
pub mod request_id;
pub mod schema;
pub mod state;
pub mod usage;
pub mod webhooks;
pub mod whole_number;

pub use client_addr::TrustedProxies;
pub use error::{ApiError, ApiResult, Problem};
pub use limiter::AuthLimits;
pub use state::{ApiConfig, AppState, BodyLimits};
