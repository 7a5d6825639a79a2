//! `Issuer`: the OIDC issuer a trust policy names, parsed: https, or plain http on a loopback
//! address only (so that tests can run a local issuer), and never anything Keyward would be
//! unwise to fetch from.

use std::fmt;
use std::net::IpAddr;

use crate::ValidationError;

/// An OIDC issuer URL, exactly as its tokens' `iss` claim spells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

/// Issuers that sign tokens for every tenant of a shared platform, and the claim that names the
/// tenant (the owner of the repository or project). A policy for one of them must bind that claim
/// exactly, or any of the platform's users could present a token that matches it.
const MULTI_TENANT: &[(&str, &[&str])] = &[
    ("https://token.actions.githubusercontent.com", &["repository_owner", "repository_owner_id"]),
    ("https://gitlab.com", &["namespace_path", "namespace_id"]),
];

impl Issuer {
    /// The longest issuer URL, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Parses an issuer URL; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ValidationError::new(field, "must be a URL of 1 to 255 characters"));
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(|| ValidationError::new(field, "must be a URL"))?;
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) || rest.contains(['?', '#', '@']) {
            return Err(ValidationError::new(field, "must be a URL without spaces, user, query or fragment"));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = host_of(authority).ok_or_else(|| ValidationError::new(field, "must name a host"))?;
        match scheme {
            "https" => Ok(Self(s.to_owned())),
            "http" if is_loopback(host) => Ok(Self(s.to_owned())),
            "http" => Err(ValidationError::new(field, "must use https (plain http only for loopback addresses)")),
            _ => Err(ValidationError::new(field, "must be an https URL")),
        }
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the URL's host is this machine (`localhost` or a loopback address).
    pub fn is_loopback(&self) -> bool {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        host_of(rest.split('/').next().unwrap_or_default()).is_some_and(is_loopback)
    }

    /// The URL of the issuer's OpenID Connect discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.0.trim_end_matches('/'))
    }

    /// The claims one of which a policy for this issuer must bind exactly, when the issuer signs
    /// for every tenant of a shared platform; empty for any other issuer.
    pub fn owner_claims(&self) -> &'static [&'static str] {
        MULTI_TENANT.iter().find(|(issuer, _)| *issuer == self.0.trim_end_matches('/')).map_or(&[], |(_, c)| c)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`), if it has one.
fn host_of(authority: &str) -> Option<&str> {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some(host)
}

/// Whether a host names this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` may be fetched for an issuer's keys: https, or http to a loopback address.
pub fn fetchable(url: &str) -> bool {
    Issuer::parse(url, "url").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        for ok in [
            "https://token.actions.githubusercontent.com",
            "https://gitlab.example.com/",
            "https://kubernetes.default.svc.cluster.local",
            "http://127.0.0.1:8123",
            "http://localhost:9000/issuer",
            "http://[::1]:8080",
        ] {
            assert_eq!(Issuer::parse(ok, "issuer").map(|i| i.as_str().to_owned()), Ok(ok.to_owned()), "{ok}");
        }
        for bad in [
            "",
            "token.actions.githubusercontent.com",
            "http://issuer.example.com",
            "http://10.0.0.1",
            "http://127.0.0.1.example.com",
            "ftp://example.com",
            "https://",
            "https://user@example.com",
            "https://example.com/?x=1",
            "https://example.com/#x",
            "https://exa mple.com",
        ] {
            let e = Issuer::parse(bad, "issuer").expect_err(bad);
            assert_eq!(e.field, "issuer");
        }
    }

    #[test]
    fn shared_platforms_name_their_owner_claims() {
        let github = Issuer::parse("https://token.actions.githubusercontent.com", "issuer").unwrap();
        assert_eq!(github.owner_claims(), ["repository_owner", "repository_owner_id"]);
        let gitlab = Issuer::parse("https://gitlab.com/", "issuer").unwrap();
        assert_eq!(gitlab.owner_claims(), ["namespace_path", "namespace_id"]);
        let own = Issuer::parse("https://gitlab.example.com", "issuer").unwrap();
        assert!(own.owner_claims().is_empty(), "a self-hosted GitLab signs for one organisation");
        assert!(!own.is_loopback());
        assert!(Issuer::parse("http://[::1]:8080/x", "issuer").unwrap().is_loopback());
        assert!(Issuer::parse("https://localhost", "issuer").unwrap().is_loopback());
        assert_eq!(
            Issuer::parse("http://127.0.0.1:1/", "issuer").unwrap().discovery_url(),
            "http://127.0.0.1:1/.well-known/openid-configuration"
        );
    }
}
