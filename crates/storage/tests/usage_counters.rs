//! The counters of usage limits over a real database, on SQLite and on PostgreSQL: nodes that
//! share one database add up what each spent, a restarted node starts from what was written, and
//! expired counters are forgotten.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use domain::api_key::{NewApiKey, NewApiKeyPart};
use domain::key::Expiry;
use domain::limits::remaining_bucket;
use domain::limits::{Ask, Bucket, LimitName, LimitSettings, RateLimit, RemainingSetting, Spend, WindowLength};
use domain::repository::{KeyRef, UsageCounterRepository};
use domain::scope::Scopes;
use domain::service::Keyward;
use domain::service_account::NewServiceAccount;
use domain::text::{Description, Metadata, Name};
use domain::{Clock, ManualClock, SystemEntropy};
use storage::backend_tests;
use storage::testing::TestDb;

fn node(db: &TestDb, clock: &Arc<ManualClock>) -> Keyward {
    Keyward::new(Arc::new(db.store()), clock.clone(), Arc::new(SystemEntropy::new()))
}

fn nodes_add_up_their_spending_and_a_restarted_node_starts_from_it(db: TestDb) {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()));
    let (a, b) = (node(&db, &clock), node(&db, &clock));
    let boot = a.bootstrap().unwrap().unwrap();
    let root = a.authenticate(boot.admin_key.expose(), None).unwrap().unwrap();
    let acct = root.account_id;
    let sa = a
        .create_service_account(
            &root,
            acct,
            NewServiceAccount {
                name: Name::parse("metered", "name").unwrap(),
                description: Description::default(),
                active: true,
                metadata: Metadata::default(),
                limits: Default::default(),
            },
        )
        .unwrap();
    let limits = LimitSettings {
        rate_limits: vec![RateLimit {
            name: LimitName::parse("requests", "name").unwrap(),
            limit: 100,
            window: WindowLength::parse(3600, "window").unwrap(),
            auto_apply: true,
            strict: false,
        }],
        remaining: Some(RemainingSetting { uses: 10, refill: None }),
        permissions: Default::default(),
        roles: Default::default(),
    };
    let new = NewApiKey {
        part: NewApiKeyPart { limits, ..Default::default() },
        ..NewApiKey::new(Name::parse("key", "name").unwrap(), Scopes::default(), Expiry::Never)
    };
    let key = a.create_key(&root, acct, sa.id, new).unwrap();
    let verify = |kw: &Keyward| {
        let v = kw.verify_api_key(&root, key.secret.expose(), &Scopes::default(), &Ask::default()).unwrap();
        v.limits.and_then(|l| l.remaining)
    };

    for _ in 0..4 {
        verify(&a);
    }
    assert_eq!(verify(&b), Some(9), "before a flush, a node knows only its own spending");
    assert_eq!(a.flush_limits().unwrap(), 2, "the rate limit's window and the uses left");
    b.flush_limits().unwrap();
    a.flush_limits().unwrap();
    assert_eq!(verify(&a), Some(4), "a node reads back everyone's counts at its flush: 4 + 1 + 1");
    assert_eq!(verify(&b), Some(4), "nor does the other know of that one use, not yet written");
    b.flush_limits().unwrap();
    a.flush_limits().unwrap();

    let restarted = node(&db, &clock);
    assert_eq!(verify(&restarted), Some(2), "a new node starts from what was written: 7 uses");
    assert_eq!(verify(&restarted), Some(1));
    assert_eq!(verify(&restarted), Some(0));
    let refused = restarted.verify_api_key(&root, key.secret.expose(), &Scopes::default(), &Ask::default()).unwrap();
    assert_eq!(refused.outcome.err().map(|r| r.code()), Some("USAGE_EXCEEDED"));

    // Deleting the key deletes its counters: its uses left, which no refill would ever expire.
    let owner = format!("key:{}", key.key.id);
    let (left, _) = remaining_bucket(&owner, key.key.part.limits.remaining.as_ref().unwrap(), clock.now());
    let store = db.store();
    restarted.flush_limits().unwrap();
    assert_eq!(store.spent(std::slice::from_ref(&left)).unwrap(), vec![(left.clone(), 10)]);
    a.delete_key(&root, acct, sa.id, &KeyRef::Id(key.key.id)).unwrap();
    assert_eq!(store.spent(&[left]).unwrap(), vec![], "gone with the key");
}

fn counters_add_and_expired_ones_are_forgotten(db: TestDb) {
    let store = db.store();
    let (x, y) = (Bucket::new("x".to_owned()), Bucket::new("y".to_owned()));
    let spend = |bucket: &Bucket, amount, expires_at| Spend { bucket: bucket.clone(), amount, expires_at };
    store.add_spent(&[spend(&x, 2, Some(100)), spend(&y, 5, None)]).unwrap();
    store.add_spent(&[spend(&x, 3, Some(100))]).unwrap();
    let mut read = store.spent(&[x.clone(), y.clone(), Bucket::new("never".to_owned())]).unwrap();
    read.sort();
    assert_eq!(read, vec![(x.clone(), 5), (y.clone(), 5)], "a bucket never written is left out");
    assert_eq!(store.forget_spent_before(101).unwrap(), 1);
    assert_eq!(store.spent(&[x, y.clone()]).unwrap(), vec![(y, 5)], "one without an expiry stays");
}

backend_tests!(
    nodes_add_up_their_spending_and_a_restarted_node_starts_from_it,
    counters_add_and_expired_ones_are_forgotten,
);
