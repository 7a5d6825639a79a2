//! The errors the domain reports, one enum for every operation.

use std::fmt;

/// A value from outside that is not acceptable, naming the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The name of the offending field, as the client spelled it (`name`, `metadata.team`, ...).
    pub field: String,
    /// What is wrong with it, in a sentence fragment that never repeats a secret.
    pub message: String,
}

impl ValidationError {
    /// A validation error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error, reported under another field name.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// The kinds of thing that can be missing or conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// An account.
    Account,
    /// A service account.
    ServiceAccount,
    /// An API key.
    ApiKey,
    /// A secret key.
    SecretKey,
    /// A federated credential (a trust policy for an external issuer).
    FederatedCredential,
    /// A webhook endpoint.
    Webhook,
    /// A role (a named set of permissions).
    Role,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Account => "account",
            Entity::ServiceAccount => "service account",
            Entity::ApiKey => "API key",
            Entity::SecretKey => "secret key",
            Entity::FederatedCredential => "federated credential",
            Entity::Webhook => "webhook",
            Entity::Role => "role",
        })
    }
}

/// Why a repository call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// No such row (or it lies in another account).
    #[error("{0} not found")]
    NotFound(Entity),
    /// A uniqueness rule on the name was violated.
    #[error("{0} name already taken")]
    NameTaken(Entity),
    /// The database failed or could not be reached. The text is for operators and holds no secret.
    #[error("{0}")]
    Unavailable(String),
}

/// Shorthand for repository results.
pub type RepoResult<T> = Result<T, RepoError>;

/// Why a request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not parse or breaks a rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The thing does not exist, or exists in an account the caller cannot see.
    #[error("{0} not found")]
    NotFound(Entity),
    /// The name is already taken by another thing of the same kind in the same scope.
    #[error("a {0} with this name already exists")]
    NameTaken(Entity),
    /// The caller is authenticated but lacks a scope.
    #[error("this requires the scope `{0}`")]
    Forbidden(String),
    /// The caller may not grant scopes it does not hold.
    #[error("the scope `{0}` cannot be granted by this caller")]
    ScopeNotGrantable(String),
    /// The caller tried to disable, delete or rotate the credential it is using.
    #[error("a credential cannot disable, delete or rotate itself")]
    OwnCredential,
    /// The credential cannot be used now (disabled, expired, or its service account disabled).
    #[error("the credential cannot be used: {0}")]
    Unusable(&'static str),
    /// The system account cannot be deleted or renamed away.
    #[error("the system account cannot be changed this way")]
    SystemAccount,
    /// The master key does not open what this database holds.
    #[error("the master key does not match the one this database was set up with")]
    WrongMasterKey,
    /// The database could not be reached or failed; the message holds no secret.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound(entity) => Error::NotFound(entity),
            RepoError::NameTaken(entity) => Error::NameTaken(entity),
            RepoError::Unavailable(msg) => Error::Unavailable(msg),
        }
    }
}
