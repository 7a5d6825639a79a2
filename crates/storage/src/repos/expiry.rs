//! Keys near their expiry, and the notices given about them.

use diesel::prelude::*;
use domain::Timestamp;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::AccountId;
use domain::repository::{ExpiringKey, ExpiryRepository, RepoError, RepoResult};

use super::record;
use crate::Store;
use crate::convert::{micros, time, uuid};
use crate::error::TxError;
use crate::schema::{api_keys, expiry_notices, secret_keys};

impl ExpiryRepository for Store {
    fn keys_expiring(&self, from: Timestamp, to: Timestamp, limit: u32) -> RepoResult<Vec<ExpiringKey>> {
        let (from, to, limit) = (micros(from), micros(to), i64::from(limit));
        let rows = self.read(Entity::ApiKey, |c| {
            let mut rows: Vec<(String, String, Option<i64>)> = api_keys::table
                .filter(api_keys::expires_at.gt(from).and(api_keys::expires_at.le(to)))
                .select((api_keys::id, api_keys::account_id, api_keys::expires_at))
                .order(api_keys::expires_at.asc())
                .limit(limit)
                .load(c)?;
            let rows = rows.drain(..).map(|(id, account, at)| (format!("api_key:{id}"), account, at));
            let secret: Vec<(String, String, Option<i64>)> = secret_keys::table
                .filter(secret_keys::expires_at.gt(from).and(secret_keys::expires_at.le(to)))
                .select((secret_keys::id, secret_keys::account_id, secret_keys::expires_at))
                .order(secret_keys::expires_at.asc())
                .limit(limit)
                .load(c)?;
            let secret = secret.into_iter().map(|(id, account, at)| (format!("secret_key:{id}"), account, at));
            Ok(rows.chain(secret).collect::<Vec<_>>())
        })?;
        let mut keys = rows
            .into_iter()
            .filter_map(|(target, account, at)| Some((target, account, at?)))
            .map(|(target, account, at)| {
                Ok(ExpiringKey { target, account_id: AccountId::from_uuid(uuid(&account)?), expires_at: time(at)? })
            })
            .collect::<RepoResult<Vec<_>>>()?;
        keys.sort_by_key(|k| k.expires_at);
        keys.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(keys)
    }

    fn record_expiry_notice(&self, key: &ExpiringKey, notice: &str, audit: &AuditEvent) -> RepoResult<bool> {
        let expires_at = micros(key.expires_at);
        let given = self.write(Entity::ApiKey, |c| {
            let this = expiry_notices::table
                .filter(expiry_notices::target.eq(&key.target))
                .filter(expiry_notices::notice.eq(notice))
                .filter(expiry_notices::expires_at.eq(expires_at));
            let before: i64 = this.count().get_result(c)?;
            if before > 0 {
                return Ok(false);
            }
            diesel::insert_into(expiry_notices::table)
                .values((
                    expiry_notices::target.eq(&key.target),
                    expiry_notices::notice.eq(notice),
                    expiry_notices::expires_at.eq(expires_at),
                ))
                .execute(c)?;
            record(c, audit)?;
            Ok::<_, TxError>(true)
        });
        match given {
            // Another node gave it at the same moment.
            Err(RepoError::NameTaken(_)) => Ok(false),
            other => other,
        }
    }
}
