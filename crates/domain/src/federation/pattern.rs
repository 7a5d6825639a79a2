//! `ClaimPattern`: what a trust policy requires of one string claim, an exact value or a glob.

use std::fmt;

use crate::ValidationError;

/// An exact value, or a glob where `*` stands for any run of characters (none included), `/`
/// and `:` too. It matches the whole claim, case-sensitively: `octo-org/*` matches
/// `octo-org/app` but not `octo-org-evil/app` nor `OCTO-ORG/app`. No other character is special.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimPattern(String);

impl ClaimPattern {
    /// The longest pattern, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Parses a pattern; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ValidationError::new(field, "must be 1 to 255 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(field, "must not contain control characters"));
        }
        if s.chars().all(|c| c == '*') {
            return Err(ValidationError::new(field, "must not match everything: leave the claim out instead"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a glob (holds a `*`) rather than an exact value.
    pub fn is_glob(&self) -> bool {
        self.0.contains('*')
    }

    /// Whether `value` matches the whole pattern.
    pub fn matches(&self, value: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = value.strip_prefix(first) else { return false };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            // No `*`: the value must be exactly the pattern.
            return rest.is_empty();
        };
        // Each middle piece at its first place (the leftmost match leaves the most room for the
        // rest), then the last piece at the very end.
        for piece in middle {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }
}

impl fmt::Display for ClaimPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> ClaimPattern {
        ClaimPattern::parse(s, "claims").unwrap()
    }

    #[test]
    fn exact_values_and_globs_match_whole_claims() {
        assert!(p("octo-org").matches("octo-org"));
        assert!(!p("octo-org").matches("octo-org2"));
        assert!(!p("octo-org").matches("Octo-org"));
        assert!(p("octo-org/*").matches("octo-org/app"));
        assert!(p("octo-org/*").matches("octo-org/"));
        assert!(!p("octo-org/*").matches("octo-org-evil/app"), "a claim that almost matches");
        assert!(!p("octo-org/*").matches("evil/octo-org/app"), "anchored at the start");
        assert!(p("refs/heads/*").matches("refs/heads/feature/x"), "`*` crosses `/`");
        assert!(p("repo:octo-org/*:ref:refs/heads/main").matches("repo:octo-org/app:ref:refs/heads/main"));
        assert!(!p("repo:octo-org/*:ref:refs/heads/main").matches("repo:octo-org/app:ref:refs/heads/main2"));
        assert!(p("*-prod").matches("eu-prod"));
        assert!(!p("*-prod").matches("eu-prod-copy"), "anchored at the end");
        assert!(p("a*b*a").matches("aba"));
        assert!(!p("a*b*a").matches("ab"), "pieces may not overlap");
    }

    #[test]
    fn a_pattern_that_matches_everything_is_refused() {
        for bad in ["", "*", "**", "a\nb"] {
            assert_eq!(ClaimPattern::parse(bad, "claims.ref").unwrap_err().field, "claims.ref", "{bad:?}");
        }
    }

    /// The reference: a glob compiled to a regular expression by hand, matched by backtracking.
    fn reference(pattern: &[char], value: &[char]) -> bool {
        match pattern.split_first() {
            None => value.is_empty(),
            Some(('*', rest)) => (0..=value.len()).any(|i| reference(rest, &value[i..])),
            Some((c, rest)) => value.first() == Some(c) && reference(rest, &value[1..]),
        }
    }

    proptest! {
        #[test]
        fn matching_agrees_with_backtracking(pattern in "[ab*/]{1,8}", value in "[ab/]{0,10}") {
            if let Ok(glob) = ClaimPattern::parse(&pattern, "claims") {
                let chars = |s: &str| s.chars().collect::<Vec<_>>();
                prop_assert_eq!(glob.matches(&value), reference(&chars(&pattern), &chars(&value)));
            }
        }
    }
}
