//! Free-text values chosen by users: names, descriptions and metadata, each parsed once at the edge.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A name: 1 to 100 characters, no control characters, no leading or trailing white space, and
/// not shaped like a UUID (so that "id or name" in a path is never ambiguous).
///
/// It never changes once made, so copies share its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(Arc<str>);

impl Name {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Parses a name; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        let chars = s.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        if chars > Self::MAX_CHARS {
            return Err(ValidationError::new(field, "must be at most 100 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(field, "must not contain control characters"));
        }
        if s.trim() != s {
            return Err(ValidationError::new(field, "must not start or end with white space"));
        }
        if s.len() == 36 && uuid::Uuid::try_parse(s).is_ok() {
            return Err(ValidationError::new(field, "must not be a UUID, so that it cannot be mistaken for an id"));
        }
        Ok(Self(Arc::from(s)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s, "name")
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.as_ref().to_owned()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A description: up to 1000 characters; line breaks and tabs allowed, other control characters not.
/// Copies share its text.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Description(Arc<str>);

impl Description {
    /// The longest description, in characters.
    pub const MAX_CHARS: usize = 1000;

    /// Parses a description; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(field, "must be at most 1000 characters"));
        }
        if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ValidationError::new(
                field,
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(Arc::from(s)))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s, "description")
    }
}

impl From<Description> for String {
    fn from(d: Description) -> Self {
        d.0.as_ref().to_owned()
    }
}

impl fmt::Debug for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A string map attached to a service account: at most 64 entries, keys of 1 to 64 characters
/// from `[A-Za-z0-9_.-]`, values of at most 512 characters without control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// The most entries a map may hold.
    pub const MAX_ENTRIES: usize = 64;

    /// Parses a map; errors name `field.key`.
    pub fn parse(map: BTreeMap<String, String>, field: &str) -> Result<Self, ValidationError> {
        if map.len() > Self::MAX_ENTRIES {
            return Err(ValidationError::new(field, "must have at most 64 entries"));
        }
        for (k, v) in &map {
            let key_ok = (1..=64).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !key_ok {
                return Err(ValidationError::new(
                    field,
                    "keys must be 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'",
                ));
            }
            if v.chars().count() > 512 || v.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    format!("{field}.{k}"),
                    "must be at most 512 characters without control characters",
                ));
            }
        }
        Ok(Self(map))
    }

    /// The entries.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl TryFrom<BTreeMap<String, String>> for Metadata {
    type Error = ValidationError;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, Self::Error> {
        Self::parse(map, "metadata")
    }
}

impl From<Metadata> for BTreeMap<String, String> {
    fn from(m: Metadata) -> Self {
        m.0
    }
}

/// Writes a text value as a JSON string in place, without copying it into a `String` first.
macro_rules! serialize_as_str {
    ($($name:ty),*) => {$(
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    )*};
}
pub(crate) use serialize_as_str;

serialize_as_str!(Name, Description);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_clean() {
        assert!(Name::parse("billing-worker", "name").is_ok());
        assert!(Name::parse("Ünïcode name", "name").is_ok());
        assert!(Name::parse("", "name").is_err());
        assert!(Name::parse(&"x".repeat(101), "name").is_err());
        assert!(Name::parse(&"é".repeat(100), "name").is_ok());
        assert!(Name::parse("tab\there", "name").is_err());
        assert!(Name::parse(" padded", "name").is_err());
        assert!(Name::parse("0190f1c2-7a3b-7c4d-8e5f-0123456789ab", "name").is_err());
    }

    #[test]
    fn metadata_errors_name_the_key() {
        let mut map = BTreeMap::new();
        map.insert("team".to_owned(), "a\u{7}b".to_owned());
        let err = Metadata::parse(map, "metadata").err();
        assert_eq!(err.map(|e| e.field), Some("metadata.team".to_owned()));
        let mut bad_key = BTreeMap::new();
        bad_key.insert("no spaces".to_owned(), String::new());
        assert!(Metadata::parse(bad_key, "metadata").is_err());
    }
}
