//! Property tests of every domain parser a stranger's input reaches: credential strings, JWT
//! headers and claims, cursors, relative times, scopes, names, and ZenML-style filters and sorts.
//! Each must never panic, and each refusal must name the field it was given.
//!
//! `cargo test` runs each with proptest's default number of cases; `cargo xtask fuzz` runs them
//! with `PROPTEST_CASES` set to a million (a long run on demand).

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeZone, Utc};
use domain::TimeBound;
use domain::credential::Credential;
use domain::filter::{Criterion, FieldKind, Sort};
use domain::jwt::claims::{PresentedClaims, header_acceptable};
use domain::page::{CursorCodec, Limit};
use domain::scope::{Scope, Scopes};
use domain::text::{Description, Name};
use proptest::prelude::*;

/// Strings near the credential format: the prefix, a kind, an id and a tail of hex-ish characters.
fn credential_like() -> impl Strategy<Value = String> {
    ("(ak|sk|xx|AK)", "[0-9a-f]{30,34}", "[0-9a-fA-Fx_]{0,90}").prop_map(|(k, id, rest)| format!("kw_{k}_{id}_{rest}"))
}

/// Three dot-separated segments: base64 of arbitrary JSON-ish text, as a forged JWT would be.
fn jwt_like() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        any::<Vec<u8>>().prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        r#"\{"(alg|kid|crit|typ|exp|scope|aud|iss)": ?("[A-Za-z0-9]*"|[0-9-]{1,12}|\[\]|null|\{\})\}"#
            .prop_map(|j| URL_SAFE_NO_PAD.encode(j)),
        "[A-Za-z0-9_-]{0,40}",
    ];
    (segment.clone(), segment.clone(), segment).prop_map(|(h, c, s)| format!("{h}.{c}.{s}"))
}

proptest! {
    #[test]
    fn credential_strings_never_panic_and_round_trip(s in prop_oneof![any::<String>(), credential_like()]) {
        if let Ok(c) = Credential::parse(&s) {
            let revealed = c.reveal();
            prop_assert_eq!(revealed.expose(), s.as_str(), "a parsed credential is the string it came from");
        }
    }

    #[test]
    fn jwt_headers_and_claims_never_panic(token in prop_oneof![jwt_like(), any::<String>()]) {
        if let Ok(header) = jsonwebtoken::decode_header(&token) {
            let _ = header_acceptable(&header);
        }
        let _ = jsonwebtoken::dangerous::insecure_decode_claims::<PresentedClaims>(&token);
    }

    #[test]
    fn time_bounds_refuse_by_field(s in prop_oneof![
        any::<String>(),
        "now([-+*][0-9]{0,25}[smhdwMyq]?)?(/[smhdwMyq]?)?",
    ]) {
        match TimeBound::parse(&s, "created_from") {
            Ok(bound) => {
                let _ = bound.resolve(Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap());
            }
            Err(e) => prop_assert_eq!(e.field, "created_from"),
        }
    }

    #[test]
    fn cursors_refuse_anything_not_issued_for_the_list(s in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}"]) {
        let codec = CursorCodec::new(b"property test key");
        let err = codec.decode("/v1/accounts", &s).unwrap_err();
        prop_assert_eq!(err.field, "cursor");
    }

    #[test]
    fn scopes_names_descriptions_and_limits_refuse_by_field(s in any::<String>()) {
        if let Err(e) = Scope::parse(&s, "scopes[0]") { prop_assert_eq!(e.field, "scopes[0]"); }
        if let Err(e) = Scopes::parse(&[s.as_str(), "a"], "scopes") { prop_assert_eq!(e.field, "scopes"); }
        if let Err(e) = Name::parse(&s, "name") { prop_assert_eq!(e.field, "name"); }
        if let Err(e) = Description::parse(&s, "description") { prop_assert_eq!(e.field, "description"); }
        if let Err(e) = Limit::parse_between(&s, 100, 10_000, "pageSize") { prop_assert_eq!(e.field, "pageSize"); }
    }

    #[test]
    fn zenml_filters_and_sorts_refuse_by_field(
        raw in prop_oneof![any::<String>(), "(equals|notequals|contains|startswith|endswith|oneof|gt|gte|lt|lte|x):.{0,30}"],
        kind in prop_oneof![Just(FieldKind::Text), Just(FieldKind::Time), Just(FieldKind::Bool)],
    ) {
        if let Err(e) = Criterion::parse("last_login", kind, &raw) { prop_assert_eq!(e.field, "last_login"); }
        if let Err(e) = Sort::parse(&raw, &["name", "created"]) { prop_assert_eq!(e.field, "sort_by"); }
    }
}
