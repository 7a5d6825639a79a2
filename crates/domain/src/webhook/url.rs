//! A webhook's URL, and the rule that keeps deliveries off loopback and private addresses.

use std::net::IpAddr;

use crate::ValidationError;

/// An absolute `https` (or `http`) URL with a host and no credentials in it, up to 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Parses a URL; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        let refuse = |why: &str| ValidationError::new(field, why);
        if s.len() > 2000 {
            return Err(refuse("must be at most 2000 characters"));
        }
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| refuse("must be an absolute http or https URL"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("must have a host, and no user name, password or white space"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, without brackets or port.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some(v6) = authority.strip_prefix('[') {
            return v6.split(']').next().unwrap_or_default();
        }
        authority.rsplit_once(':').map_or(authority, |(host, _)| host)
    }

    /// Whether the host is named as a loopback or private address (or `localhost`), which only a
    /// deployment that allows private targets may deliver to. Names are checked again, resolved,
    /// when a delivery is sent.
    pub fn names_private_host(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
            || host.parse::<IpAddr>().is_ok_and(is_private)
    }
}

/// Whether an address is loopback, private, link-local, unspecified or otherwise not a public
/// Internet address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_a_host_and_no_credentials() {
        for ok in ["https://hooks.example.com/keyward", "http://10.0.0.1:8080/x", "https://[::1]:9000/"] {
            assert!(WebhookUrl::parse(ok, "url").is_ok(), "{ok}");
        }
        for bad in ["ftp://x", "https://", "https://user:pw@example.com/", "hooks.example.com", "https://a b/"] {
            assert_eq!(WebhookUrl::parse(bad, "url").map(|_| ()).unwrap_err().field, "url", "{bad}");
        }
    }

    #[test]
    fn private_hosts_are_recognised() {
        let private = |s: &str| WebhookUrl::parse(s, "url").unwrap().names_private_host();
        assert!(private("http://127.0.0.1:8080/hook"));
        assert!(private("http://localhost/hook"));
        assert!(private("https://[::1]:9000/"));
        assert!(private("https://192.168.1.2/"));
        assert!(private("https://100.64.0.1/"));
        assert!(!private("https://hooks.example.com/"));
        assert!(!private("https://8.8.8.8/"));
    }
}
