//! Identifiers: UUIDv7 values behind one newtype per entity, so ids of different kinds never mix.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Entropy, Timestamp, ValidationError};

/// The last millisecond and counter handed out, so that ids made in this process strictly
/// increase even when many are made in one millisecond or the clock steps back.
static LAST: Mutex<(u64, u16)> = Mutex::new((0, 0));

/// Makes a UUIDv7 (RFC 9562 §5.7) from a time and random bytes. Within one process the ids are
/// strictly increasing: the 12 bits after the version hold a counter (RFC 9562 §6.2, method 1)
/// that restarts at a random value below 2048 each new millisecond, and a millisecond never goes
/// backwards. Ids from different nodes are ordered only by their milliseconds.
pub fn new_v7(now: Timestamp, entropy: &dyn Entropy) -> Uuid {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes[6..]);
    let wall = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let (millis, counter) = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if wall > last.0 {
            *last = (wall, u16::from_be_bytes([bytes[6], bytes[7]]) & 0x07ff);
        } else if last.1 >= 0x0fff {
            *last = (last.0 + 1, 0);
        } else {
            last.1 += 1;
        }
        *last
    };
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..8].copy_from_slice(&(0x7000 | counter).to_be_bytes());
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id for something created at `now`.
            pub fn generate(now: Timestamp, entropy: &dyn Entropy) -> Self {
                Self(new_v7(now, entropy))
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses the lowercase hyphenated form; `field` names the input in the error.
            pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
                parse_uuid(s).map(Self).ok_or_else(|| {
                    ValidationError::new(field, "must be an id: a UUID such as 0190f1c2-7a3b-7c4d-8e5f-0123456789ab")
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s, "id")
            }
        }
    };
}

/// Accepts exactly the canonical 36-character hyphenated form, in either case.
fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}

id_type!(
    /// Identifies an [`Account`](crate::account::Account).
    AccountId
);
id_type!(
    /// Identifies a [`ServiceAccount`](crate::service_account::ServiceAccount).
    ServiceAccountId
);
id_type!(
    /// Identifies an [`ApiKey`](crate::api_key::ApiKey).
    ApiKeyId
);
id_type!(
    /// Identifies an [`AuditEvent`](crate::audit::AuditEvent).
    AuditEventId
);
id_type!(
    /// Identifies a [`SecretKey`](crate::secret_key::SecretKey); also its OAuth 2.0 `client_id`.
    SecretKeyId
);
id_type!(
    /// Identifies a [`SigningKey`](crate::signing_key::SigningKey); also the JWT `kid`.
    SigningKeyId
);
id_type!(
    /// Identifies a [`FederatedCredential`](crate::federation::FederatedCredential).
    FederatedCredentialId
);
id_type!(
    /// Identifies a [`Webhook`](crate::webhook::Webhook).
    WebhookId
);
id_type!(
    /// Identifies a [`Delivery`](crate::webhook::Delivery); also its `webhook-id` header, the
    /// same on every retry.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;
    use chrono::TimeZone;

    #[test]
    fn generated_ids_are_version_7_and_ordered_by_time() {
        let entropy = SeededEntropy::new(1);
        let t1 = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let t2 = t1 + chrono::Duration::milliseconds(1);
        let a = AccountId::generate(t1, &entropy);
        let b = AccountId::generate(t2, &entropy);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(a.as_uuid().get_variant(), uuid::Variant::RFC4122);
        assert!(a < b);
        assert_eq!(AccountId::parse(&a.to_string(), "id"), Ok(a));
    }

    #[test]
    fn ids_made_in_one_millisecond_still_increase() {
        let entropy = SeededEntropy::new(2);
        let t = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let ids: Vec<_> = (0..10_000).map(|_| ApiKeyId::generate(t, &entropy)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| id.as_uuid().get_version_num() == 7));
    }

    #[test]
    fn only_the_hyphenated_form_parses() {
        assert!(AccountId::parse("0190f1c27a3b7c4d8e5f0123456789ab", "id").is_err());
        assert!(AccountId::parse("{0190f1c2-7a3b-7c4d-8e5f-0123456789ab}", "id").is_err());
        let e = AccountId::parse("nope", "account_id").err();
        assert_eq!(e.map(|e| e.field), Some("account_id".to_owned()));
    }
}
