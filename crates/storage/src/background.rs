//! Background threads that are stopped, and waited for, when their owner is dropped.
//!
//! A thread still using a PostgreSQL connection while the process exits can crash it: libpq's TLS
//! (OpenSSL) is torn down by exit handlers while the thread is inside it. So the threads that
//! hold connections (the change feed, the cache's background reader) are asked to stop when the
//! store is dropped, and the store waits a bounded time for them to close their connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long a drop waits for its thread; a thread stuck in a network call is not waited for longer.
const WAIT: Duration = Duration::from_secs(2);

/// A background thread's stop flag and its end.
#[derive(Debug)]
pub(crate) struct Background {
    stop: Arc<AtomicBool>,
    /// In a mutex only so that the owner stays `Sync`; touched once, on drop.
    ended: std::sync::Mutex<mpsc::Receiver<()>>,
}

/// What the thread holds: the flag to check, and (dropped with the thread) the signal of its end.
#[derive(Debug)]
pub(crate) struct StopSignal {
    stop: Arc<AtomicBool>,
    _ended: mpsc::Sender<()>,
}

impl StopSignal {
    /// Whether the owner asked the thread to stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Spawns `body` on a thread named `name`; `None` (logged) if the thread cannot be made. The end
/// is signalled only after `body` and everything it captured (a pool, a connection) are dropped,
/// so that a waiting owner knows the thread is done with the database.
pub(crate) fn spawn(name: &str, body: impl FnOnce(&StopSignal) + Send + 'static) -> Option<Background> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ended_tx, ended) = mpsc::channel();
    let signal = StopSignal { stop: stop.clone(), _ended: ended_tx };
    let run = move || {
        body(&signal); // Consumes `body`: its captures are dropped here...
        drop(signal); // ...before the end is signalled.
    };
    match std::thread::Builder::new().name(name.to_owned()).spawn(run) {
        Ok(_) => Some(Background { stop, ended: std::sync::Mutex::new(ended) }),
        Err(e) => {
            tracing::warn!(error = %e, thread = name, "cannot start a background thread");
            None
        }
    }
}

impl Background {
    /// Asks the thread to stop, without waiting.
    pub(crate) fn ask_to_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.ask_to_stop();
        // The thread's end drops its sender: `recv` then returns at once.
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        let _ = ended.recv_timeout(WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn dropping_stops_the_thread_and_waits_for_its_end() {
        let (closed_tx, closed) = mpsc::channel();
        let bg = spawn("test-bg", move |signal: &StopSignal| {
            while !signal.stopped() {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50)); // Closing a connection, say.
            closed_tx.send(()).unwrap();
        })
        .unwrap();
        let start = Instant::now();
        drop(bg);
        assert!(closed.try_recv().is_ok(), "the drop returned before the thread finished");
        assert!(start.elapsed() < WAIT, "and did not wait for nothing");
    }

    #[test]
    fn a_stuck_thread_is_waited_for_a_bounded_time() {
        let bg = spawn("test-stuck", |_signal: &StopSignal| std::thread::sleep(Duration::from_secs(30))).unwrap();
        let start = Instant::now();
        drop(bg);
        assert!(start.elapsed() < WAIT + Duration::from_secs(1));
    }
}
