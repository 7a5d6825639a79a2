//! Permissions granted to a key (apart from Keyward's own management scopes), and the queries a
//! verification asks of them: `documents.read and (documents.write or admin)`.

use std::collections::BTreeSet;
use std::fmt;

use crate::ValidationError;

/// One permission: 1 to 64 characters from `[A-Za-z0-9:._*/-]`, compared exactly (a `*` in it is
/// an ordinary character, not a wildcard).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// Parses a permission; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        if is_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                field,
                "each permission must be 1 to 64 characters from A-Z, a-z, 0-9, ':', '.', '_', '*', '/' and '-'",
            ))
        }
    }

    /// The permission as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'*' | b'/' | b'-'))
}

/// The permissions a key holds: its own and its roles'.
pub type Permissions = BTreeSet<Permission>;

/// A query over permissions: names joined by `and` and `or` (either case), with parentheses;
/// `and` binds tighter than `or`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionQuery {
    /// This permission is granted.
    One(Permission),
    /// Every part holds.
    All(Vec<PermissionQuery>),
    /// At least one part holds.
    Any(Vec<PermissionQuery>),
}

/// The longest query read, in bytes.
const MAX_QUERY_BYTES: usize = 1000;
/// The deepest nesting of parentheses.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Name(&'a str),
    And,
    Or,
    Open,
    Close,
}

fn tokens(s: &str) -> Result<Vec<Token<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else { return Ok(out) };
        match c {
            '(' => (out.push(Token::Open), rest = &rest[1..]).1,
            ')' => (out.push(Token::Close), rest = &rest[1..]).1,
            _ => {
                let end = rest.find(|c: char| c.is_whitespace() || c == '(' || c == ')').unwrap_or(rest.len());
                let word = &rest[..end];
                out.push(if word.eq_ignore_ascii_case("and") {
                    Token::And
                } else if word.eq_ignore_ascii_case("or") {
                    Token::Or
                } else if is_name(word) {
                    Token::Name(word)
                } else {
                    return Err("holds a word that is not a permission, `and`, `or` or a parenthesis");
                });
                rest = &rest[end..];
            }
        }
    }
}

/// A recursive-descent reader over the tokens.
struct Reader<'a> {
    tokens: Vec<Token<'a>>,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.at)
    }

    fn any(&mut self, depth: usize) -> Result<PermissionQuery, &'static str> {
        let mut parts = vec![self.all(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.all(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { PermissionQuery::Any(parts) })
    }

    fn all(&mut self, depth: usize) -> Result<PermissionQuery, &'static str> {
        let mut parts = vec![self.one(depth)?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            parts.push(self.one(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { PermissionQuery::All(parts) })
    }

    fn one(&mut self, depth: usize) -> Result<PermissionQuery, &'static str> {
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Name(name)) => Ok(PermissionQuery::One(Permission(name.to_owned()))),
            Some(Token::Open) if depth >= MAX_DEPTH => Err("nests parentheses deeper than 16"),
            Some(Token::Open) => {
                let inner = self.any(depth + 1)?;
                match self.peek() {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("has a `(` that is not closed"),
                }
            }
            Some(Token::Close) => Err("has a `)` where a permission belongs"),
            Some(Token::And | Token::Or) => Err("has `and` or `or` where a permission belongs"),
            None => Err("ends where a permission belongs"),
        }
    }
}

impl PermissionQuery {
    /// Parses a query such as `a and (b or c)`; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        let fail = |why: &str| ValidationError::new(field, format!("the permission query {why}"));
        if s.len() > MAX_QUERY_BYTES {
            return Err(fail("is longer than 1000 characters"));
        }
        let mut reader = Reader { tokens: tokens(s).map_err(fail)?, at: 0 };
        let query = reader.any(0).map_err(fail)?;
        if reader.at != reader.tokens.len() {
            return Err(fail("has a `)` without its `(`, or two permissions without `and` or `or`"));
        }
        Ok(query)
    }

    /// Whether `granted` satisfies the query: `Ok`, or the parts that do not hold, as text (the
    /// missing permissions, or an `or` none of whose parts holds).
    pub fn check(&self, granted: &Permissions) -> Result<(), Vec<String>> {
        let mut missing = Vec::new();
        self.collect_missing(granted, &mut missing);
        if missing.is_empty() { Ok(()) } else { Err(missing) }
    }

    fn holds(&self, granted: &Permissions) -> bool {
        match self {
            PermissionQuery::One(p) => granted.contains(p),
            PermissionQuery::All(parts) => parts.iter().all(|q| q.holds(granted)),
            PermissionQuery::Any(parts) => parts.iter().any(|q| q.holds(granted)),
        }
    }

    fn collect_missing(&self, granted: &Permissions, missing: &mut Vec<String>) {
        match self {
            PermissionQuery::All(parts) => parts.iter().for_each(|q| q.collect_missing(granted, missing)),
            other if !other.holds(granted) => missing.push(other.to_string()),
            _ => {}
        }
    }
}

impl fmt::Display for PermissionQuery {
    /// The query with the fewest parentheses that reads back the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[PermissionQuery], word: &str, wrap_any: bool| {
            for (i, q) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match q {
                    PermissionQuery::Any(_) if wrap_any => write!(f, "({q})")?,
                    _ => write!(f, "{q}")?,
                }
            }
            Ok(())
        };
        match self {
            PermissionQuery::One(p) => f.write_str(p.as_str()),
            PermissionQuery::All(parts) => join(f, parts, "and", true),
            PermissionQuery::Any(parts) => join(f, parts, "or", false),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn granted(names: &[&str]) -> Permissions {
        names.iter().map(|n| Permission::parse(n, "p").unwrap_or_else(|e| panic!("{e}"))).collect()
    }

    fn query(s: &str) -> PermissionQuery {
        PermissionQuery::parse(s, "permissions").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let q = query("a or b and c");
        assert_eq!(q.to_string(), "a or b and c");
        assert!(q.check(&granted(&["a"])).is_ok());
        assert!(q.check(&granted(&["b", "c"])).is_ok());
        assert_eq!(q.check(&granted(&["b"])), Err(vec!["a or b and c".to_owned()]));
        let grouped = query("documents.read AND (documents.write Or admin)");
        assert_eq!(grouped.to_string(), "documents.read and (documents.write or admin)");
        assert!(grouped.check(&granted(&["documents.read", "admin"])).is_ok());
        assert_eq!(
            grouped.check(&granted(&["documents.write"])),
            Err(vec!["documents.read".to_owned()]),
            "only what is missing is named"
        );
        assert_eq!(
            grouped.check(&granted(&[])),
            Err(vec!["documents.read".to_owned(), "documents.write or admin".to_owned()])
        );
    }

    #[test]
    fn a_star_is_an_ordinary_character() {
        assert!(query("api.*").check(&granted(&["api.read"])).is_err());
        assert!(query("api.*").check(&granted(&["api.*"])).is_ok());
    }

    #[test]
    fn malformed_queries_are_refused_with_the_field_named() {
        for bad in
            ["", "a and", "or a", "(a", "a)", "a b", "a and (b or)", "a & b", "((((((((((((((((((a))))))))))))))))))"]
        {
            let e = PermissionQuery::parse(bad, "permissions").expect_err(bad);
            assert_eq!(e.field, "permissions", "{bad}");
        }
        assert!(PermissionQuery::parse(&"a or ".repeat(300), "permissions").is_err(), "too long");
        assert!(Permission::parse("", "p").is_err() && Permission::parse(&"x".repeat(65), "p").is_err());
    }

    fn arbitrary_query() -> impl Strategy<Value = PermissionQuery> {
        let leaf = "[a-d]".prop_map(|n| PermissionQuery::One(Permission(n)));
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4).prop_map(PermissionQuery::All),
                proptest::collection::vec(inner, 2..4).prop_map(PermissionQuery::Any),
            ]
        })
    }

    proptest! {
        /// Printing a query and reading it back gives a query that decides every grant alike.
        #[test]
        fn a_printed_query_reads_back_to_the_same_decisions(q in arbitrary_query(), grants in proptest::collection::btree_set("[a-d]", 0..4)) {
            let read = PermissionQuery::parse(&q.to_string(), "permissions").map_err(|e| TestCaseError::fail(e.to_string()))?;
            let granted: Permissions = grants.into_iter().map(Permission).collect();
            prop_assert_eq!(read.check(&granted).is_ok(), q.check(&granted).is_ok());
            prop_assert_eq!(q.check(&granted).is_ok(), q.holds(&granted));
        }

        /// No input makes the reader panic.
        #[test]
        fn any_text_is_read_or_refused(s in "[a-c() ]{0,40}|(and|or|a|\\(|\\)| ){0,20}") {
            let _ = PermissionQuery::parse(&s, "permissions");
        }
    }
}
