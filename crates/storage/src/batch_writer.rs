//! Batched writes for SQLite: one thread runs the small write transactions of many requests as
//! savepoints of one transaction, commits once, syncs the log once, and only then answers each
//! request.
//!
//! SQLite has one writer at a time. Without this, every key creation took the writer lock, began,
//! committed, and waited for the group `fsync` on its own thread: under 64 concurrent creations,
//! a quarter of the CPU went to handing the lock and the wake-ups between threads. Here the
//! requests queue, and the writer takes everything queued as one batch. A request whose own
//! statements fail (a name already taken) is rolled back to its savepoint and answered with its
//! error; the others commit. If the batch's commit or its `fsync` fails, every request in it is
//! answered with that failure: nothing is acknowledged before it is durable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::Connection;
use diesel::r2d2::Pool;
use domain::repository::RepoError;

use crate::background::{self, Background, StopSignal};
use crate::connection::{DbConnection, Manager};
use crate::error::TxError;
use crate::group_sync::GroupSync;

/// The most requests in one transaction; beyond it the rest wait for the next batch.
const MAX_BATCH: usize = 256;

/// Answers one request once its batch's fate is known.
type Deliver = Box<dyn FnOnce(Result<(), RepoError>) + Send>;
/// One request's statements, run inside the batch's transaction.
type Job = Box<dyn FnOnce(&mut DbConnection) -> Deliver + Send>;

/// What the writer thread shares with the store.
pub(crate) struct Shared {
    pub(crate) pool: Pool<Manager>,
    /// The store's SQLite writer lock: writes that do not come through here take it too.
    pub(crate) writer: Arc<Mutex<()>>,
    pub(crate) sync: Arc<GroupSync>,
    pub(crate) commits: Arc<AtomicU64>,
}

/// The queue of batched writes and its thread.
pub(crate) struct BatchWriter {
    jobs: Sender<Job>,
    /// Dropping it stops the thread and waits for it.
    _thread: Background,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchWriter")
    }
}

impl BatchWriter {
    /// Starts the writer thread; `None` if it cannot be started (writes then run one by one).
    pub(crate) fn start(shared: Shared) -> Option<Self> {
        let (jobs, queue) = channel::<Job>();
        let thread = background::spawn("keyward-writer", move |signal: &StopSignal| write(&shared, &queue, signal))?;
        Some(Self { jobs, _thread: thread })
    }

    /// Runs `f` in the next batch and returns its result once the batch is durable.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError> + Send + 'static,
    ) -> Result<T, TxError> {
        let (answer, answered) = sync_channel(1);
        let job: Job = Box::new(move |c: &mut DbConnection| {
            // A savepoint inside the batch's transaction.
            let done = c.transaction(f);
            Box::new(move |committed: Result<(), RepoError>| {
                let outcome = match (done, committed) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(TxError::Repo(e)),
                    (Ok(value), Ok(())) => Ok(value),
                };
                let _ = answer.send(outcome);
            })
        });
        let lost =
            || TxError::Repo(RepoError::Unavailable("the write could not be completed; nothing was written".into()));
        self.jobs.send(job).map_err(|_| lost())?;
        answered.recv().map_err(|_| lost())?
    }
}

/// The writer thread: takes what is queued, runs it as one transaction, syncs, answers.
fn write(shared: &Shared, queue: &Receiver<Job>, signal: &StopSignal) {
    loop {
        if signal.stopped() {
            return;
        }
        let first = match queue.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = commit(shared, batch, &mut answers);
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Runs `batch` in one transaction and makes it durable. A job that panics aborts the whole
/// batch: its savepoint may be left open, and nothing of a batch is kept unless all of it is sound.
/// Jobs that never ran (no connection) are dropped, and their requests get an error.
fn commit(shared: &Shared, batch: Vec<Job>, answers: &mut Vec<Deliver>) -> Result<(), RepoError> {
    let mut conn =
        shared.pool.get().map_err(|e| RepoError::Unavailable(format!("no database connection available: {e}")))?;
    let guard = shared.writer.lock().unwrap_or_else(|p| p.into_inner());
    let outcome = conn.transaction::<_, TxError, _>(|c| {
        for job in batch {
            match catch_unwind(AssertUnwindSafe(|| job(c))) {
                Ok(answer) => answers.push(answer),
                Err(_) => {
                    tracing::error!("a batched write panicked; its whole batch is rolled back");
                    return Err(TxError::Repo(RepoError::Unavailable(
                        "the write failed inside Keyward; nothing was written".into(),
                    )));
                }
            }
        }
        Ok(())
    });
    drop(guard);
    if let Err(e) = outcome {
        conn.suspect();
        return Err(e.into_repo(domain::error::Entity::ApiKey));
    }
    shared.commits.fetch_add(1, Ordering::Relaxed);
    shared.sync.wait_durable().map_err(|e| {
        tracing::error!(error = %e, "syncing the SQLite log failed");
        RepoError::Unavailable(format!("syncing the database to disk failed: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use domain::error::Entity;

    use crate::testing::TestDb;

    #[test]
    fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let db = TestDb::sqlite();
        let store = db.store();
        let panicked = store.write_batched(Entity::Account, |_| -> Result<(), crate::error::TxError> {
            panic!("a bug in a write");
        });
        assert!(panicked.is_err(), "the request gets an error, not a hang");
        let before = store.commits();
        store
            .write_batched(Entity::Account, |c| {
                c.batch_execute("INSERT INTO settings (name, value) VALUES ('batched', x'01')")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(store.commits(), before + 1, "the next write commits in a batch of its own");
        let failed = store.write_batched(Entity::Account, |c| {
            c.batch_execute("INSERT INTO settings (name, value) VALUES ('batched', x'02')")?;
            Ok(())
        });
        assert!(failed.is_err(), "a write that breaks a constraint gets its own error");
    }
}
