//! Group commit for SQLite. Write transactions commit with `synchronous = NORMAL`, which writes
//! the commit to the write-ahead log without waiting for the disk; each writer then waits here
//! until one `fsync` of the log that began after its commit has finished. Writers that commit
//! while an `fsync` runs share the next one, so under concurrent load one `fsync` makes many
//! commits durable. A write is acknowledged only after its `fsync`, so it survives a crash of the
//! process or of the machine, as with `synchronous = FULL`, which pays one `fsync` per commit.
//!
//! SQLite itself syncs the log before every checkpoint and the database after it (that is what
//! `NORMAL` keeps), so frames that a checkpoint moved out of the log are durable too.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Makes committed SQLite transactions durable, several at a time.
#[derive(Debug)]
pub(crate) struct GroupSync {
    wal: PathBuf,
    state: Mutex<State>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Commits so far (each writer counts its own after its commit returned).
    committed: u64,
    /// Commits known to be on disk.
    durable: u64,
    /// Whether an `fsync` is under way.
    syncing: bool,
}

impl GroupSync {
    /// Group commit for the SQLite database at `path`.
    pub(crate) fn new(path: &str) -> Self {
        Self { wal: PathBuf::from(format!("{path}-wal")), state: Mutex::default(), synced: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once the transaction this thread has just committed is on disk.
    pub(crate) fn wait_durable(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.committed += 1;
        let mine = state.committed;
        loop {
            if state.durable >= mine {
                return Ok(());
            }
            if state.syncing {
                state = self.synced.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead: sync every commit counted so far.
            state.syncing = true;
            let target = state.committed;
            drop(state);
            let outcome = sync(&self.wal);
            state = self.lock();
            state.syncing = false;
            if outcome.is_ok() {
                state.durable = state.durable.max(target);
            }
            self.synced.notify_all();
            outcome?;
        }
    }
}

/// `fdatasync` of the log. No log file means SQLite checkpointed it into the database (which it
/// synced) and removed it: nothing is left to sync.
fn sync(wal: &PathBuf) -> io::Result<()> {
    match File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn every_waiter_returns_once_synced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kw.db");
        std::fs::write(dir.path().join("kw.db-wal"), b"frames").unwrap();
        let group = Arc::new(GroupSync::new(&db.display().to_string()));
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let group = group.clone();
                std::thread::spawn(move || (0..50).try_for_each(|_| group.wait_durable()))
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let state = group.lock();
        assert_eq!(state.committed, 400);
        assert_eq!(state.durable, 400, "every counted commit was synced");
        assert!(!state.syncing);
    }

    #[test]
    fn a_missing_log_needs_no_sync_and_other_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = GroupSync::new(&dir.path().join("none.db").display().to_string());
        assert!(missing.wait_durable().is_ok());
        // A log that cannot be opened (here: its parent is a file) is an error, never a silent success.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let broken = GroupSync::new(&file.join("kw.db").display().to_string());
        assert!(broken.wait_durable().is_err());
    }
}
