//! The cache's rules, table by table and across both kinds: races between reads and forgets,
//! the per-thread copies, the last reads while the database cannot be reached, and replicas.

use std::cell::Cell;
use std::sync::atomic::AtomicU64;

use super::table::read;
use super::*;

const LONG: Duration = Duration::from_secs(600);

#[test]
fn a_read_that_raced_with_a_change_is_not_served() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    let reads = Cell::new(0);
    let entry = table
        .get(&1, &epochs, || {
            reads.set(reads.get() + 1);
            if reads.get() == 1 {
                // The change commits and is forgotten while this read is under way.
                table.forget(1, &epochs);
                Ok(Some("before the change"))
            } else {
                Ok(Some("after the change"))
            }
        })
        .unwrap();
    assert_eq!(entry.value, Some("after the change"));
    assert_eq!(reads.get(), 2);
    assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("after the change"));
}

#[test]
fn a_forget_drops_one_key_and_everything_drops_all() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    for key in [1, 2] {
        table.get(&key, &epochs, || Ok(Some("row"))).unwrap();
    }
    table.forget(1, &epochs);
    assert!(table.hit(&1, &epochs).is_none());
    assert!(table.hit(&2, &epochs).is_some(), "other keys stay");

    let tables = Tables::new(Windows::fresh_for(LONG));
    let id = ApiKeyId::from_uuid(uuid::Uuid::from_u128(7));
    tables.api_keys.get(&id, &tables.epochs, || Ok(None)).unwrap();
    assert!(tables.api_keys.hit(&id, &tables.epochs).is_some(), "a negative entry is cached too");
    tables.forget(Change::Everything);
    assert!(tables.api_keys.hit(&id, &tables.epochs).is_none());
}

/// Puts `value` in the shared cache as a background read would, read at `read_at`.
fn refreshed(table: &Table<u32, &'static str>, epochs: &Epochs, value: &'static str, read_at: Instant) {
    table.entries.insert(1, Arc::new(Entry { value: Some(value), read_at, epoch: epochs.now() }));
}

#[test]
fn a_thread_serves_its_own_copy_for_half_the_window_then_takes_the_shared_entry() {
    let epochs = Epochs::default();
    let window = Duration::from_secs(2);
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(window));
    table.get(&1, &epochs, || Ok(Some("first read"))).unwrap();
    assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("first read"), "remembered by this thread");
    refreshed(&table, &epochs, "read again", Instant::now());
    assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("first read"), "served from this thread's copy");
    let other = std::thread::scope(|s| s.spawn(|| table.hit(&1, &epochs).and_then(|e| e.value)).join().ok());
    assert_eq!(other.flatten(), Some("read again"), "another thread has no copy and asks the shared cache");
}

#[test]
fn an_entry_read_more_than_half_its_window_ago_is_not_copied() {
    let epochs = Epochs::default();
    let window = Duration::from_secs(10);
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(window));
    // Read six seconds ago, as if this thread had found it then: past half its window, still fresh.
    let read_at = Instant::now().checked_sub(window * 3 / 5).expect("the machine has been up for six seconds");
    refreshed(&table, &epochs, "read long ago", read_at);
    assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("read long ago"), "still fresh");
    refreshed(&table, &epochs, "read again", Instant::now());
    assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("read again"), "no copy past half the window");
}

#[test]
fn a_forget_retires_this_threads_copy_and_a_moved_epoch_retires_any_copy() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
    assert!(table.hit(&1, &epochs).is_some());
    table.forget(1, &epochs);
    assert!(table.hit(&1, &epochs).is_none(), "this thread's copy is not served after the forget");

    // A thread that found the old entry current while a forget was under way: between the
    // forget's first number and its invalidation.
    table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
    let old = table.entries.get(&1).unwrap();
    let during = epochs.next();
    table.front.remember(1, &old, during, LONG);
    table.entries.invalidate(&1);
    epochs.next();
    assert!(table.hit(&1, &epochs).is_none(), "the forget's second number retires the copy");
}

#[test]
fn unknown_keys_are_not_remembered() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    table.get(&1, &epochs, || Ok(None)).unwrap();
    assert!(table.hit(&1, &epochs).is_some_and(|e| e.value.is_none()), "the negative entry is cached");
    assert!(table.front.get(&1, epochs.now()).is_none(), "but not copied into the thread's front");
}

#[test]
fn a_stale_background_read_does_not_undo_a_forget() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
    assert!(table.claim_refresh(&1));
    table.refresh(1, &epochs, || {
        table.forget(1, &epochs);
        Ok(Some("old"))
    });
    assert!(table.hit(&1, &epochs).is_none(), "the refreshed entry predates the forget");
    assert!(table.claim_refresh(&1), "the refresh released its claim");
}

#[test]
fn the_last_read_answers_while_the_database_cannot_be_reached_until_forgotten() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> =
        Table::new(Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: Duration::ZERO });
    table.get(&1, &epochs, || Ok(Some("read"))).unwrap();
    // The entry's window passes.
    table.entries.invalidate(&1);
    assert!(table.entries.get(&1).is_none());
    assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("read"), "the last read answers");
    table.forget(1, &epochs);
    assert!(table.last_read(&1, &epochs).is_none(), "a forgotten key has no last read");

    // A forget that lands between a read's currency check and its keeping.
    let entry = read(&epochs, &|| Ok(Some("raced"))).unwrap();
    table.forget(1, &epochs);
    table.keep(&1, &entry);
    assert!(table.last_read(&1, &epochs).is_none(), "the tombstone outlives the forget's race");

    // Forgetting everything forgets the last reads too.
    table.get(&2, &epochs, || Ok(Some("two"))).unwrap();
    let windows = Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: Duration::ZERO };
    let tables = Tables { epochs, ..Tables::new(windows) };
    let id = ApiKeyId::from_uuid(uuid::Uuid::from_u128(9));
    tables.api_keys.get(&id, &tables.epochs, || Ok(None)).unwrap();
    assert!(tables.api_keys.last_read(&id, &tables.epochs).is_some());
    // The change feed listening again after a break: every key is read again, but the last
    // reads still answer while the database cannot be reached.
    tables.read_all_again();
    assert!(tables.api_keys.hit(&id, &tables.epochs).is_none(), "read again");
    assert!(tables.api_keys.last_read(&id, &tables.epochs).is_some(), "nothing is known to have changed");
    tables.forget(Change::Everything);
    assert!(tables.api_keys.last_read(&id, &tables.epochs).is_none());
}

#[test]
fn a_key_read_again_for_its_last_use_keeps_its_last_read() {
    let epochs = Epochs::default();
    let table: Table<u32, &str> =
        Table::new(Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: LONG });
    table.get(&1, &epochs, || Ok(Some("used"))).unwrap();
    table.read_again(&1, &epochs);
    assert!(table.hit(&1, &epochs).is_none(), "read again on its next lookup");
    assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("used"), "still answers in an outage");
    assert!(!table.tombstones.contains_key(&1), "nothing a replica could lack changed");
}

#[test]
fn the_last_read_answers_for_the_unavailability_window_only() {
    let epochs = Epochs::default();
    let (freshness, stale) = (Duration::from_secs(1), Duration::from_secs(30));
    let table: Table<u32, &str> =
        Table::new(Windows { freshness, stale_if_unavailable: stale, replica_lag: Duration::ZERO });
    let long_ago = Instant::now().checked_sub(freshness + stale + Duration::from_secs(1)).unwrap();
    table.keep(&1, &Arc::new(Entry { value: Some("old"), read_at: long_ago, epoch: epochs.now() }));
    assert!(table.last_read(&1, &epochs).is_none(), "read longer ago than both windows");
    let recent = Instant::now().checked_sub(freshness + stale / 2).unwrap();
    table.keep(&1, &Arc::new(Entry { value: Some("recent"), read_at: recent, epoch: epochs.now() }));
    assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("recent"));

    let none: Table<u32, &str> = Table::new(Windows::fresh_for(freshness));
    none.get(&1, &epochs, || Ok(Some("read"))).unwrap();
    assert!(none.last_read(&1, &epochs).is_none(), "no unavailability window, no last read");
}

#[test]
fn with_a_replica_a_key_is_read_from_the_primary_whenever_a_change_could_be_missing_from_it() {
    let windows = Windows { freshness: LONG, stale_if_unavailable: Duration::ZERO, replica_lag: LONG };
    let tables = Tables::new(windows);
    let (one, two) = (ApiKeyId::from_uuid(uuid::Uuid::from_u128(1)), ApiKeyId::from_uuid(uuid::Uuid::from_u128(2)));
    let needs_primary = |id: &ApiKeyId| tables.api_keys.needs_primary(id, &tables.epochs);
    assert!(needs_primary(&one), "the change feed does not listen yet");
    tables.set_listening(true);
    assert!(!needs_primary(&one) && !needs_primary(&two), "nothing changed");
    tables.forget(Change::ApiKey(one));
    assert!(needs_primary(&one) && !needs_primary(&two), "only the changed key");
    tables.read_all_again();
    assert!(needs_primary(&two), "the feed listened again: what it missed is unknown");
    tables.set_listening(false);
    let none = Table::<ApiKeyId, KeyForAuth>::new(Windows::fresh_for(LONG));
    assert!(!none.needs_primary(&one, &tables.epochs), "no replica, nothing to avoid");
}

#[test]
fn one_background_read_per_key_at_a_time() {
    let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
    assert!(table.claim_refresh(&1));
    assert!(!table.claim_refresh(&1), "a second claim waits for the first");
    assert!(table.claim_refresh(&2));
    table.release_refresh(&1);
    assert!(table.claim_refresh(&1));
}

/// The race the epochs exist for, run for real: one thread commits new versions of a key and
/// forgets it after each commit, while others look it up as authentication does (their own
/// copy, else the shared cache, else a read). A lookup that begins after a forget has
/// returned must never see a version older than the one that forget was for, whichever
/// tier answers. Bounded: a fixed number of commits, and the readers stop when they end.
#[test]
fn no_lookup_after_a_forget_sees_what_it_forgot() {
    use std::sync::atomic::AtomicBool;

    const COMMITS: u64 = 20_000;
    let epochs = Epochs::default();
    let table: Table<u32, u64> = Table::new(Windows::fresh_for(LONG));
    // The database's row, and the newest version whose forget has returned.
    let row = AtomicU64::new(0);
    let forgotten = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let lookups = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let floor = forgotten.load(Ordering::SeqCst);
                    let entry = match table.lookup(&1, &epochs) {
                        Some((entry, _)) => entry,
                        None => table.get(&1, &epochs, || Ok(Some(row.load(Ordering::SeqCst)))).unwrap(),
                    };
                    let seen = entry.value.unwrap_or_default();
                    assert!(seen >= floor, "served version {seen} after the forget of version {floor}");
                    lookups.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        s.spawn(|| {
            for version in 1..=COMMITS {
                row.store(version, Ordering::SeqCst);
                table.forget(1, &epochs);
                forgotten.store(version, Ordering::SeqCst);
                if version % 64 == 0 {
                    // Let the readers cache and copy the current version between commits.
                    std::thread::yield_now();
                }
            }
            done.store(true, Ordering::SeqCst);
        });
    });
    assert!(lookups.load(Ordering::Relaxed) > 0, "the readers ran");
}

#[test]
fn changes_travel_as_payloads() {
    let ak = Change::ApiKey(ApiKeyId::from_uuid(uuid::Uuid::from_u128(1)));
    let sk = Change::SecretKey(SecretKeyId::from_uuid(uuid::Uuid::from_u128(2)));
    for change in [ak, sk, Change::Everything] {
        assert_eq!(Change::from_payload(&change.to_payload()), change);
    }
    assert_eq!(Change::from_payload("ak:not-an-id"), Change::Everything, "unreadable means everything");
}

#[test]
fn a_waiter_learns_when_the_change_feed_listens() {
    let tables = Tables::new(Windows::fresh_for(LONG));
    assert!(!tables.wait_until_listening(Duration::ZERO), "nobody listens yet");
    let listening = std::thread::scope(|s| {
        s.spawn(|| tables.set_listening(true));
        tables.wait_until_listening(LONG)
    });
    assert!(listening, "woken by the feed, long before the limit");
    tables.set_listening(false);
    assert!(!tables.wait_until_listening(Duration::ZERO), "the feed stopped listening");
}
