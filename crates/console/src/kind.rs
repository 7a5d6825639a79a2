//! The two kinds of key a service account holds, as the console's paths and pages name them.

use web::error::ApiError;

/// The two kinds of key a service account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Opaque bearer keys.
    Api,
    /// OAuth 2.0 client secrets that sign JWTs.
    Secret,
}

impl Kind {
    pub fn parse(segment: &str) -> Result<Self, ApiError> {
        match segment {
            "api-keys" => Ok(Kind::Api),
            "secret-keys" => Ok(Kind::Secret),
            _ => Err(ApiError::no_route()),
        }
    }

    /// The path segment.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Api => "api-keys",
            Kind::Secret => "secret-keys",
        }
    }

    /// The name of its create form, for errors.
    pub fn form(self) -> &'static str {
        self.segment()
    }

    /// "API key" or "secret key".
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Api => "API key",
            Kind::Secret => "secret key",
        }
    }

    /// "API keys" or "Secret keys", as a heading.
    pub fn plural_title(self) -> &'static str {
        match self {
            Kind::Api => "API keys",
            Kind::Secret => "Secret keys",
        }
    }
}
