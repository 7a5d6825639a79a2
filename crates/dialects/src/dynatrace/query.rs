//! The query language of Dynatrace's token list: `apiTokenSelector`, `fields`, `sort` and the three
//! time formats of `from`, `to` and `expirationDate`, each parsed into Keyward's terms.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use domain::TimeBound;
use domain::ValidationError;
use domain::page::Direction;
use domain::repository::ApiKeySort;
use domain::scope::Scope;
use domain::text::Name;

/// The fields of a token a list returns when `fields` is not given.
pub const DEFAULT_FIELDS: &[&str] = &["id", "name", "enabled", "owner", "creationDate"];
/// The fields a list may add to the default ones.
pub const OPTIONAL_FIELDS: &[&str] =
    &["personalAccessToken", "expirationDate", "lastUsedDate", "lastUsedIpAddress", "scopes"];

/// A parsed `apiTokenSelector`: every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// `owner("name")`: tokens of the service account with this name.
    pub owner: Option<Name>,
    /// `personalAccessToken(bool)`.
    pub personal: Option<bool>,
    /// `scope("a","b")`: tokens granted one of these.
    pub scopes: Vec<Scope>,
}

fn selector_error(detail: &str) -> ValidationError {
    ValidationError::new(
        "apiTokenSelector",
        format!(
            "{detail}; criteria are owner(\"name\"), personalAccessToken(true|false) and scope(\"a\",\"b\"), separated by commas"
        ),
    )
}

/// Splits `s` at the commas outside quotes and parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, ValidationError> {
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '~' if quoted => {
                chars.next();
            }
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(selector_error("unbalanced parentheses"));
        }
    }
    if quoted || depth != 0 {
        return Err(selector_error("unclosed quote or parenthesis"));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// The quoted strings of a criterion's argument list, such as `"a","b"`. `~"` and `~~` escape a
/// quote and a tilde, as Dynatrace's selectors do.
fn quoted_values(args: &str) -> Result<Vec<String>, ValidationError> {
    let mut values = Vec::new();
    let mut chars = args.trim().chars().peekable();
    loop {
        match chars.next() {
            Some('"') => {}
            None if !values.is_empty() => return Ok(values),
            _ => return Err(selector_error("values must be quoted")),
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('~') => value.push(chars.next().ok_or_else(|| selector_error("dangling `~`"))?),
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err(selector_error("unclosed quote")),
            }
        }
        values.push(value);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(',') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            None => return Ok(values),
            Some(_) => return Err(selector_error("values must be separated by commas")),
        }
    }
}

impl Selector {
    /// Parses a selector such as `owner("ci"),scope("metrics.read","logs.read")`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let mut selector = Selector::default();
        for criterion in split_top_level(s)?.into_iter().map(str::trim).filter(|c| !c.is_empty()) {
            let (name, rest) = criterion.split_once('(').ok_or_else(|| selector_error("a criterion needs (...)"))?;
            let args = rest.strip_suffix(')').ok_or_else(|| selector_error("a criterion ends with `)`"))?;
            match name.trim() {
                "owner" => {
                    let [owner] = <[String; 1]>::try_from(quoted_values(args)?)
                        .map_err(|_| selector_error("owner(...) takes one value"))?;
                    selector.owner = Some(Name::parse(&owner, "apiTokenSelector")?);
                }
                "personalAccessToken" => {
                    selector.personal = Some(match args.trim() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(selector_error("personalAccessToken(...) takes true or false")),
                    });
                }
                "scope" => {
                    for value in quoted_values(args)? {
                        selector.scopes.push(Scope::parse(&value, "apiTokenSelector")?);
                    }
                }
                other => return Err(selector_error(&format!("unknown criterion `{other}`"))),
            }
        }
        Ok(selector)
    }
}

/// Parses `fields`: `+x` and `-x` change the default set, a plain list replaces it; `id` is always
/// included. A `+` that arrived unencoded in a query string reads as a space, and counts as `+`.
pub fn parse_fields(raw: Option<&str>) -> Result<BTreeSet<&'static str>, ValidationError> {
    let known = |f: &str| DEFAULT_FIELDS.iter().chain(OPTIONAL_FIELDS).find(|k| **k == f).copied();
    let mut fields: BTreeSet<&'static str> = DEFAULT_FIELDS.iter().copied().collect();
    let Some(raw) = raw else { return Ok(fields) };
    let items: Vec<&str> = raw.split(',').filter(|i| !i.trim().is_empty()).collect();
    let relative = items.iter().all(|i| i.starts_with(['+', '-', ' ']));
    if !relative {
        fields.clear();
    }
    for item in items {
        let (remove, name) = match item.chars().next() {
            Some('-') => (true, &item[1..]),
            Some('+' | ' ') => (false, &item[1..]),
            _ => (false, item),
        };
        let name = name.trim();
        let field = known(name).ok_or_else(|| {
            ValidationError::new(
                "fields",
                format!(
                    "unknown field `{name}`; fields are {}, {}",
                    DEFAULT_FIELDS.join(", "),
                    OPTIONAL_FIELDS.join(", ")
                ),
            )
        })?;
        if remove {
            fields.remove(field);
        } else {
            fields.insert(field);
        }
    }
    fields.insert("id");
    Ok(fields)
}

/// Parses `sort`: a field with an optional `+` (the default) or `-`; `-creationDate` when absent.
pub fn parse_sort(raw: Option<&str>) -> Result<(ApiKeySort, Direction), ValidationError> {
    let raw = raw.unwrap_or("-creationDate");
    let (direction, field) = match raw.chars().next() {
        Some('-') => (Direction::Desc, &raw[1..]),
        Some('+' | ' ') => (Direction::Asc, &raw[1..]),
        _ => (Direction::Asc, raw),
    };
    let sort = match field.trim() {
        "name" => ApiKeySort::Name,
        "lastUsedDate" => ApiKeySort::LastUsedAt,
        "creationDate" => ApiKeySort::CreatedAt,
        "expirationDate" => ApiKeySort::ExpiresAt,
        _ => {
            return Err(ValidationError::new(
                "sort",
                "must be name, lastUsedDate, creationDate or expirationDate, optionally prefixed with + or -",
            ));
        }
    };
    Ok((sort, direction))
}

/// Parses a Dynatrace time: UTC milliseconds, an ISO 8601 time (a space may replace the `T`;
/// seconds, fractions and the zone are optional, UTC when absent), or relative to now such as
/// `now-1y/w` or `now+14d` (units m, h, d, w, M, y; `/unit` rounds down).
pub fn parse_time(s: &str, field: &str) -> Result<TimeBound, ValidationError> {
    let bad = || {
        ValidationError::new(
            field,
            "must be UTC milliseconds, an ISO 8601 time such as 2021-01-25T05:57:01.123+01:00, or relative such as now-1y/w",
        )
    };
    let s = s.trim();
    if s.starts_with("now") {
        return TimeBound::parse(s, field).map_err(|_| bad());
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = s.parse().map_err(|_| bad())?;
        return Utc.timestamp_millis_opt(ms).single().map(TimeBound::At).ok_or_else(bad);
    }
    let iso = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&iso) {
        return Ok(TimeBound::At(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&iso, format) {
            return Ok(TimeBound::At(t.with_timezone(&Utc)));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(iso.trim_end_matches('Z'), format) {
            return Ok(TimeBound::At(t.and_utc()));
        }
    }
    Err(bad())
}

/// A time as Dynatrace writes it: ISO 8601 in UTC with milliseconds and `Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    web::answer::millis_text(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        match parse_time(s, "from") {
            Ok(TimeBound::At(t)) => t,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn the_three_time_formats_parse() {
        let t = Utc.with_ymd_and_hms(2021, 1, 25, 4, 57, 1).unwrap() + Duration::milliseconds(123);
        assert_eq!(at("2021-01-25T05:57:01.123+01:00"), t);
        assert_eq!(at("2021-01-25 04:57:01.123"), t);
        assert_eq!(at("2021-01-25T04:57:01.123Z"), t);
        assert_eq!(at(&t.timestamp_millis().to_string()), t);
        assert_eq!(at("2021-01-25T04:57"), t - Duration::milliseconds(1123));
        assert_eq!(at("2021-01-25 05:57+01:00"), t - Duration::milliseconds(1123));
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 30, 0).unwrap();
        let rel = parse_time("now-1y/w", "from").unwrap().resolve(now);
        assert_eq!(rel, Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap());
        assert_eq!(parse_time("now+14d", "expirationDate").unwrap().resolve(now), now + Duration::days(14));
        for bad in ["", "yesterday", "2021-13-01", "now-1x", "12ab"] {
            assert!(parse_time(bad, "from").is_err(), "{bad}");
        }
        assert_eq!(format_time(t), "2021-01-25T04:57:01.123Z");
    }

    #[test]
    fn selectors_parse_every_criterion() {
        let s = Selector::parse(r#"owner("ci bot"),personalAccessToken(false),scope("metrics.read", "DataExport")"#)
            .unwrap();
        assert_eq!(s.owner.unwrap().as_str(), "ci bot");
        assert_eq!(s.personal, Some(false));
        assert_eq!(s.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(), ["metrics.read", "DataExport"]);
        assert_eq!(Selector::parse(r#"owner("a~"b")"#).unwrap().owner.unwrap().as_str(), "a\"b");
        for bad in
            ["owner(ci)", "owner(\"a\",\"b\")", "scope(\"x\"", "color(\"red\")", "personalAccessToken(yes)", "owner"]
        {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_add_remove_or_replace() {
        let f = parse_fields(Some("+scopes,-owner")).unwrap();
        assert!(f.contains("scopes") && !f.contains("owner") && f.contains("name"));
        let f = parse_fields(Some(" expirationDate")).unwrap();
        assert!(f.contains("expirationDate") && f.contains("creationDate"));
        let f = parse_fields(Some("name,scopes")).unwrap();
        assert_eq!(f.into_iter().collect::<Vec<_>>(), ["id", "name", "scopes"]);
        assert!(parse_fields(Some("+secret")).is_err());
    }

    #[test]
    fn sorts_default_to_newest_first() {
        assert_eq!(parse_sort(None).unwrap(), (ApiKeySort::CreatedAt, Direction::Desc));
        assert_eq!(parse_sort(Some("name")).unwrap(), (ApiKeySort::Name, Direction::Asc));
        assert_eq!(parse_sort(Some("-lastUsedDate")).unwrap(), (ApiKeySort::LastUsedAt, Direction::Desc));
        assert!(parse_sort(Some("owner")).is_err());
    }
}
