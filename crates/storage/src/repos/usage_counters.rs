//! The counters of usage limits: every node adds what it spent of a bucket, and reads back
//! everyone's total.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use domain::error::Entity;
use domain::limits::{Bucket, Spend, StrictSpend};
use domain::repository::{RepoResult, UsageCounterRepository};

use super::usage::numbered;
use crate::Store;
use crate::connection::DbConnection;
use crate::schema::usage_counters;

/// Adds to a bucket's count, creating it. Both backends speak this upsert; only their
/// placeholders differ.
const ADD_SPENT: &str = "INSERT INTO usage_counters (bucket, spent, expires_at) VALUES (?, ?, ?) \
     ON CONFLICT (bucket) DO UPDATE SET spent = usage_counters.spent + excluded.spent";

fn add(c: &mut DbConnection, spend: &Spend) -> QueryResult<usize> {
    let bind = |sql: String| {
        diesel::sql_query(sql)
            .bind::<Text, _>(spend.bucket.as_str())
            .bind::<BigInt, _>(i64::try_from(spend.amount).unwrap_or(i64::MAX))
            .bind::<Nullable<BigInt>, _>(spend.expires_at)
    };
    match c {
        DbConnection::Postgresql(pg) => bind(numbered(ADD_SPENT)).execute(pg),
        DbConnection::Sqlite(lite) => bind(ADD_SPENT.to_owned()).execute(lite),
    }
}

/// Creates a bucket with a count of 0 unless it exists, so that it can be locked.
const ENSURE: &str = "INSERT INTO usage_counters (bucket, spent, expires_at) VALUES (?, 0, ?) \
     ON CONFLICT (bucket) DO NOTHING";

fn ensure(c: &mut DbConnection, spend: &StrictSpend) -> QueryResult<usize> {
    let bind = |sql: String| {
        diesel::sql_query(sql).bind::<Text, _>(spend.bucket.as_str()).bind::<Nullable<BigInt>, _>(spend.expires_at)
    };
    match c {
        DbConnection::Postgresql(pg) => bind(numbered(ENSURE)).execute(pg),
        DbConnection::Sqlite(lite) => bind(ENSURE.to_owned()).execute(lite),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    spent: i64,
}

/// A bucket's count, locked until the transaction ends (on PostgreSQL; SQLite's writers are
/// serialized already).
fn locked_count(c: &mut DbConnection, bucket: &Bucket) -> QueryResult<u64> {
    let found: Count = match c {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query("SELECT spent FROM usage_counters WHERE bucket = $1 FOR UPDATE")
                .bind::<Text, _>(bucket.as_str())
                .get_result(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query("SELECT spent FROM usage_counters WHERE bucket = ?")
            .bind::<Text, _>(bucket.as_str())
            .get_result(lite)?,
    };
    Ok(u64::try_from(found.spent).unwrap_or(0))
}

/// Deletes every counter of `owner` (`key:<id>` or `sa:<id>`), with the owner itself: a deleted
/// key's uses left would otherwise stay for good.
pub(crate) fn forget_owner(c: &mut DbConnection, owner: &str) -> QueryResult<usize> {
    // Ids and the `key`/`sa` prefixes hold no LIKE wildcard (`%` or `_`).
    diesel::delete(
        usage_counters::table.filter(
            usage_counters::bucket
                .like(format!("rate:{owner}:%"))
                .or(usage_counters::bucket.like(format!("left:{owner}:%"))),
        ),
    )
    .execute(c)
}

impl UsageCounterRepository for Store {
    fn spend_strict(&self, spends: &[StrictSpend]) -> RepoResult<(bool, Vec<u64>)> {
        if spends.is_empty() {
            return Ok((true, Vec::new()));
        }
        self.write(Entity::ApiKey, |c| {
            // Locked in one order on every node, so that two verifications never wait on each other.
            let mut order: Vec<usize> = (0..spends.len()).collect();
            order.sort_by(|a, b| spends[*a].bucket.cmp(&spends[*b].bucket));
            let mut counts = vec![0u64; spends.len()];
            for &i in &order {
                ensure(c, &spends[i])?;
                counts[i] = locked_count(c, &spends[i].bucket)?;
            }
            let fits = spends.iter().zip(&counts).all(|(s, n)| n.checked_add(s.cost).is_some_and(|t| t <= s.limit));
            if !fits {
                return Ok((false, counts));
            }
            for &i in &order {
                let spend = Spend {
                    bucket: spends[i].bucket.clone(),
                    amount: spends[i].cost,
                    expires_at: spends[i].expires_at,
                };
                add(c, &spend)?;
                counts[i] += spends[i].cost;
            }
            Ok((true, counts))
        })
    }

    fn add_spent(&self, spends: &[Spend]) -> RepoResult<()> {
        if spends.is_empty() {
            return Ok(());
        }
        self.write(Entity::ApiKey, |c| {
            // One order for every node, so that two flushes never wait on each other's rows.
            let mut sorted: Vec<&Spend> = spends.iter().collect();
            sorted.sort_by(|a, b| a.bucket.cmp(&b.bucket));
            for spend in sorted {
                add(c, spend)?;
            }
            Ok(())
        })
    }

    fn spent(&self, buckets: &[Bucket]) -> RepoResult<Vec<(Bucket, u64)>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        self.read(Entity::ApiKey, |c| {
            let mut found = Vec::with_capacity(buckets.len());
            for chunk in buckets.chunks(500) {
                let names: Vec<&str> = chunk.iter().map(Bucket::as_str).collect();
                let rows: Vec<(String, i64)> = usage_counters::table
                    .filter(usage_counters::bucket.eq_any(names))
                    .select((usage_counters::bucket, usage_counters::spent))
                    .load(c)?;
                found.extend(rows.into_iter().map(|(b, n)| (Bucket::new(b), u64::try_from(n).unwrap_or(0))));
            }
            Ok(found)
        })
    }

    fn forget_spent_before(&self, now: i64) -> RepoResult<u64> {
        let gone = self.write(Entity::ApiKey, |c| {
            Ok(diesel::delete(usage_counters::table.filter(usage_counters::expires_at.lt(now))).execute(c)?)
        })?;
        Ok(u64::try_from(gone).unwrap_or(0))
    }
}
