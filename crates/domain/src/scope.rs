//! Scopes: what a credential may do, and the rule that decides whether granted scopes cover a request.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// One scope: 1 to 64 characters from `[A-Za-z0-9:._*/-]`, compared case-sensitively, so that
/// vendor scopes such as `apiTokens.read` or `DataExport` can be granted as they are.
///
/// A scope ending in `:*` is a wildcard: `x:*` covers every scope that starts with `x:`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Scope(String);

impl Scope {
    /// Everything, but only for credentials of the system account.
    pub const ADMIN: &'static str = "admin";
    /// Everything inside the credential's own account.
    pub const ACCOUNT_ADMIN: &'static str = "account:admin";

    /// Parses a scope; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        Self::check(s, field)?;
        Ok(Self(s.to_owned()))
    }

    fn check(s: &str, field: &str) -> Result<(), ValidationError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(
                |b| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b':' | b'.' | b'_' | b'*' | b'/' | b'-'),
            );
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                field,
                "each scope must be 1 to 64 characters from A-Z, a-z, 0-9, ':', '.', '_', '*', '/' and '-'",
            ))
        }
    }

    /// A scope known to be valid at compile time.
    pub(crate) fn known(s: &'static str) -> Self {
        Self(s.to_owned())
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this granted scope allows `requested`.
    pub fn covers(&self, requested: &Scope) -> bool {
        self.covers_text(&requested.0)
    }

    /// Whether this granted scope allows the scope written `requested`.
    fn covers_text(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match self.0.strip_suffix('*') {
            Some(prefix) if prefix.ends_with(':') => requested.len() > prefix.len() && requested.starts_with(prefix),
            _ => false,
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = ValidationError;
    /// Keeps the string it checked (a request body's scopes arrive as strings).
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::check(&s, "scopes")?;
        Ok(Self(s))
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> Self {
        s.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A set of scopes, at most 100, kept sorted and without duplicates. It never changes once made,
/// so copies share it: every authenticated request copies its credential's scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<Scope>")]
pub struct Scopes(Arc<BTreeSet<Scope>>);

impl Scopes {
    /// The most scopes one credential may hold.
    pub const MAX: usize = 100;

    /// Parses a list of scope strings; `field` names the input in the error.
    pub fn parse<S: AsRef<str>>(items: &[S], field: &str) -> Result<Self, ValidationError> {
        let scopes = items.iter().map(|s| Scope::parse(s.as_ref(), field)).collect::<Result<Vec<_>, _>>()?;
        Self::try_from(scopes).map_err(|e| e.at(field))
    }

    /// Whether every scope in `requested` is covered by one of these.
    pub fn covers_all(&self, requested: &Scopes) -> bool {
        requested.0.iter().all(|r| self.covers(r))
    }

    /// Whether one of these covers `requested`.
    pub fn covers(&self, requested: &Scope) -> bool {
        self.covers_known(&requested.0)
    }

    /// Whether one of these covers the scope written `requested`, which the caller knows to be a
    /// valid scope (a constant of this crate): checked without making a [`Scope`] of it.
    pub(crate) fn covers_known(&self, requested: &str) -> bool {
        self.0.iter().any(|g| g.covers_text(requested))
    }

    /// Whether the set holds exactly `scope` (no wildcard matching).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// How many scopes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<Scope>> for Scopes {
    type Error = ValidationError;
    fn try_from(v: Vec<Scope>) -> Result<Self, Self::Error> {
        let set: BTreeSet<Scope> = v.into_iter().collect();
        if set.len() > Self::MAX {
            return Err(ValidationError::new("scopes", "must hold at most 100 scopes"));
        }
        Ok(Self(Arc::new(set)))
    }
}

impl From<Scopes> for Vec<Scope> {
    fn from(s: Scopes) -> Self {
        s.0.iter().cloned().collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

crate::text::serialize_as_str!(Scope);

impl Serialize for Scopes {
    /// A JSON array of the scopes in their sorted order, written without copying them.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Scope {
        Scope::parse(x, "scopes").unwrap_or_else(|_| Scope::known("invalid"))
    }

    #[test]
    fn wildcards_cover_their_prefix_only() {
        assert!(s("api-keys:*").covers(&s("api-keys:read")));
        assert!(s("api-keys:*").covers(&s("api-keys:read:extra")));
        assert!(!s("api-keys:*").covers(&s("api-keys:")));
        assert!(!s("api-keys:*").covers(&s("api-keysx:read")));
        assert!(!s("api-keys:read").covers(&s("api-keys:write")));
        assert!(!s("*").covers(&s("anything")));
        assert!(s("*").covers(&s("*")));
    }

    #[test]
    fn scope_characters_and_length_are_enforced() {
        assert!(Scope::parse("apiTokens.read", "scopes").is_ok());
        assert!(Scope::parse("DataExport", "scopes").is_ok());
        assert!(Scope::parse("a/b", "scopes").is_ok());
        assert!(!s("DataExport").covers(&s("dataexport")));
        assert!(Scope::parse("é", "scopes").is_err());
        assert!(Scope::parse("", "scopes").is_err());
        assert!(Scope::parse(&"a".repeat(65), "scopes").is_err());
        assert!(Scope::parse(&"a".repeat(64), "scopes").is_ok());
        assert!(Scope::parse("a b", "scopes").is_err());
    }

    #[test]
    fn a_request_is_allowed_only_if_every_scope_is_covered() {
        let granted = Scopes::parse(&["metrics:*", "logs:read"], "scopes").unwrap_or_default();
        let ok = Scopes::parse(&["metrics:write", "logs:read"], "scopes").unwrap_or_default();
        let too_much = Scopes::parse(&["metrics:write", "logs:write"], "scopes").unwrap_or_default();
        assert!(granted.covers_all(&ok));
        assert!(!granted.covers_all(&too_much));
        assert!(granted.covers_all(&Scopes::default()));
    }
}
