//! What a node has spent of each limit, in memory: counts from storage plus what this node spent
//! since, so that a verification decides without waiting for storage, and a flush that adds this
//! node's spending to storage and reads back everyone's.

use std::collections::HashMap;
use std::sync::Mutex;

/// A counter's name: what is limited, and which window or period of it.
///
/// `rate:<owner>:<limit>:<window seconds>:<window start>` for a key's rate limit,
/// `left:<owner>:<period start, microseconds>` for its uses left, and
/// `ns:<account>:<namespace>:<window seconds>:<window start>:<identifier>` for the standalone limiter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bucket(String);

impl Bucket {
    /// A bucket named `name`, as built by the functions of [`crate::limits`].
    pub fn new(name: String) -> Self {
        Self(name)
    }

    /// Its name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a strict limit asks of the database: add `cost` to `bucket` only if its count stays
/// within `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictSpend {
    /// The bucket.
    pub bucket: Bucket,
    /// The cost to add.
    pub cost: u64,
    /// The most the bucket may count.
    pub limit: u64,
    /// When its count may be forgotten (seconds since the Unix epoch).
    pub expires_at: Option<i64>,
}

/// What a node spent of one bucket and has not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    /// The bucket.
    pub bucket: Bucket,
    /// How much to add to its stored count.
    pub amount: u64,
    /// When its count may be forgotten (seconds since the Unix epoch), if ever.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Everyone's spending as storage last answered it.
    known: u64,
    /// This node's spending being written now.
    in_flight: u64,
    /// This node's spending since.
    unflushed: u64,
    expires_at: Option<i64>,
}

impl Entry {
    fn count(&self) -> u64 {
        self.known.saturating_add(self.in_flight).saturating_add(self.unflushed)
    }
}

/// The counts of every bucket this node has used, with what it has spent of each.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<HashMap<Bucket, Entry>>,
}

impl Ledger {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Bucket, Entry>> {
        // A panic while holding the lock leaves counts that are still counts.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides with the counts of `buckets`, all at once: `decide` gets them in order and answers
    /// its verdict and, if it spends, what to add to each. Answers the buckets not loaded yet
    /// instead, when there are any; load them with [`Ledger::load`] and ask again.
    pub fn decide<T>(
        &self,
        buckets: &[(Bucket, Option<i64>)],
        decide: impl FnOnce(&[u64]) -> (T, Option<Vec<u64>>),
    ) -> Result<T, Vec<Bucket>> {
        let mut entries = self.entries();
        let mut counts = Vec::with_capacity(buckets.len());
        let mut missing = Vec::new();
        for (bucket, _) in buckets {
            match entries.get(bucket) {
                Some(entry) => counts.push(entry.count()),
                None => missing.push(bucket.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let (verdict, spend) = decide(&counts);
        for ((bucket, expires_at), amount) in buckets.iter().zip(spend.unwrap_or_default()) {
            if let Some(entry) = entries.get_mut(bucket) {
                entry.unflushed = entry.unflushed.saturating_add(amount);
                entry.expires_at = *expires_at;
            }
        }
        Ok(verdict)
    }

    /// Takes counts read from storage for buckets not yet in memory; a bucket already loaded
    /// keeps its own.
    pub fn load(&self, counts: impl IntoIterator<Item = (Bucket, u64, Option<i64>)>) {
        let mut entries = self.entries();
        for (bucket, known, expires_at) in counts {
            entries.entry(bucket).or_insert(Entry { known, expires_at, ..Entry::default() });
        }
    }

    /// What this node spent since the last flush, marked as being written, and every bucket still
    /// in use (whose counts the flush reads back). Buckets past their expiry at `now` (seconds
    /// since the Unix epoch) with nothing left to write are forgotten.
    pub fn take_unflushed(&self, now: i64) -> (Vec<Spend>, Vec<Bucket>) {
        let mut entries = self.entries();
        entries.retain(|_, e| e.unflushed > 0 || e.in_flight > 0 || e.expires_at.is_none_or(|at| at > now));
        let mut spends = Vec::new();
        let mut live = Vec::with_capacity(entries.len());
        for (bucket, entry) in entries.iter_mut() {
            if entry.unflushed > 0 {
                entry.in_flight = entry.in_flight.saturating_add(entry.unflushed);
                spends.push(Spend { bucket: bucket.clone(), amount: entry.unflushed, expires_at: entry.expires_at });
                entry.unflushed = 0;
            }
            live.push(bucket.clone());
        }
        (spends, live)
    }

    /// The flush wrote what was taken and read `totals` back: they are everyone's counts now.
    pub fn settle(&self, totals: impl IntoIterator<Item = (Bucket, u64)>) {
        let mut entries = self.entries();
        for entry in entries.values_mut() {
            // Written, whether or not it was read back: it is ours until storage says more.
            entry.known = entry.known.saturating_add(entry.in_flight);
            entry.in_flight = 0;
        }
        for (bucket, total) in totals {
            if let Some(entry) = entries.get_mut(&bucket) {
                entry.known = entry.known.max(total);
            }
        }
    }

    /// Gives back what a decision spent, when a strict limit then refused the verification.
    /// Only what is not yet being written can be given back: a flush that took it meanwhile
    /// writes it, and the count is then higher than it should be, never lower.
    pub fn refund(&self, buckets: &[(Bucket, Option<i64>)], amounts: &[u64]) {
        let mut entries = self.entries();
        for ((bucket, _), amount) in buckets.iter().zip(amounts) {
            if let Some(entry) = entries.get_mut(bucket) {
                entry.unflushed = entry.unflushed.saturating_sub(*amount);
            }
        }
    }

    /// The flush failed to write what was taken: it is spent still, and written next time.
    pub fn restore(&self) {
        for entry in self.entries().values_mut() {
            entry.unflushed = entry.unflushed.saturating_add(entry.in_flight);
            entry.in_flight = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str) -> Bucket {
        Bucket::new(name.to_owned())
    }

    /// Spends `cost` on `bucket` if the count stays within `limit`.
    fn spend(ledger: &Ledger, bucket: &str, cost: u64, limit: u64) -> Result<bool, Vec<Bucket>> {
        ledger.decide(&[(b(bucket), Some(100))], |counts| {
            let fits = counts[0] + cost <= limit;
            (fits, fits.then(|| vec![cost]))
        })
    }

    #[test]
    fn a_bucket_is_loaded_before_it_decides_and_then_counts_what_it_spent() {
        let ledger = Ledger::default();
        assert_eq!(spend(&ledger, "x", 1, 3), Err(vec![b("x")]));
        ledger.load([(b("x"), 2, Some(100))]);
        assert_eq!(spend(&ledger, "x", 1, 3), Ok(true));
        assert_eq!(spend(&ledger, "x", 1, 3), Ok(false), "2 stored and 1 spent here fill a limit of 3");
    }

    #[test]
    fn a_flush_writes_each_spend_once_and_reads_back_everyones_counts() {
        let ledger = Ledger::default();
        ledger.load([(b("x"), 0, Some(100))]);
        assert_eq!(spend(&ledger, "x", 2, 10), Ok(true));
        let (spends, live) = ledger.take_unflushed(0);
        assert_eq!(spends, vec![Spend { bucket: b("x"), amount: 2, expires_at: Some(100) }]);
        assert_eq!(live, vec![b("x")]);
        assert_eq!(spend(&ledger, "x", 1, 10), Ok(true), "spending goes on during a flush");
        // Storage now holds our 2 and another node's 5.
        ledger.settle([(b("x"), 7)]);
        assert_eq!(spend(&ledger, "x", 3, 10), Ok(false), "7 stored and 1 unwritten leave 2");
        assert_eq!(ledger.take_unflushed(0).0[0].amount, 1, "only what was not yet written");
    }

    #[test]
    fn a_failed_flush_keeps_what_was_spent_for_the_next() {
        let ledger = Ledger::default();
        ledger.load([(b("x"), 0, Some(100))]);
        assert_eq!(spend(&ledger, "x", 4, 10), Ok(true));
        let _ = ledger.take_unflushed(0);
        ledger.restore();
        assert_eq!(spend(&ledger, "x", 7, 10), Ok(false), "the 4 still count");
        assert_eq!(ledger.take_unflushed(0).0[0].amount, 4);
    }

    #[test]
    fn an_expired_bucket_is_forgotten_once_nothing_is_left_to_write() {
        let ledger = Ledger::default();
        ledger.load([(b("x"), 0, Some(100)), (b("forever"), 0, None)]);
        assert_eq!(spend(&ledger, "x", 1, 10), Ok(true));
        let (spends, _) = ledger.take_unflushed(200);
        assert_eq!(spends.len(), 1, "an expired bucket's last spending is still written");
        ledger.settle([]);
        let (_, live) = ledger.take_unflushed(200);
        assert_eq!(live, vec![b("forever")]);
    }
}
