//! Field filters in the style of ZenML's list APIs — `name=contains:bot`, `created=gt:2026-01-01
//! 00:00:00`, combined with AND or OR — and a sort by one field, evaluated over records that say
//! what each field holds. The ZenML dialect's lists use them; any list can.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::page::Direction;
use crate::{Timestamp, ValidationError};

/// What a record's field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// Text (names, descriptions, ids).
    Text(String),
    /// A time, or none (never used, never rotated).
    Time(Option<Timestamp>),
    /// A flag.
    Bool(bool),
}

impl FieldValue {
    fn compare(&self, other: &FieldValue) -> Ordering {
        match (self, other) {
            (FieldValue::Text(a), FieldValue::Text(b)) => a.cmp(b),
            // Records without a time sort after those with one (so first when descending).
            (FieldValue::Time(a), FieldValue::Time(b)) => match (a, b) {
                (Some(a), Some(b)) => a.cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            (FieldValue::Bool(a), FieldValue::Bool(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// A record a filter can look into.
pub trait Filterable {
    /// The value of `field`, or `None` if the record has no such field.
    fn field(&self, field: &str) -> Option<FieldValue>;
}

/// How a criterion compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `equals` (the default when no operator is given).
    Equals,
    /// `notequals`.
    NotEquals,
    /// `contains` (text only).
    Contains,
    /// `startswith` (text only).
    StartsWith,
    /// `endswith` (text only).
    EndsWith,
    /// `oneof`: the value is one of a comma-separated list (or a JSON array).
    OneOf,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
}

impl FilterOp {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "equals" => FilterOp::Equals,
            "notequals" => FilterOp::NotEquals,
            "contains" => FilterOp::Contains,
            "startswith" => FilterOp::StartsWith,
            "endswith" => FilterOp::EndsWith,
            "oneof" => FilterOp::OneOf,
            "gt" => FilterOp::Gt,
            "gte" => FilterOp::Gte,
            "lt" => FilterOp::Lt,
            "lte" => FilterOp::Lte,
            _ => return None,
        })
    }
}

/// The kind of a filterable field, which decides how a criterion's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A time.
    Time,
    /// A flag.
    Bool,
}

/// One criterion, `field=op:value`, its value read for the field's kind.
#[derive(Debug, Clone)]
pub struct Criterion {
    field: String,
    op: FilterOp,
    values: Vec<FieldValue>,
}

/// Reads a time as ZenML writes it in filters (`%Y-%m-%d %H:%M:%S`) or as RFC 3339 / ISO 8601
/// (UTC when no zone is given).
fn parse_time(s: &str) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

impl Criterion {
    /// Parses `raw` (`value` or `op:value`) for `field` of `kind`.
    pub fn parse(field: &str, kind: FieldKind, raw: &str) -> Result<Self, ValidationError> {
        let (op, value) = match raw.split_once(':') {
            Some((op, value)) => match FilterOp::parse(op) {
                Some(op) => (op, value),
                None => (FilterOp::Equals, raw),
            },
            None => (FilterOp::Equals, raw),
        };
        let text_only = matches!(op, FilterOp::Contains | FilterOp::StartsWith | FilterOp::EndsWith);
        if text_only && kind != FieldKind::Text {
            return Err(ValidationError::new(field, "this operator applies to text fields only"));
        }
        let ordered = matches!(op, FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte);
        if ordered && kind == FieldKind::Bool {
            return Err(ValidationError::new(field, "a flag cannot be compared with gt, gte, lt or lte"));
        }
        let items: Vec<String> = if op == FilterOp::OneOf {
            serde_json::from_str::<Vec<String>>(value)
                .unwrap_or_else(|_| value.split(',').map(|s| s.trim().to_owned()).collect())
        } else {
            vec![value.to_owned()]
        };
        let values = items
            .iter()
            .map(|v| match kind {
                FieldKind::Text => Ok(FieldValue::Text(v.clone())),
                FieldKind::Time => parse_time(v)
                    .map(|t| FieldValue::Time(Some(t)))
                    .ok_or_else(|| ValidationError::new(field, "must be a time such as 2026-01-31 12:00:00")),
                FieldKind::Bool => match v.to_ascii_lowercase().as_str() {
                    "true" => Ok(FieldValue::Bool(true)),
                    "false" => Ok(FieldValue::Bool(false)),
                    _ => Err(ValidationError::new(field, "must be true or false")),
                },
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { field: field.to_owned(), op, values })
    }

    fn matches(&self, record: &dyn Filterable) -> bool {
        let Some(actual) = record.field(&self.field) else { return false };
        let first = self.values.first();
        let text = |f: fn(&str, &str) -> bool| match (&actual, first) {
            (FieldValue::Text(a), Some(FieldValue::Text(b))) => f(a, b),
            _ => false,
        };
        let order = |want: &[Ordering]| match (&actual, first) {
            (FieldValue::Time(None), _) => false,
            (a, Some(b)) => want.contains(&a.compare(b)),
            _ => false,
        };
        match self.op {
            FilterOp::Equals => first == Some(&actual),
            FilterOp::NotEquals => first != Some(&actual),
            FilterOp::Contains => text(|a, b| a.contains(b)),
            FilterOp::StartsWith => text(|a, b| a.starts_with(b)),
            FilterOp::EndsWith => text(|a, b| a.ends_with(b)),
            FilterOp::OneOf => self.values.contains(&actual),
            FilterOp::Gt => order(&[Ordering::Greater]),
            FilterOp::Gte => order(&[Ordering::Greater, Ordering::Equal]),
            FilterOp::Lt => order(&[Ordering::Less]),
            FilterOp::Lte => order(&[Ordering::Less, Ordering::Equal]),
        }
    }
}

/// Criteria joined by AND (every one must hold) or OR (one must).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The criteria.
    pub criteria: Vec<Criterion>,
    /// Whether one criterion suffices (OR) rather than all (AND).
    pub any: bool,
}

impl Filter {
    /// Whether `record` passes. No criteria: every record does.
    pub fn matches(&self, record: &dyn Filterable) -> bool {
        if self.criteria.is_empty() {
            return true;
        }
        if self.any {
            self.criteria.iter().any(|c| c.matches(record))
        } else {
            self.criteria.iter().all(|c| c.matches(record))
        }
    }
}

/// A sort by one field: `created`, `asc:name`, `desc:created`.
#[derive(Debug, Clone)]
pub struct Sort {
    field: String,
    direction: Direction,
}

impl Sort {
    /// Parses `raw` against the sortable `fields`.
    pub fn parse(raw: &str, fields: &[&str]) -> Result<Self, ValidationError> {
        let (direction, field) = match raw.split_once(':') {
            Some(("asc", f)) => (Direction::Asc, f),
            Some(("desc", f)) => (Direction::Desc, f),
            Some(_) => return Err(ValidationError::new("sort_by", "prefix a field with asc: or desc:")),
            None => (Direction::Asc, raw),
        };
        if !fields.contains(&field) {
            return Err(ValidationError::new("sort_by", format!("must be one of {}", fields.join(", "))));
        }
        Ok(Self { field: field.to_owned(), direction })
    }

    /// Sorts `records`; ties keep their order.
    pub fn apply<T: Filterable>(&self, records: &mut [T]) {
        records.sort_by(|a, b| {
            let (a, b) = (a.field(&self.field), b.field(&self.field));
            let ordering = match (a, b) {
                (Some(a), Some(b)) => a.compare(&b),
                _ => Ordering::Equal,
            };
            if self.direction == Direction::Desc { ordering.reverse() } else { ordering }
        });
    }
}

/// One page of `records` that pass `filter`, sorted by `sort`: page `index` (from 1) of `size`,
/// with the number of records that passed.
pub fn page<T: Filterable>(mut records: Vec<T>, filter: &Filter, sort: &Sort, index: u64, size: u64) -> (Vec<T>, u64) {
    records.retain(|r| filter.matches(r));
    sort.apply(&mut records);
    let total = records.len() as u64;
    let skip = usize::try_from(index.saturating_sub(1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    (records.into_iter().skip(skip).take(take).collect(), total)
}

impl Filterable for crate::service_account::ServiceAccount {
    fn field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Text(self.id.to_string()),
            "name" => FieldValue::Text(self.name.as_str().to_owned()),
            "description" => FieldValue::Text(self.description.as_str().to_owned()),
            "active" => FieldValue::Bool(self.active),
            "created" => FieldValue::Time(Some(self.created_at)),
            "updated" => FieldValue::Time(Some(self.updated_at)),
            _ => return None,
        })
    }
}

impl Filterable for crate::api_key::ApiKey {
    fn field(&self, field: &str) -> Option<FieldValue> {
        Some(match field {
            "id" => FieldValue::Text(self.id.to_string()),
            "name" => FieldValue::Text(self.name.as_str().to_owned()),
            "description" => FieldValue::Text(self.part.description.as_str().to_owned()),
            "active" => FieldValue::Bool(self.active),
            "created" => FieldValue::Time(Some(self.created_at)),
            "updated" => FieldValue::Time(Some(self.updated_at)),
            "last_login" => FieldValue::Time(self.last_used_at),
            "last_rotated" => FieldValue::Time(self.last_rotated_at),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct Row(&'static str, bool, Option<Timestamp>);

    impl Filterable for Row {
        fn field(&self, field: &str) -> Option<FieldValue> {
            match field {
                "name" => Some(FieldValue::Text(self.0.to_owned())),
                "active" => Some(FieldValue::Bool(self.1)),
                "last_login" => Some(FieldValue::Time(self.2)),
                _ => None,
            }
        }
    }

    fn rows() -> Vec<Row> {
        let t = |h| Some(Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap());
        vec![Row("ci-bot", true, t(10)), Row("deploy", false, None), Row("ci-nightly", true, t(12))]
    }

    fn names(filter: &Filter) -> Vec<&'static str> {
        rows().into_iter().filter(|r| filter.matches(r)).map(|r| r.0).collect()
    }

    fn criterion(field: &str, kind: FieldKind, raw: &str) -> Criterion {
        Criterion::parse(field, kind, raw).unwrap()
    }

    #[test]
    fn operators_compare_text_times_and_flags() {
        let f = |c| Filter { criteria: vec![c], any: false };
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "deploy"))), ["deploy"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "startswith:ci-"))), ["ci-bot", "ci-nightly"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "contains:night"))), ["ci-nightly"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "endswith:bot"))), ["ci-bot"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "notequals:deploy"))), ["ci-bot", "ci-nightly"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, r#"oneof:["deploy","ci-bot"]"#))), ["ci-bot", "deploy"]);
        assert_eq!(names(&f(criterion("active", FieldKind::Bool, "false"))), ["deploy"]);
        assert_eq!(names(&f(criterion("last_login", FieldKind::Time, "gt:2026-01-01 11:00:00"))), ["ci-nightly"]);
        assert_eq!(names(&f(criterion("last_login", FieldKind::Time, "lte:2026-01-01T10:00:00Z"))), ["ci-bot"]);
        assert_eq!(names(&f(criterion("name", FieldKind::Text, "url:with:colons"))), Vec::<&str>::new());
    }

    #[test]
    fn criteria_combine_with_and_or_or() {
        let both =
            vec![criterion("name", FieldKind::Text, "startswith:ci"), criterion("active", FieldKind::Bool, "false")];
        assert_eq!(names(&Filter { criteria: both.clone(), any: false }), Vec::<&str>::new());
        assert_eq!(names(&Filter { criteria: both, any: true }), ["ci-bot", "deploy", "ci-nightly"]);
    }

    #[test]
    fn bad_criteria_name_the_field() {
        assert_eq!(Criterion::parse("active", FieldKind::Bool, "maybe").unwrap_err().field, "active");
        assert!(Criterion::parse("active", FieldKind::Bool, "contains:t").is_err());
        assert!(Criterion::parse("created", FieldKind::Time, "gt:yesterday").is_err());
    }

    #[test]
    fn sorts_put_missing_times_last_ascending_and_first_descending() {
        let mut r = rows();
        Sort::parse("desc:last_login", &["name", "last_login"]).unwrap().apply(&mut r);
        assert_eq!(r.iter().map(|r| r.0).collect::<Vec<_>>(), ["deploy", "ci-nightly", "ci-bot"]);
        Sort::parse("asc:name", &["name"]).unwrap().apply(&mut r);
        assert_eq!(r.iter().map(|r| r.0).collect::<Vec<_>>(), ["ci-bot", "ci-nightly", "deploy"]);
        assert!(Sort::parse("sideways:name", &["name"]).is_err());
        assert!(Sort::parse("colour", &["name"]).is_err());
    }
}
