//! Integer fields of request bodies. JSON Schema counts `3600.0` as an integer, and so do some
//! clients; these accept it, and refuse a fraction or a number out of range with a clear message.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// A JSON number, as it came.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Whole(i64),
    Float(f64),
}

/// Largest float that converts to `i64` exactly (2^63 is not representable as `i64`).
const LIMIT: f64 = 9_223_372_036_854_775_808.0;

fn whole<E: Error>(n: Number) -> Result<i64, E> {
    match n {
        Number::Whole(i) => Ok(i),
        #[allow(clippy::cast_possible_truncation)]
        Number::Float(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => Ok(f as i64),
        Number::Float(_) => Err(E::custom("must be a whole number")),
    }
}

/// Deserializes a whole number (for `#[serde(deserialize_with = ...)]`).
pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole(Number::deserialize(d).map_err(|_| D::Error::custom("must be a whole number"))?)
}

/// Deserializes an optional whole number; `null` is absent. Pair with `#[serde(default)]`.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Number>::deserialize(d).map_err(|_| D::Error::custom("must be a whole number"))? {
        None => Ok(None),
        Some(n) => whole(n).map(Some),
    }
}

/// Deserializes a whole number of 0 or more (a count or a cost).
pub fn unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    u64::try_from(required(d)?).map_err(|_| D::Error::custom("must be 0 or more"))
}

/// Deserializes an optional whole number of 0 or more; `null` is absent. Pair with
/// `#[serde(default)]`.
pub fn optional_unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional(d)?.map(|n| u64::try_from(n).map_err(|_| D::Error::custom("must be 0 or more"))).transpose()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::optional")]
        ttl: Option<i64>,
        #[serde(default, deserialize_with = "super::required")]
        retain: i64,
        #[serde(default, deserialize_with = "super::unsigned")]
        cost: u64,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        let b = parse(r#"{"ttl": 3600.0, "retain": 7}"#).unwrap();
        assert_eq!((b.ttl, b.retain), (Some(3600), 7));
        assert_eq!(parse(r#"{"ttl": null}"#).unwrap().ttl, None);
        assert_eq!(parse("{}").unwrap().retain, 0);
        for bad in [r#"{"ttl": 1.5}"#, r#"{"ttl": "60"}"#, r#"{"ttl": 1e300}"#, r#"{"retain": true}"#] {
            assert!(parse(bad).unwrap_err().contains("must be a whole number"), "{bad}");
        }
        assert_eq!(parse(r#"{"cost": 2.0}"#).unwrap().cost, 2);
        assert!(parse(r#"{"cost": -1}"#).unwrap_err().contains("must be 0 or more"));
    }
}
