//! OpenAPI schemas for the domain's text newtypes and ids, so that the document states every rule
//! `parse()` enforces (lengths, characters, formats) and a client built from it, or a fuzzer, sends
//! only what is accepted.
//!
//! Each type here only describes; the domain's `parse()` stays the authority. Patterns are
//! ECMA-262 regular expressions, as OpenAPI wants: control characters are U+0000–U+001F and
//! U+007F–U+009F, as Rust's `char::is_control`; `\s` is Unicode white space, as `str::trim`.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

/// A name: 1 to 100 characters, no control characters, no white space at either end.
pub const NAME_PATTERN: &str = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";

/// A UUID, or an API key string (`domain::credential::Credential::PATTERN`).
pub const ID_OR_TOKEN_PATTERN: &str = r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|kw_ak_[0-9a-f]{32}_[0-9a-f]{72})$";

/// A time bound of the native lists: RFC 3339 (to the microsecond), or relative to now.
pub const TIME_BOUND_PATTERN: &str = concat!(
    r"^(?:now(?:[+-][0-9]{1,2}[smhdwMy])?(?:/[smhdwMy])?|",
    r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]",
    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9]))$"
);

/// A ZenML time filter: an optional comparison, then `%Y-%m-%d %H:%M:%S` (UTC) or ISO 8601.
pub const ZENML_TIME_PATTERN: &str = concat!(
    r"^(?:(?:equals|notequals|gt|gte|lt|lte):)?",
    r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])[ T](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
);

/// A description: no control characters other than tabs and line breaks.
pub const DESCRIPTION_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// A scope.
pub const SCOPE_PATTERN: &str = r"^[A-Za-z0-9:._*/-]{1,64}$";

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

macro_rules! described {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let builder: ObjectBuilder = $schema;
                RefOr::T(Schema::Object(builder.build()))
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

described!(
    /// An id: a UUID.
    Id,
    "Id",
    string("An id: a UUID, such as `0190f1c2-7a3b-7c4d-8e5f-0123456789ab`.")
        .format(Some(SchemaFormat::Custom("uuid".to_owned())))
);

described!(
    /// A name.
    NameText,
    "Name",
    string("1 to 100 characters, no control characters, no white space at either end, not a UUID.")
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(NAME_PATTERN))
);

described!(
    /// A role's name, or a rate limit's.
    LimitNameText,
    "LimitName",
    string("1 to 64 characters from `A-Z`, `a-z`, `0-9`, `.`, `_`, `:` and `-`.")
        .pattern(Some(LIMIT_NAME_PATTERN))
);

/// A role's or a rate limit's name.
pub const LIMIT_NAME_PATTERN: &str = r"^[A-Za-z0-9._:-]{1,64}$";

described!(
    /// An id, or a name.
    IdOrName,
    "IdOrName",
    string("An id (a UUID), or a name (1 to 100 characters, no control characters, no white space at either end).")
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(NAME_PATTERN))
);

described!(
    /// An API key's id, or the API key itself (vendors that name tokens by their value).
    IdOrToken,
    "IdOrToken",
    string("An API key's id (a UUID), or the key itself (`kw_ak_...`).").pattern(Some(ID_OR_TOKEN_PATTERN))
);

described!(
    /// A description.
    DescriptionText,
    "Description",
    string("Up to 1000 characters; no control characters other than tabs and line breaks.")
        .max_length(Some(1000))
        .pattern(Some(DESCRIPTION_PATTERN))
);

described!(
    /// A scope.
    ScopeText,
    "Scope",
    string("1 to 64 characters from `A-Z`, `a-z`, `0-9`, `:`, `.`, `_`, `*`, `/` and `-`; case-sensitive.")
        .pattern(Some(SCOPE_PATTERN))
);

described!(
    /// A permission of an API key (apart from Keyward's own scopes).
    PermissionText,
    "Permission",
    string("1 to 64 characters from `A-Z`, `a-z`, `0-9`, `:`, `.`, `_`, `*`, `/` and `-`; compared exactly (a `*` is no wildcard).")
        .pattern(Some(SCOPE_PATTERN))
);

described!(
    /// A time bound of a native list filter.
    TimeBoundText,
    "TimeBound",
    string("An RFC 3339 time (`2026-01-21T12:00:00Z`; the pattern shows the common forms, and any RFC 3339 time is accepted), or relative to now: `now`, `now-7d`, `now+1h`, optionally rounded down with `/unit` (`now-1y/w`); units `s`, `m`, `h`, `d`, `w`, `M`, `y`.")
        .pattern(Some(TIME_BOUND_PATTERN))
);

described!(
    /// A ZenML time filter.
    ZenmlTimeFilter,
    "zenml.TimeFilter",
    string("A time (`%Y-%m-%d %H:%M:%S` in UTC, or ISO 8601), optionally prefixed `equals:`, `notequals:`, `gt:`, `gte:`, `lt:` or `lte:`.")
        .pattern(Some(ZENML_TIME_PATTERN))
);

described!(
    /// A flag Keyward only accepts as `false` (Dynatrace's `personalAccessToken`).
    FalseOnly,
    "FalseOnly",
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some("Only `false`: Keyward has no users, so it has no personal access tokens."))
        .enum_values(Some([false]))
);

described!(
    /// Labels: up to 64 entries, keys of 1 to 64 characters from `[A-Za-z0-9_.-]`, values up to
    /// 512 characters without control characters.
    Labels,
    "Labels",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Up to 64 labels; keys of 1 to 64 characters from `[A-Za-z0-9_.-]`, values up to 512 characters without control characters."))
        .max_properties(Some(64))
        .property_names(Some(string("A label key.").pattern(Some(r"^[A-Za-z0-9_.-]{1,64}$")).build()))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            string("A label value.").max_length(Some(512)).pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*$")).build(),
        )))))
);

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// The patterns (read by a real regex engine) agree with the domain's parsers on telling
    /// examples, so the document does not promise what `parse()` refuses.
    #[test]
    fn patterns_agree_with_the_parsers() {
        let name = Regex::new(NAME_PATTERN).unwrap();
        for s in ["billing", " lead", "trail ", "a\u{85}b", "\u{a0}nbsp", "é x", "tab\tinside", "x"] {
            let parsed = domain::text::Name::parse(s, "name").is_ok();
            assert_eq!(name.is_match(s), parsed, "{s:?}");
        }
        let description = Regex::new(DESCRIPTION_PATTERN).unwrap();
        for s in ["two\nlines\tand tab\r", "bell\u{7}", "", "del\u{7f}", "c1\u{9f}"] {
            let parsed = domain::text::Description::parse(s, "description").is_ok();
            assert_eq!(description.is_match(s), parsed, "{s:?}");
        }
        // The time patterns are a sound subset (days up to 28, so that every match is a real
        // date): what they match parses, and the common forms match.
        let time = Regex::new(TIME_BOUND_PATTERN).unwrap();
        for s in ["now", "now-7d", "now+1h/d", "now-1y/w", "2026-02-28T23:59:59.123456Z", "2026-01-21T12:00:00+01:00"] {
            assert!(time.is_match(s), "{s:?}");
            assert!(domain::TimeBound::parse(s, "from").is_ok(), "{s:?}");
        }
        for s in ["now-", "2026-13-01T00:00:00Z", "yesterday", "2026-01-01"] {
            assert!(!time.is_match(s) && domain::TimeBound::parse(s, "from").is_err(), "{s:?}");
        }
        let scope = Regex::new(SCOPE_PATTERN).unwrap();
        for s in ["metrics:write", "apiTokens.read", "a b", "", "ü"] {
            let parsed = domain::scope::Scope::parse(s, "scope").is_ok();
            assert_eq!(scope.is_match(s), parsed, "{s:?}");
        }
    }
}
