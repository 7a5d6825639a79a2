//! Key usage: the latest use of each API key and secret key, API keys' hourly counts and the
//! networks they were used from, written in one transaction per batch, and the counts read back
//! or forgotten.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use domain::Timestamp;
use domain::error::Entity;
use domain::id::{AccountId, ApiKeyId};
use domain::repository::{MAX_NETWORKS_PER_KEY, NetworkUse, RepoError, RepoResult};
use domain::usage::{HourlyUse, UsageBatch};
use uuid::Uuid;

use crate::Store;
use crate::auth_cache::Change;
use crate::connection::DbConnection;
use crate::convert::{micros, time, uuid};
use crate::error::TxError;
use crate::schema::api_keys::{self, dsl};
use crate::schema::{api_key_usage, key_networks, secret_keys};

/// Adds one key's counts for one hour to those stored, unless the key is gone. Both backends
/// speak this upsert; only their placeholders differ.
const ADD_HOURLY: &str = "INSERT INTO api_key_usage (api_key_id, hour, uses, refusals) \
     SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?) \
     ON CONFLICT (api_key_id, hour) DO UPDATE \
     SET uses = api_key_usage.uses + excluded.uses, refusals = api_key_usage.refusals + excluded.refusals";

/// `sql` with PostgreSQL's numbered placeholders in place of `?`.
pub(super) fn numbered(sql: &str) -> String {
    let mut n = 0;
    sql.split('?')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                n += 1;
                format!("${n}{part}")
            }
        })
        .collect()
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn add_hourly(c: &mut DbConnection, h: &HourlyUse) -> QueryResult<usize> {
    let id = h.key.to_string();
    let bind = |sql: String| {
        diesel::sql_query(sql)
            .bind::<Text, _>(id.clone())
            .bind::<BigInt, _>(micros(h.hour))
            .bind::<BigInt, _>(count(h.uses))
            .bind::<BigInt, _>(count(h.refusals))
            .bind::<Text, _>(id.clone())
    };
    match c {
        DbConnection::Postgresql(pg) => bind(numbered(ADD_HOURLY)).execute(pg),
        DbConnection::Sqlite(lite) => bind(ADD_HOURLY.to_owned()).execute(lite),
    }
}

impl Store {
    pub(crate) fn write_usage(&self, batch: &UsageBatch, networks: &[NetworkUse]) -> RepoResult<()> {
        self.write(Entity::ApiKey, |c| {
            for seen in networks {
                note_network(c, seen)?;
            }
            for (id, usage) in &batch.latest {
                let at = micros(usage.at);
                diesel::update(
                    api_keys::table
                        .filter(dsl::id.eq(id.to_string()))
                        .filter(dsl::last_used_at.is_null().or(dsl::last_used_at.lt(at))),
                )
                .set((dsl::last_used_at.eq(Some(at)), dsl::last_used_ip.eq(usage.ip.map(|ip| ip.to_string()))))
                .execute(c)?;
            }
            for h in &batch.hourly {
                add_hourly(c, h)?;
            }
            for (id, at) in &batch.secret_latest {
                let at = micros(*at);
                diesel::update(
                    secret_keys::table
                        .filter(secret_keys::id.eq(id.to_string()))
                        .filter(secret_keys::last_used_at.is_null().or(secret_keys::last_used_at.lt(at))),
                )
                .set(secret_keys::last_used_at.eq(Some(at)))
                .execute(c)?;
            }
            Ok(())
        })?;
        // Cached lookups also answer reads of one key; let them show the new last use. A last
        // use decides nothing, so the keys are read again rather than forgotten: a key in use
        // still answers from its last read if the database goes away right after this flush.
        for (id, _) in &batch.latest {
            self.auth_cache().read_again(Change::ApiKey(*id));
        }
        for (id, _) in &batch.secret_latest {
            self.auth_cache().read_again(Change::SecretKey(*id));
        }
        Ok(())
    }

    pub(crate) fn read_usage(&self, keys: &[ApiKeyId], from: Timestamp, to: Timestamp) -> RepoResult<Vec<HourlyUse>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read(Entity::ApiKey, |c| {
            let mut found = Vec::new();
            for chunk in keys.chunks(500) {
                let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                let rows: Vec<(String, i64, i64, i64)> = api_key_usage::table
                    .filter(api_key_usage::api_key_id.eq_any(ids))
                    .filter(api_key_usage::hour.ge(micros(from)))
                    .filter(api_key_usage::hour.lt(micros(to)))
                    .select((
                        api_key_usage::api_key_id,
                        api_key_usage::hour,
                        api_key_usage::uses,
                        api_key_usage::refusals,
                    ))
                    .load(c)?;
                for (key, hour, uses, refusals) in rows {
                    let key = Uuid::try_parse(&key)
                        .map_err(|_| TxError::Repo(RepoError::Unavailable("a stored usage row is invalid".into())))?;
                    found.push(HourlyUse {
                        key: ApiKeyId::from_uuid(key),
                        hour: time(hour).map_err(TxError::Repo)?,
                        uses: u64::try_from(uses).unwrap_or(0),
                        refusals: u64::try_from(refusals).unwrap_or(0),
                    });
                }
            }
            Ok(found)
        })
    }

    pub(crate) fn forget_usage_before(&self, before: Timestamp) -> RepoResult<u64> {
        self.write(Entity::ApiKey, |c| {
            let n = diesel::delete(api_key_usage::table.filter(api_key_usage::hour.lt(micros(before)))).execute(c)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }
}

/// Notes that a key was used from a network; writes its `credential.new_network` event when the
/// network is new and the key was used from another one before.
fn note_network(c: &mut DbConnection, seen: &NetworkUse) -> Result<(), TxError> {
    let key = seen.key.to_string();
    let Some(account) =
        api_keys::table.filter(dsl::id.eq(&key)).select(dsl::account_id).get_result::<String>(c).optional()?
    else {
        return Ok(());
    };
    let known = key_networks::table.filter(key_networks::api_key_id.eq(&key));
    let before: i64 = known.count().get_result(c)?;
    let already: i64 = known.filter(key_networks::network.eq(&seen.network)).count().get_result(c)?;
    if already > 0 || before >= MAX_NETWORKS_PER_KEY {
        return Ok(());
    }
    diesel::insert_into(key_networks::table)
        .values((
            key_networks::api_key_id.eq(&key),
            key_networks::network.eq(&seen.network),
            key_networks::first_seen.eq(micros(seen.event.at)),
        ))
        .execute(c)?;
    if before > 0 {
        let mut event = seen.event.clone();
        event.account_id = AccountId::from_uuid(uuid(&account)?);
        super::record(c, &event)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(super::numbered("a ? b ?, ?"), "a $1 b $2, $3");
    }
}
