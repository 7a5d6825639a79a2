//! Storage errors, and the one place where database errors become domain errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use domain::error::Entity;
use domain::repository::RepoError;

/// A failure to open, configure or migrate the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is not one Keyward understands.
    #[error("unsupported database URL: {0}")]
    Url(String),
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
}

/// Maps a Diesel error from an operation on `entity` to the domain's error. A missing row is that
/// entity missing; a unique violation is its name taken; a foreign-key violation means its parent
/// disappeared meanwhile.
pub(crate) fn map_db(entity: Entity) -> impl Fn(DieselError) -> RepoError {
    move |e| match e {
        DieselError::NotFound => RepoError::NotFound(entity),
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => RepoError::NameTaken(entity),
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => RepoError::NotFound(parent(entity)),
        other => {
            tracing::error!(error = %other, "database error");
            RepoError::Unavailable(format!("database error: {other}"))
        }
    }
}

fn parent(entity: Entity) -> Entity {
    match entity {
        Entity::Account | Entity::ServiceAccount | Entity::Webhook | Entity::Role => Entity::Account,
        Entity::ApiKey | Entity::SecretKey | Entity::FederatedCredential => Entity::ServiceAccount,
    }
}

/// An error inside a transaction: from the database, or a domain decision that aborts it.
#[derive(Debug)]
pub(crate) enum TxError {
    Db(DieselError),
    Repo(RepoError),
    Domain(domain::Error),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<RepoError> for TxError {
    fn from(e: RepoError) -> Self {
        TxError::Repo(e)
    }
}

impl TxError {
    pub(crate) fn into_repo(self, entity: Entity) -> RepoError {
        match self {
            TxError::Db(e) => map_db(entity)(e),
            TxError::Repo(e) => e,
            TxError::Domain(e) => RepoError::Unavailable(format!("unexpected domain error in storage: {e}")),
        }
    }

    pub(crate) fn into_domain(self, entity: Entity) -> domain::Error {
        match self {
            TxError::Domain(e) => e,
            other => other.into_repo(entity).into(),
        }
    }
}
