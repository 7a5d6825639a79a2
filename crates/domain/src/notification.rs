//! The events an account can be told of (by webhook), named as on the wire.

use std::fmt;
use std::net::IpAddr;

use crate::ValidationError;

/// What a webhook can be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A key was reported leaked and disabled.
    CredentialLeaked,
    /// A key expires within 7 days, or within 1 day.
    CredentialExpiring,
    /// A key expired.
    CredentialExpired,
    /// A key was given a new secret.
    CredentialRotated,
    /// A key was disabled or deleted.
    CredentialRevoked,
    /// A service account was disabled.
    ServiceAccountDisabled,
    /// A key was refused many times within a minute.
    AuthFailureBurst,
    /// A key was used from an address network it was never used from.
    CredentialNewNetwork,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 8] = [
        EventType::CredentialLeaked,
        EventType::CredentialExpiring,
        EventType::CredentialExpired,
        EventType::CredentialRotated,
        EventType::CredentialRevoked,
        EventType::ServiceAccountDisabled,
        EventType::AuthFailureBurst,
        EventType::CredentialNewNetwork,
    ];

    /// The wire name, such as `credential.leaked`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CredentialLeaked => "credential.leaked",
            EventType::CredentialExpiring => "credential.expiring",
            EventType::CredentialExpired => "credential.expired",
            EventType::CredentialRotated => "credential.rotated",
            EventType::CredentialRevoked => "credential.revoked",
            EventType::ServiceAccountDisabled => "service_account.disabled",
            EventType::AuthFailureBurst => "auth.failure_burst",
            EventType::CredentialNewNetwork => "credential.new_network",
        }
    }

    /// The event type with this wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event types a webhook subscribes to: at least one, no repeats, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<EventType>);

impl EventTypes {
    /// Parses wire names; `field` names the input in the error.
    pub fn parse<S: AsRef<str>>(names: &[S], field: &str) -> Result<Self, ValidationError> {
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let t = EventType::parse(name.as_ref()).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                ValidationError::new(field, format!("unknown event type; known: {}", known.join(", ")))
            })?;
            types.push(t);
        }
        types.sort();
        types.dedup();
        if types.is_empty() {
            return Err(ValidationError::new(field, "must name at least one event type"));
        }
        Ok(Self(types))
    }

    /// Whether `t` is among them.
    pub fn contains(&self, t: EventType) -> bool {
        self.0.contains(&t)
    }

    /// The types, in order.
    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        self.0.iter().copied()
    }
}

/// The network an address belongs to for `credential.new_network`: its /24 for IPv4, its /48 for
/// IPv6 (an IPv4-mapped IPv6 address counts as IPv4).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                format!("{prefix}/48")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_a_v4_slash_24_or_a_v6_slash_48() {
        let net = |s: &str| network_of(s.parse().unwrap());
        assert_eq!(net("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("2001:db8:1:2::5"), "2001:db8:1::/48");
        assert_eq!(net("::ffff:198.51.100.9"), "198.51.100.0/24");
    }

    #[test]
    fn event_types_parse_sorted_and_deduplicated() {
        let types = EventTypes::parse(&["credential.rotated", "credential.leaked", "credential.rotated"], "events")
            .expect("known types");
        assert_eq!(types.iter().collect::<Vec<_>>(), [EventType::CredentialLeaked, EventType::CredentialRotated]);
        assert_eq!(EventTypes::parse(&["nope"], "events").map(|_| ()).unwrap_err().field, "events");
        assert!(EventTypes::parse::<&str>(&[], "events").is_err());
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
