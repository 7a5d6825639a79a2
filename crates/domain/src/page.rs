//! Keyset pagination and the opaque, tamper-evident cursors handed to clients.
//!
//! A cursor names the position after the last item of a page: the sort key and the id of that
//! item. It is signed with HMAC-SHA-256 under a key derived from the master key and bound to the
//! list it came from (the collection and its filters and sort), so a tampered cursor or one from
//! another list is refused instead of silently returning the wrong page. Because the position is a
//! key rather than an offset, concurrent inserts never make a page repeat or skip an item.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

/// How many items a page holds: 1 to 1000, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u16);

impl Limit {
    /// The page size when the client gives none.
    pub const DEFAULT: Limit = Limit(50);
    /// The largest page.
    pub const MAX: u16 = 1000;

    /// Parses a `limit` query value.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.parse::<u16>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new("limit", "must be a whole number from 1 to 1000")),
        }
    }

    /// A page size from `min` to `max` items for a vendor dialect whose bounds differ from
    /// Keyward's own (Dynatrace pages hold 100 to 10000); `field` names the input in the error.
    pub fn parse_between(s: &str, min: u16, max: u16, field: &str) -> Result<Self, ValidationError> {
        match s.parse::<u16>() {
            Ok(n) if (min.max(1)..=max).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new(field, format!("must be a whole number from {} to {max}", min.max(1)))),
        }
    }

    /// A page size known to be positive.
    pub const fn of(n: std::num::NonZeroU16) -> Self {
        Self(n.get())
    }

    /// The number of items.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// A value of the field a list is sorted by, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    /// The list is sorted by id alone.
    Id,
    /// A text field, such as a name.
    Text(String),
    /// A time, in microseconds since the Unix epoch.
    Time(i64),
    /// A time that may be absent (absent sorts last in both directions).
    MaybeTime(Option<i64>),
}

/// Where the next page starts: after the item with this sort key and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The sort key of the last item returned.
    pub key: SortKey,
    /// The id of the last item returned, which breaks ties.
    pub id: Uuid,
}

/// Which page of a list to fetch.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// How many items.
    pub limit: Limit,
    /// Start after this position; `None` for the first page.
    pub after: Option<Position>,
    /// Items to skip first. Keyward's own lists page by key and leave this 0; only the vendor
    /// dialects whose wire format pages by offset (Smooch, ZenML) set it, and there, as in those
    /// products, an insert between two requests may shift what a page holds.
    pub skip: u64,
    /// Whether the page may come from a read replica, as of at most its lag bound ago: set for
    /// the lists clients ask for, never for a list the domain reads to decide a change.
    pub may_lag: bool,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next: Option<Position>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only proves there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: Limit, position_of: impl Fn(&T) -> Position) -> Self {
        let more = rows.len() > limit.get();
        rows.truncate(limit.get());
        let next = if more { rows.last().map(position_of) } else { None };
        Self { items: rows, next }
    }

    /// An empty last page.
    pub fn empty() -> Self {
        Self { items: Vec::new(), next: None }
    }

    /// Every item of a list, fetched page by page (of the largest size) with `fetch`. For the
    /// vendor dialects whose lists have no paging.
    pub fn collect_all<E>(mut fetch: impl FnMut(PageRequest) -> Result<Page<T>, E>) -> Result<Vec<T>, E> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = fetch(PageRequest { limit: Limit(Limit::MAX), after, skip: 0, may_lag: false })?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Converts the items, keeping the position.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}

/// Signs and checks cursors.
#[derive(Debug, Clone)]
pub struct CursorCodec {
    key: hmac::Key,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    /// A digest of the list the cursor belongs to.
    l: String,
    /// The position.
    p: Position,
}

impl CursorCodec {
    /// A codec keyed with `key` (derived from the master key, so every node accepts every cursor).
    pub fn new(key: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, key) }
    }

    fn list_digest(list: &str) -> String {
        let d = digest::digest(&digest::SHA256, list.as_bytes());
        URL_SAFE_NO_PAD.encode(&d.as_ref()[..12])
    }

    /// The cursor for `position` in the list identified by `list` (its path, filters and sort).
    pub fn encode(&self, list: &str, position: &Position) -> String {
        let payload = CursorPayload { l: Self::list_digest(list), p: position.clone() };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Checks a cursor from a client and returns its position.
    pub fn decode(&self, list: &str, cursor: &str) -> Result<Position, ValidationError> {
        let invalid = || ValidationError::new("cursor", "is not a cursor issued for this list; start again without it");
        let (body, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        hmac::verify(&self.key, body.as_bytes(), &tag).map_err(|_| invalid())?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let payload: CursorPayload = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if payload.l != Self::list_digest(list) {
            return Err(invalid());
        }
        Ok(payload.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_in_its_own_list() {
        let codec = CursorCodec::new(b"k");
        let pos = Position { key: SortKey::Text("b".into()), id: Uuid::nil() };
        let c = codec.encode("/v1/accounts?sort=name", &pos);
        assert_eq!(codec.decode("/v1/accounts?sort=name", &c), Ok(pos));
        assert!(codec.decode("/v1/accounts?sort=-name", &c).is_err());
        assert!(CursorCodec::new(b"other").decode("/v1/accounts?sort=name", &c).is_err());
    }

    #[test]
    fn a_tampered_cursor_is_refused() {
        let codec = CursorCodec::new(b"k");
        let c = codec.encode("l", &Position { key: SortKey::Id, id: Uuid::nil() });
        let mut bytes = c.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(codec.decode("l", &tampered).is_err());
        assert!(codec.decode("l", "garbage").is_err());
        assert!(codec.decode("l", "").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(Limit::parse("0").is_err());
        assert!(Limit::parse("1001").is_err());
        assert!(Limit::parse("-1").is_err());
        assert_eq!(Limit::parse("1000").map(Limit::get), Ok(1000));
    }
}
