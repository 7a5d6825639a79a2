//! Times written as RFC 3339 digit by digit instead of through `fmt`, byte for byte what chrono's
//! serde support writes, or what its `%Y-%m-%dT%H:%M:%S%.3fZ` format writes (the tests compare
//! them).

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// The longest time written here: `9999-12-31T23:59:60.999999999Z`.
pub(super) const LONGEST: usize = 30;

/// How many digits of a second's fraction are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// 0, 3, 6 or 9, as few as show it exactly (chrono's serde support).
    Shortest,
    /// Always 3, cut rather than rounded (chrono's `%.3f`; Dynatrace's times).
    Millis,
}

/// Writes `t` as RFC 3339 in UTC with `Z` and the fraction `fraction` says, as chrono writes it,
/// or `None` for a year outside 0 to 9999.
pub(super) fn rfc3339(t: &DateTime<Utc>, buf: &mut [u8; LONGEST], fraction: Fraction) -> Option<usize> {
    // The parts are read from the naive time: `DateTime`'s own getters add the (zero) offset anew
    // for each one.
    let (date, clock) = (t.naive_utc().date(), t.naive_utc().time());
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    let (mut second, mut nano) = (clock.second(), clock.nanosecond());
    if nano >= 1_000_000_000 {
        // A leap second: chrono writes it as second 60.
        second += 1;
        nano -= 1_000_000_000;
    }
    let fraction = match nano {
        n if fraction == Fraction::Millis => Some((3, n / 1_000_000)),
        0 => None,
        n if n % 1_000_000 == 0 => Some((3, n / 1_000_000)),
        n if n % 1_000 == 0 => Some((6, n / 1_000)),
        n => Some((9, n)),
    };
    let mut at = 0;
    let mut put = |digits: usize, value: u32, after: u8| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        buf[at + digits] = after;
        at += digits + 1;
    };
    put(4, year, b'-');
    put(2, date.month(), b'-');
    put(2, date.day(), b'T');
    put(2, clock.hour(), b':');
    put(2, clock.minute(), b':');
    match fraction {
        None => put(2, second, b'Z'),
        Some((digits, value)) => {
            put(2, second, b'.');
            put(digits, value, b'Z');
        }
    }
    Some(at)
}

/// Serializes a time as chrono does, without `fmt` (for `#[serde(serialize_with)]`).
pub fn time<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; LONGEST];
    match rfc3339(t, &mut buf, Fraction::Shortest).and_then(|len| std::str::from_utf8(&buf[..len]).ok()) {
        Some(text) => serializer.serialize_str(text),
        None => t.serialize(serializer),
    }
}

/// `t` as chrono's `%Y-%m-%dT%H:%M:%S%.3fZ` writes it, without parsing that format each time.
pub fn millis_text(t: &DateTime<Utc>) -> String {
    let mut buf = [0u8; LONGEST];
    match rfc3339(t, &mut buf, Fraction::Millis).and_then(|len| std::str::from_utf8(&buf[..len]).ok()) {
        Some(text) => text.to_owned(),
        None => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    }
}

/// The same for a time that may be absent (`null`).
pub fn optional_time<S: Serializer>(t: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;

    #[derive(Serialize)]
    struct Written(#[serde(serialize_with = "time")] DateTime<Utc>);

    fn same_as_chrono(t: DateTime<Utc>) {
        let ours = serde_json::to_string(&Written(t)).expect("written");
        let chrono = serde_json::to_string(&t).expect("written");
        assert_eq!(ours, chrono, "for {t:?}");
    }

    #[test]
    fn every_fraction_length_and_the_edges_match_chrono() {
        let base = Utc.with_ymd_and_hms(2026, 11, 30, 21, 5, 9).single().expect("a time");
        for nanos in [0, 1, 10, 999, 1_000, 120_000, 999_999, 1_000_000, 7_000_000, 123_456_789, 999_999_999] {
            same_as_chrono(base + chrono::Duration::nanoseconds(nanos));
        }
        for (y, m, d) in [(0, 1, 1), (1, 1, 1), (999, 12, 31), (1970, 1, 1), (2024, 2, 29), (9999, 12, 31)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("a date");
            same_as_chrono(date.and_hms_nano_opt(23, 59, 59, 5_000).expect("a time").and_utc());
        }
        // A leap second, and years that RFC 3339 cannot write, which fall back to chrono.
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31).and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000));
        same_as_chrono(leap.expect("a leap second").and_utc());
        for y in [-1, 10_000, 262_000] {
            let date = NaiveDate::from_ymd_opt(y, 6, 1).expect("a date");
            same_as_chrono(date.and_hms_opt(0, 0, 0).expect("a time").and_utc());
        }
    }

    #[test]
    fn an_absent_time_is_null() {
        #[derive(Serialize)]
        struct Maybe(#[serde(serialize_with = "optional_time")] Option<DateTime<Utc>>);
        assert_eq!(serde_json::to_string(&Maybe(None)).expect("written"), "null");
        let t = Utc.timestamp_opt(1_700_000_000, 250_000_000).single().expect("a time");
        assert_eq!(serde_json::to_string(&Maybe(Some(t))).expect("written"), "\"2023-11-14T22:13:20.250Z\"");
    }

    fn millis_same_as_chrono(t: DateTime<Utc>) {
        assert_eq!(millis_text(&t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "for {t:?}");
    }

    #[test]
    fn milliseconds_are_written_as_chrono_formats_them() {
        let base = Utc.with_ymd_and_hms(2026, 11, 30, 21, 5, 9).single().expect("a time");
        for nanos in [0, 1, 999_999, 1_000_000, 7_654_321, 999_999_999] {
            millis_same_as_chrono(base + chrono::Duration::nanoseconds(nanos));
        }
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31).and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000));
        millis_same_as_chrono(leap.expect("a leap second").and_utc());
        for y in [-1, 0, 9999, 10_000] {
            let date = NaiveDate::from_ymd_opt(y, 6, 1).expect("a date");
            millis_same_as_chrono(date.and_hms_opt(0, 0, 0).expect("a time").and_utc());
        }
    }

    proptest! {
        #[test]
        fn any_time_in_milliseconds_matches_chrono(secs in -62_167_219_200i64..253_402_300_799, nanos in 0u32..2_000_000_000) {
            if let Some(t) = Utc.timestamp_opt(secs, nanos).single() {
                prop_assert_eq!(millis_text(&t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            }
        }

        #[test]
        fn any_time_matches_chrono(
            secs in -62_167_219_200i64..253_402_300_799,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|n| n * 1_000_000),
                (0u32..1_000_000).prop_map(|n| n * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let t = Utc.timestamp_opt(secs, nanos).single().expect("in range");
            prop_assert_eq!(
                serde_json::to_string(&Written(t)).expect("written"),
                serde_json::to_string(&t).expect("written")
            );
        }
    }
}
