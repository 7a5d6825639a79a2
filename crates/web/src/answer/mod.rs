//! JSON answers on the hot paths (verification, one key, key lists, access tokens): written by
//! hand into one buffer sized up front, with ids and times written without `fmt` and text escaped
//! only where it can need it.
//!
//! Each hand-written answer produces exactly what serde_json writes for the type's derived
//! `Serialize` (which stays the description of the shape, and what the OpenAPI document is made
//! from): the tests next to each [`WriteJson`] implementation compare the two byte for byte,
//! with property tests over names, descriptions, scopes and times.

mod rfc3339;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use rfc3339::{millis_text, optional_time, time};

/// A value that writes itself as JSON, byte for byte as serde_json writes its `Serialize`.
pub trait WriteJson {
    /// Appends the JSON of `self` to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// A JSON answer with status 200, written into a buffer of about `capacity` bytes.
#[derive(Debug)]
pub struct JsonAnswer<T> {
    value: T,
    capacity: usize,
}

impl<T: WriteJson> JsonAnswer<T> {
    /// An answer expected to be about `capacity` bytes long (a guess: the buffer grows if needed).
    pub fn new(value: T, capacity: usize) -> Self {
        Self { value, capacity }
    }
}

impl<T: WriteJson> IntoResponse for JsonAnswer<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(self.capacity);
        self.value.write_json(&mut buf);
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], buf).into_response()
    }
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it.
pub fn text(out: &mut Vec<u8>, text: &str) {
    // Writing a `str` into a `Vec` cannot fail; serde_json's escaping is the reference.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Writes text that needs no escaping (no `"`, `\` or control character, which the caller's type
/// guarantees: scopes, codes, states, a JWT) as a JSON string.
pub fn plain(out: &mut Vec<u8>, text: &str) {
    // The text may be a credential (an access token): the message never repeats it.
    debug_assert!(!text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20), "text that needs escaping");
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Writes an address as a JSON string, as serde writes it (its text has only digits, hex letters,
/// `.` and `:`).
pub fn address(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        // The common case digit by digit: the formatter's padding support costs ten times more.
        std::net::IpAddr::V4(v4) => {
            out.push(b'"');
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                decimal(out, octet);
            }
            out.push(b'"');
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing into a `Vec` cannot fail.
            let _ = write!(out, "\"{v6}\"");
        }
    }
}

/// Writes a byte in decimal, without leading zeros.
fn decimal(out: &mut Vec<u8>, n: u8) {
    if n >= 100 {
        out.push(b'0' + n / 100);
    }
    if n >= 10 {
        out.push(b'0' + n / 10 % 10);
    }
    out.push(b'0' + n % 10);
}

/// Writes an id as a JSON string, hyphenated and lower-case as uuid's serde support writes it.
pub fn id(out: &mut Vec<u8>, id: &Uuid) {
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    out.push(b'"');
}

/// Writes a time as a JSON string, as chrono's serde support writes it.
pub fn instant(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    let mut buf = [0u8; rfc3339::LONGEST];
    match rfc3339::rfc3339(t, &mut buf, rfc3339::Fraction::Shortest) {
        Some(len) => {
            out.push(b'"');
            out.extend_from_slice(&buf[..len]);
            out.push(b'"');
        }
        // A year RFC 3339 cannot write: chrono's own form.
        None => {
            let _ = serde_json::to_writer(&mut *out, t);
        }
    }
}

/// Writes a time that may be absent (`null`).
pub fn optional_instant(out: &mut Vec<u8>, t: Option<&DateTime<Utc>>) {
    match t {
        Some(t) => instant(out, t),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes any value as serde_json writes it, for the rare parts of a hot answer (a key's usage
/// limits) that are not worth a writer of their own.
pub fn by_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a `Vec` cannot fail, and these values serialize without error.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes a whole number as serde_json writes it.
pub fn unsigned(out: &mut Vec<u8>, n: u64) {
    use std::io::Write;
    // Writing into a `Vec` cannot fail.
    let _ = write!(out, "{n}");
}

/// Writes `true` or `false`.
pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn addresses_are_written_as_serde_writes_them() {
        for n in 0..=255u8 {
            for ip in [std::net::IpAddr::from([n, 0, 255, 9]), std::net::IpAddr::from([10, n, n, 100 ^ n])] {
                let serde = serde_json::to_string(&ip).expect("an address serializes");
                assert_eq!(written(|out| address(out, ip)), serde);
            }
        }
        let v6: std::net::IpAddr = "2001:db8::ff00:42:8329".parse().expect("an IPv6 address");
        assert_eq!(written(|out| address(out, v6)), "\"2001:db8::ff00:42:8329\"");
    }

    #[test]
    fn each_piece_matches_serde_json() {
        for s in ["", "plain", "quote \" backslash \\ tab \t nl \n", "\u{1}\u{1f}\u{7f}", "héllo ✓ 🎉"] {
            assert_eq!(written(|o| text(o, s)), serde_json::to_string(s).expect("written"));
        }
        assert_eq!(written(|o| plain(o, "metrics:write")), "\"metrics:write\"");
        let u = Uuid::from_u128(0x0193_1f2e_3d4c_7b5a_8f9e_0d1c_2b3a_4958);
        assert_eq!(written(|o| id(o, &u)), serde_json::to_string(&u).expect("written"));
        let t = Utc.timestamp_opt(1_700_000_000, 250_000).single().expect("a time");
        assert_eq!(written(|o| instant(o, &t)), serde_json::to_string(&t).expect("written"));
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("a time");
        assert_eq!(written(|o| instant(o, &far.and_utc())), serde_json::to_string(&far.and_utc()).expect("written"));
        assert_eq!(written(|o| optional_instant(o, None)), "null");
        assert_eq!(written(|o| boolean(o, false)), "false");
    }
}
