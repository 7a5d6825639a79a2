//! How far an operation may go for data: the hot paths first try to answer from memory alone, so
//! that an event loop can run them without waiting for storage, and fall back to a blocking run.

use crate::error::Error;
use crate::id::ApiKeyId;
use crate::repository::{KeyForAuth, RepoError};

use super::Keyward;

/// Where an operation may look for what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// In-process caches only; never blocks.
    Memory,
    /// Storage too; may block.
    Storage,
}

/// Why an operation stopped before it had an answer.
#[derive(Debug)]
pub(crate) enum Stop {
    /// It failed.
    Failed(Error),
    /// It needs storage, and was only allowed memory.
    NeedsStorage,
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<RepoError> for Stop {
    fn from(e: RepoError) -> Self {
        Stop::Failed(e.into())
    }
}

/// The outcome of a run with [`Reach::Storage`], which never stops for want of storage.
pub(crate) fn with_storage<T>(outcome: Result<T, Stop>) -> Result<T, Error> {
    outcome.map_err(|stop| match stop {
        Stop::Failed(e) => e,
        Stop::NeedsStorage => Error::Unavailable("an operation allowed storage asked for it".to_owned()),
    })
}

/// The outcome of a run with [`Reach::Memory`]: `None` if it needs storage.
pub(crate) fn from_memory<T>(outcome: Result<T, Stop>) -> Option<Result<T, Error>> {
    match outcome {
        Ok(value) => Some(Ok(value)),
        Err(Stop::Failed(e)) => Some(Err(e)),
        Err(Stop::NeedsStorage) => None,
    }
}

impl Keyward {
    /// The API key `id` for authentication, from as far as `reach` allows.
    pub(crate) fn api_key_for_auth(&self, id: ApiKeyId, reach: Reach) -> Result<Option<KeyForAuth>, Stop> {
        match reach {
            Reach::Storage => Ok(self.repo.api_key_for_auth(id)?),
            Reach::Memory => self.repo.api_key_for_auth_in_memory(id).ok_or(Stop::NeedsStorage),
        }
    }
}
