//! Reading the audit trail.

use super::Keyward;
use crate::audit::AuditEvent;
use crate::error::Error;
use crate::id::AccountId;
use crate::page::Page;
use crate::principal::{Permission, Principal};
use crate::repository::AuditQuery;

impl Keyward {
    /// The audit events of `account`, newest first.
    pub fn list_audit_events(
        &self,
        p: &Principal,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<Page<AuditEvent>, Error> {
        p.require(Permission::AuditRead, account)?;
        self.repo.account(account)?;
        Ok(self.repo.list_audit_events(account, query)?)
    }
}
