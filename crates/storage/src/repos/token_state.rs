//! Revoked access tokens and used client assertions.

use diesel::prelude::*;
use domain::Timestamp;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::repository::{RepoError, RepoResult, TokenStateRepository};

use super::record;
use crate::Store;
use crate::convert::micros;
use crate::schema::{revoked_tokens, used_assertions};

impl TokenStateRepository for Store {
    fn revoke_token(&self, jti: &str, expires_at: Timestamp, audit: &AuditEvent) -> RepoResult<()> {
        let result = self.write(Entity::Account, |c| {
            diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(micros(audit.at)))).execute(c)?;
            diesel::insert_into(revoked_tokens::table)
                .values((revoked_tokens::jti.eq(jti), revoked_tokens::expires_at.eq(micros(expires_at))))
                .execute(c)?;
            record(c, audit)?;
            Ok(())
        });
        match result {
            // Revoked already: revoking again changes nothing.
            Err(RepoError::NameTaken(_)) => Ok(()),
            other => other,
        }
    }

    fn is_revoked(&self, jti: &str) -> RepoResult<bool> {
        self.read(Entity::Account, |c| {
            let found: i64 = revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)).count().get_result(c)?;
            Ok(found > 0)
        })
    }

    fn use_assertion(&self, client: &str, jti: &str, expires_at: Timestamp, now: Timestamp) -> RepoResult<bool> {
        let result = self.write(Entity::Account, |c| {
            diesel::delete(used_assertions::table.filter(used_assertions::expires_at.lt(micros(now)))).execute(c)?;
            diesel::insert_into(used_assertions::table)
                .values((
                    used_assertions::client_id.eq(client),
                    used_assertions::jti.eq(jti),
                    used_assertions::expires_at.eq(micros(expires_at)),
                ))
                .execute(c)?;
            Ok(true)
        });
        match result {
            Err(RepoError::NameTaken(_)) => Ok(false),
            other => other,
        }
    }
}
