//! API key answers written by hand on the hot paths (verification, one key, key lists): the same
//! bytes as serde_json writes for [`ApiKeyBody`]'s derived `Serialize`, without serde's escaping
//! scan over field names, ids, times and scopes, which cannot need escaping.

use web::answer::{self, WriteJson};

use super::api_keys::{ApiKeyBody, ApiKeyList};
use super::usage_limits::{RateLimitBody, RemainingBody};

impl WriteJson for ApiKeyBody {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        answer::id(out, self.id.as_uuid());
        out.extend_from_slice(b",\"account_id\":");
        answer::id(out, self.account_id.as_uuid());
        out.extend_from_slice(b",\"service_account_id\":");
        answer::id(out, self.service_account_id.as_uuid());
        out.extend_from_slice(b",\"name\":");
        answer::text(out, self.name.as_str());
        out.extend_from_slice(b",\"description\":");
        answer::text(out, self.description.as_str());
        out.extend_from_slice(b",\"scopes\":[");
        for (i, scope) in self.scopes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // A scope is made of `[A-Za-z0-9:._*/-]` only.
            answer::plain(out, scope.as_str());
        }
        out.extend_from_slice(b"],\"active\":");
        answer::boolean(out, self.active);
        out.extend_from_slice(b",\"state\":");
        answer::plain(out, self.state.as_str());
        out.extend_from_slice(b",\"expires_at\":");
        answer::optional_instant(out, self.expires_at.as_ref());
        out.extend_from_slice(b",\"created_at\":");
        answer::instant(out, &self.created_at);
        out.extend_from_slice(b",\"updated_at\":");
        answer::instant(out, &self.updated_at);
        out.extend_from_slice(b",\"last_used_at\":");
        answer::optional_instant(out, self.last_used_at.as_ref());
        out.extend_from_slice(b",\"last_used_ip\":");
        match &self.last_used_ip {
            Some(ip) => answer::address(out, *ip),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"last_rotated_at\":");
        answer::optional_instant(out, self.last_rotated_at.as_ref());
        // A metered key's every verification answers its limits, so they are written by hand too.
        if !self.rate_limits.is_empty() {
            out.extend_from_slice(b",\"rate_limits\":[");
            for (i, l) in self.rate_limits.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_rate_limit(out, l);
            }
            out.push(b']');
        }
        if let Some(remaining) = &self.remaining {
            out.extend_from_slice(b",\"remaining\":");
            write_remaining(out, remaining);
        }
        if !self.permissions.is_empty() {
            out.extend_from_slice(b",\"permissions\":");
            answer::by_serde(out, &self.permissions);
        }
        if !self.roles.is_empty() {
            out.extend_from_slice(b",\"roles\":");
            answer::by_serde(out, &self.roles);
        }
        out.push(b'}');
    }
}

fn write_rate_limit(out: &mut Vec<u8>, l: &RateLimitBody) {
    out.extend_from_slice(b"{\"name\":");
    answer::text(out, &l.name);
    out.extend_from_slice(b",\"limit\":");
    answer::unsigned(out, l.limit);
    out.extend_from_slice(b",\"window_seconds\":");
    answer::by_serde(out, &l.window_seconds);
    out.extend_from_slice(b",\"auto_apply\":");
    answer::boolean(out, l.auto_apply);
    if l.strict {
        out.extend_from_slice(b",\"strict\":true");
    }
    out.push(b'}');
}

fn write_remaining(out: &mut Vec<u8>, r: &RemainingBody) {
    out.extend_from_slice(b"{\"uses\":");
    answer::unsigned(out, r.uses);
    out.extend_from_slice(b",\"set_at\":");
    answer::instant(out, &r.set_at);
    if let Some(refill) = &r.refill {
        out.extend_from_slice(b",\"refill\":");
        answer::by_serde(out, refill);
    }
    out.push(b'}');
}

impl WriteJson for ApiKeyList {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"items\":[");
        for (i, key) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            key.write_json(out);
        }
        out.extend_from_slice(b"],\"next_cursor\":");
        match &self.next_cursor {
            Some(cursor) => answer::text(out, cursor),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use domain::id::{AccountId, ApiKeyId, ServiceAccountId};
    use domain::key::KeyState;
    use domain::scope::Scopes;
    use domain::text::{Description, Name};
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    /// Checks that the hand-written JSON of `value` is what serde_json writes for it.
    pub(crate) fn same_as_serde<T: WriteJson + serde::Serialize>(value: &T) -> Result<(), TestCaseError> {
        let mut ours = Vec::new();
        value.write_json(&mut ours);
        let serde = serde_json::to_vec(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&serde));
        Ok(())
    }

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        (-62_167_219_200i64..253_402_300_799, prop_oneof![Just(0u32), 0u32..1_000_000_000])
            .prop_filter_map("in range", |(s, n)| Utc.timestamp_opt(s, n).single())
    }

    prop_compose! {
        /// Any key body a stored key can produce.
        pub(crate) fn key_body()(
            ids in any::<(u128, u128, u128)>(),
            name in "\\PC{1,40}",
            description in "(\\PC|[\"\\\\\n\t\r])*",
            scopes in proptest::collection::vec("[A-Za-z0-9:._*/-]{1,20}", 0..5),
            active in any::<bool>(),
            state in prop_oneof![Just(KeyState::Active), Just(KeyState::Disabled), Just(KeyState::Expired), Just(KeyState::Leaked)],
            times in (proptest::option::of(time()), time(), time(), proptest::option::of(time()), proptest::option::of(time())),
            ip in proptest::option::of(any::<std::net::IpAddr>()),
            limits in proptest::option::of(("\\PC{1,20}", any::<u64>(), time(), proptest::option::of(1u32..=31))),
        ) -> Option<ApiKeyBody> {
            let name = Name::parse(name.trim(), "name").ok()?;
            let description = Description::parse(&description, "description").ok()?;
            let scopes = Scopes::parse(&scopes, "scopes").ok()?;
            Some(ApiKeyBody {
                id: ApiKeyId::from_uuid(Uuid::from_u128(ids.0)),
                account_id: AccountId::from_uuid(Uuid::from_u128(ids.1)),
                service_account_id: ServiceAccountId::from_uuid(Uuid::from_u128(ids.2)),
                name,
                description,
                scopes,
                active,
                state,
                expires_at: times.0,
                created_at: times.1,
                updated_at: times.2,
                last_used_at: times.3,
                last_used_ip: ip,
                last_rotated_at: times.4,
                // Usage limits: all three or none, so that a test can tell which fields to expect.
                rate_limits: limits.iter().map(|(name, limit, _, _)| crate::routes::usage_limits::RateLimitBody {
                    name: name.clone(),
                    limit: *limit,
                    window_seconds: 60,
                    auto_apply: limit % 2 == 0,
                    strict: limit % 3 == 0,
                }).collect(),
                remaining: limits.as_ref().map(|(_, uses, set_at, day)| crate::routes::usage_limits::RemainingBody {
                    uses: *uses,
                    set_at: *set_at,
                    refill: day.map(|day| crate::routes::usage_limits::RefillBody {
                        amount: *uses,
                        interval: crate::routes::usage_limits::IntervalBody::Monthly,
                        day: Some(day),
                    }),
                }),
                permissions: limits.iter().map(|(name, ..)| name.clone()).collect(),
                roles: limits.iter().map(|(name, ..)| name.clone()).collect(),
            })
        }
    }

    proptest! {
        #[test]
        fn a_key_is_written_as_serde_writes_it(body in key_body()) {
            if let Some(body) = body {
                same_as_serde(&body)?;
            }
        }

        #[test]
        fn the_fields_a_list_may_choose_are_the_fields_serde_writes(body in key_body()) {
            if let Some(body) = body {
                let value = serde_json::to_value(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let written: BTreeSet<&str> = value.as_object().into_iter().flat_map(|o| o.keys()).map(String::as_str).collect();
                let mut listed: BTreeSet<&str> = crate::routes::api_keys::FIELDS.iter().copied().collect();
                if body.remaining.is_none() {
                    // A key without usage limits leaves their fields out.
                    for absent in ["rate_limits", "remaining", "permissions", "roles"] {
                        listed.remove(absent);
                    }
                }
                prop_assert_eq!(written, listed);
            }
        }

        #[test]
        fn a_list_is_written_as_serde_writes_it(
            items in proptest::collection::vec(key_body(), 0..4),
            next_cursor in proptest::option::of("\\PC{0,30}"),
        ) {
            same_as_serde(&ApiKeyList { items: items.into_iter().flatten().collect(), next_cursor })?;
        }
    }
}
