//! Property tests of the HTTP layer's parsers a stranger's input reaches: Dynatrace's selector,
//! `fields`, `sort` and times, trusted-proxy lists and forwarding headers, and log-path redaction.
//! Each must never panic, and each refusal must name its field. `cargo xtask fuzz` runs them with
//! a million cases each.

#![allow(clippy::unwrap_used)]

use api::TrustedProxies;
use axum::http::{HeaderMap, HeaderValue};
use dialects::dynatrace::query::{Selector, parse_fields, parse_sort, parse_time};
use proptest::prelude::*;

proptest! {
    #[test]
    fn dynatrace_query_parameters_refuse_by_field(s in prop_oneof![
        any::<String>(),
        r#"(owner|scope|personalAccessToken|color)\(("[a-z~"]{0,8}",?){0,3}(true|false)?\)(,.{0,10})?"#,
        "[+ -]?(name|lastUsedDate|creationDate|expirationDate|owner|scopes)(,[+ -]?[a-zA-Z]{0,12}){0,3}",
        "(now([-+][0-9]{0,12}[mhdwMy]?)?(/[mhdwMy])?|[0-9]{1,20}|20[0-9]{2}-[0-9]{2}-[0-9]{2}[ T][0-9:.]{0,12}(Z|[+-][0-9:]{0,5})?)",
    ]) {
        if let Err(e) = Selector::parse(&s) { prop_assert_eq!(e.field, "apiTokenSelector"); }
        if let Err(e) = parse_fields(Some(&s)) { prop_assert_eq!(e.field, "fields"); }
        if let Err(e) = parse_sort(Some(&s)) { prop_assert_eq!(e.field, "sort"); }
        if let Err(e) = parse_time(&s, "from") { prop_assert_eq!(e.field, "from"); }
    }

    #[test]
    fn proxy_lists_and_forwarding_headers_never_panic(
        list in prop_oneof![any::<String>(), "([0-9]{1,3}\\.){3}[0-9]{1,3}(/[0-9]{1,3})?(,[0-9a-f:./]{0,20}){0,3}"],
        forwarded in prop_oneof![any::<String>(), r#"(for=("?\[?[0-9a-f:.]{0,20}\]?(:[0-9]{1,5})?"?|unknown);?(proto=https)?,?\s?){1,3}"#],
        xff in "[0-9a-f:., ]{0,60}",
    ) {
        let proxies = list.parse::<TrustedProxies>().unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&forwarded) { headers.insert("forwarded", v); }
        if let Ok(v) = HeaderValue::from_str(&xff) { headers.insert("x-forwarded-for", v); }
        let peer = "127.0.0.1".parse().ok();
        prop_assert!(proxies.client(peer, &headers).is_some(), "a request always has a client address");
    }

    #[test]
    fn redacted_paths_never_hold_a_credential(path in prop_oneof![any::<String>(), "(/[a-z_:]{0,8}){0,3}/kw_(ak|sk)_[0-9a-f]{0,40}(/[a-z]{0,5})?"]) {
        prop_assert!(!api::redact_path(&path).contains("kw_"));
    }
}
