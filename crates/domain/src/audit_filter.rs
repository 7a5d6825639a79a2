//! The audit trail's filters as the API and the console take them: parsed once, resolved against
//! the clock when the query runs.

use chrono::{DateTime, Utc};

use crate::TimeBound;
use crate::ValidationError;
use crate::audit::Action;
use crate::page::PageRequest;
use crate::repository::AuditQuery;

/// The audit trail's filters, parsed: what the API and the console both accept.
#[derive(Debug)]
pub struct AuditFilter {
    action: Option<Action>,
    actor: Option<String>,
    target: Option<String>,
    from: Option<TimeBound>,
    to: Option<TimeBound>,
}

impl AuditFilter {
    /// Parses the raw filters; an empty one means "any".
    pub fn parse(
        action: Option<&str>,
        actor: Option<String>,
        target: Option<String>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let action = match given(action) {
            None => None,
            Some(a) => Some(Action::parse(&a).ok_or_else(|| {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                ValidationError::new("action", format!("must be one of {}", known.join(", ")))
            })?),
        };
        Ok(Self {
            action,
            actor: given(actor.as_deref()),
            target: given(target.as_deref()),
            from: given(from).map(|s| TimeBound::parse(&s, "from")).transpose()?,
            to: given(to).map(|s| TimeBound::parse(&s, "to")).transpose()?,
        })
    }

    /// The actor filter, trimmed; `None` means any.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// The target filter, trimmed; `None` means any.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The query for `page`, with relative times resolved at `now`.
    pub fn query(self, now: DateTime<Utc>, page: PageRequest) -> AuditQuery {
        AuditQuery {
            action: self.action,
            actor: self.actor,
            target: self.target,
            from: self.from.map(|b| b.resolve(now)),
            to: self.to.map(|b| b.resolve(now)),
            page,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single().expect("a valid time")
    }

    #[test]
    fn empty_and_blank_filters_mean_any() {
        let filter = AuditFilter::parse(Some(""), Some("  ".into()), None, Some(" "), None).expect("accepted");
        let query = filter.query(now(), PageRequest::default());
        assert!(query.action.is_none() && query.actor.is_none() && query.target.is_none());
        assert!(query.from.is_none() && query.to.is_none());
    }

    #[test]
    fn filters_are_trimmed_and_relative_times_resolved_when_the_query_runs() {
        let filter =
            AuditFilter::parse(Some(" api_key.create "), Some(" system:cli ".into()), None, Some("now-1d"), None)
                .expect("accepted");
        assert_eq!(filter.actor(), Some("system:cli"));
        let query = filter.query(now(), PageRequest::default());
        assert_eq!(query.action, Some(Action::ApiKeyCreate));
        assert_eq!(query.from, Some(now() - chrono::Duration::days(1)));
    }

    #[test]
    fn a_refusal_names_its_field() {
        let e = AuditFilter::parse(Some("api_key.explode"), None, None, None, None).expect_err("refused");
        assert_eq!(e.field, "action");
        assert!(e.message.contains("api_key.create"), "{}", e.message);
        let e = AuditFilter::parse(None, None, None, None, Some("yesterday")).expect_err("refused");
        assert_eq!(e.field, "to");
    }
}
