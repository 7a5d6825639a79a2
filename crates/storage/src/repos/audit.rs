//! Audit events.

use diesel::prelude::*;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::AccountId;
use domain::page::{Page, Position, SortKey};
use domain::repository::{AuditQuery, AuditRepository, RepoResult};

use super::{fetch_limit, record};
use crate::Store;
use crate::convert::{AuditEventRow, all, micros};
use crate::schema::audit_events::{self, dsl};

impl AuditRepository for Store {
    fn insert_audit_event(&self, event: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Account, |c| {
            record(c, event)?;
            Ok(())
        })
    }

    fn list_audit_events(&self, account: AccountId, query: &AuditQuery) -> RepoResult<Page<AuditEvent>> {
        let limit = query.page.limit;
        let rows = self.read_lagging(query.page.may_lag, Entity::Account, |c| {
            let mut q = audit_events::table
                .filter(dsl::account_id.eq(account.to_string()))
                .select(AuditEventRow::as_select())
                .order(dsl::id.desc())
                .limit(fetch_limit(limit))
                .into_boxed();
            if let Some(action) = query.action {
                q = q.filter(dsl::action.eq(action.as_str()));
            }
            if let Some(actor) = &query.actor {
                q = q.filter(dsl::actor.eq(actor.clone()));
            }
            if let Some(target) = &query.target {
                q = q.filter(dsl::target.eq(target.clone()));
            }
            if let Some(from) = query.from {
                q = q.filter(dsl::at.ge(micros(from)));
            }
            if let Some(to) = query.to {
                q = q.filter(dsl::at.lt(micros(to)));
            }
            if let Some(after) = &query.page.after {
                q = q.filter(dsl::id.lt(after.id.hyphenated().to_string()));
            }
            Ok(all::<_, AuditEvent>(q.load(c)?)?)
        })?;
        Ok(Page::from_rows(rows, limit, |e| Position { key: SortKey::Id, id: *e.id.as_uuid() }))
    }
}
