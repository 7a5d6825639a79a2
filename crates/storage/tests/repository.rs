//! The repository suite: the domain's operations over a real database, run on SQLite and on
//! PostgreSQL, each test in its own database.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use domain::account::{AccountChanges, NewAccount};
use domain::api_key::{NewApiKey, RetainPeriod};
use domain::audit::Action;
use domain::credential::{Credential, CredentialKind};
use domain::error::{Entity, Error};
use domain::id::{AccountId, ServiceAccountId};
use domain::key::Expiry;
use domain::key::Rejection;
use domain::page::{CursorCodec, Direction, Limit, PageRequest};
use domain::principal::Principal;
use domain::repository::{AuditQuery, KeyRef, ServiceAccountQuery, ServiceAccountSort};
use domain::scope::Scopes;
use domain::sealing::Sealer;
use domain::secret_key::NewSecretKey;
use domain::service::{Keyward, TokenTerms};
use domain::service_account::{NewServiceAccount, ServiceAccountChanges};
use domain::text::{Description, Metadata, Name};
use domain::usage::{Granularity, UsageWindow};
use domain::{ManualClock, SeededEntropy, SystemEntropy};
use storage::backend_tests;
use storage::testing::TestDb;

struct Fixture {
    kw: Keyward,
    clock: Arc<ManualClock>,
    root: Principal,
    _db: TestDb,
}

impl Fixture {
    /// Enables or disables the service account `sa` of `account`, as the root key.
    fn set_active(&self, account: AccountId, sa: ServiceAccountId, on: bool) {
        let change = ServiceAccountChanges { active: Some(on), ..Default::default() };
        self.kw.update_service_account(&self.root, account, sa, change).unwrap();
    }
}

fn fixture(db: TestDb) -> Fixture {
    let store = Arc::new(db.store());
    fixture_on(db, store)
}

/// A fixture whose cached key lookups stay fresh for ten minutes: for the tests of what a change
/// makes the cache forget, which a slow machine must not pass or fail by time alone.
fn fixture_long_cached(db: TestDb) -> Fixture {
    let store = Arc::new(db.store_fresh_for(std::time::Duration::from_secs(600)));
    fixture_on(db, store)
}

fn fixture_on(db: TestDb, store: Arc<storage::Store>) -> Fixture {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()));
    let kw = Keyward::new(store, clock.clone(), Arc::new(SystemEntropy::new()));
    let boot = kw.bootstrap().unwrap().expect("a fresh database bootstraps");
    let root = kw.authenticate(boot.admin_key.expose(), None).unwrap().unwrap();
    Fixture { kw, clock, root, _db: db }
}

fn name(s: &str) -> Name {
    Name::parse(s, "name").unwrap()
}

fn new_sa(n: &str) -> NewServiceAccount {
    NewServiceAccount {
        name: name(n),
        description: Description::default(),
        active: true,
        metadata: Metadata::default(),
        limits: Default::default(),
    }
}

fn new_key(n: &str, scopes: &[&str]) -> NewApiKey {
    NewApiKey::new(name(n), Scopes::parse(scopes, "scopes").unwrap(), Expiry::Never)
}

fn bootstrap_happens_once(db: TestDb) {
    let f = fixture(db);
    assert!(f.kw.bootstrap().unwrap().is_none(), "a second bootstrap changes nothing");
    assert!(f.root.is_system_admin());
    let accounts = f.kw.list_accounts(&f.root, &PageRequest::default()).unwrap();
    assert_eq!(accounts.items.len(), 1);
    assert!(accounts.items[0].system);
}

fn account_names_are_unique_and_conflicts_change_nothing(db: TestDb) {
    let f = fixture(db);
    f.kw.create_account(&f.root, NewAccount { name: name("acme") }).unwrap();
    let err = f.kw.create_account(&f.root, NewAccount { name: name("acme") }).unwrap_err();
    assert!(matches!(err, Error::NameTaken(Entity::Account)), "{err:?}");
    let all = f.kw.list_accounts(&f.root, &PageRequest::default()).unwrap();
    assert_eq!(all.items.len(), 2);
    let creates =
        f.kw.list_audit_events(
            &f.root,
            f.root.account_id,
            &AuditQuery { action: Some(Action::AccountCreate), ..Default::default() },
        )
        .unwrap();
    assert_eq!(creates.items.len(), 2, "the bootstrap's and acme's, not the refused one");
}

fn accounts_can_be_renamed_and_deleted_with_everything_inside(db: TestDb) {
    let f = fixture(db);
    let acme = f.kw.create_account(&f.root, NewAccount { name: name("acme") }).unwrap();
    let sa = f.kw.create_service_account(&f.root, acme.id, new_sa("worker")).unwrap();
    let key = f.kw.create_key(&f.root, acme.id, sa.id, new_key("k", &["metrics:read"])).unwrap();
    f.clock.advance(Duration::seconds(5));
    let renamed = f.kw.update_account(&f.root, acme.id, AccountChanges { name: Some(name("acme-corp")) }).unwrap();
    assert_eq!(renamed.name.as_str(), "acme-corp");
    assert!(renamed.updated_at > renamed.created_at);
    assert_eq!(f.kw.get_account(&f.root, acme.id).unwrap(), renamed);
    f.kw.delete_account(&f.root, acme.id).unwrap();
    assert!(matches!(f.kw.get_account(&f.root, acme.id), Err(Error::NotFound(Entity::Account))));
    assert_eq!(f.kw.authenticate(key.secret.expose(), None).unwrap().unwrap_err(), Rejection::NotFound);
    assert!(matches!(f.kw.delete_account(&f.root, f.root.account_id), Err(Error::SystemAccount)));
}

/// A key is created after one read of its service account and owner: the refusal still names what
/// is missing, and nothing is written.
fn creating_a_key_names_the_missing_owner(db: TestDb) {
    let f = fixture(db);
    let acme = f.kw.create_account(&f.root, NewAccount { name: name("acme") }).unwrap();
    let sa = f.kw.create_service_account(&f.root, acme.id, new_sa("deploy")).unwrap();
    let root_sa = f.kw.create_service_account(&f.root, f.root.account_id, new_sa("ops")).unwrap();
    let nowhere = domain::id::AccountId::from_uuid(uuid::Uuid::new_v4());
    let no_sa = domain::id::ServiceAccountId::from_uuid(uuid::Uuid::new_v4());
    let attempts = [
        (nowhere, sa.id, Entity::Account),
        (acme.id, no_sa, Entity::ServiceAccount),
        // A real service account, addressed under another account.
        (acme.id, root_sa.id, Entity::ServiceAccount),
    ];
    for (account, owner, missing) in attempts {
        let err = f.kw.create_key(&f.root, account, owner, new_key("k", &[])).unwrap_err();
        assert!(matches!(err, Error::NotFound(e) if e == missing), "API key in {account}/{owner}: {err:?}");
        let new = NewSecretKey::new(name("k"), Scopes::default(), Expiry::Never);
        let err = f.kw.create_key(&f.root, account, owner, new).unwrap_err();
        assert!(matches!(err, Error::NotFound(e) if e == missing), "secret key in {account}/{owner}: {err:?}");
    }
    assert!(f.kw.list_api_keys(&f.root, acme.id, sa.id, Default::default()).unwrap().items.is_empty());
    assert!(f.kw.list_secret_keys(&f.root, acme.id, sa.id, &PageRequest::default()).unwrap().items.is_empty());
    let made = f.kw.create_key(&f.root, acme.id, sa.id, new_key("k", &[])).unwrap();
    assert_eq!(made.key.service_account_id, sa.id);
}

/// Creations from many threads at once (on SQLite they share batches: one transaction, one
/// `fsync`): each is answered with its own outcome, a name taken inside the same batch fails
/// alone, and everything acknowledged is there.
fn concurrent_creations_each_get_their_own_answer(db: TestDb) {
    let f = Arc::new(fixture(db));
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("busy")).unwrap();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || {
                // Every third thread asks for the same name; the others for their own.
                let n = if i % 3 == 0 { "same".to_owned() } else { format!("own-{i}") };
                let api = f.kw.create_key(&f.root, acct, sa.id, new_key(&n, &[]));
                let new = NewSecretKey::new(name(&n), Scopes::default(), Expiry::Never);
                let secret = f.kw.create_key(&f.root, acct, sa.id, new);
                (n, api, secret)
            })
        })
        .collect();
    let mut made = Vec::new();
    let (mut same_api, mut same_secret) = (0, 0);
    for t in threads {
        let (n, api, secret) = t.join().unwrap();
        match api {
            Ok(k) => {
                same_api += usize::from(n == "same");
                made.push(k);
            }
            Err(e) => assert!(n == "same" && matches!(e, Error::NameTaken(Entity::ApiKey)), "{n}: {e:?}"),
        }
        match secret {
            Ok(_) => same_secret += usize::from(n == "same"),
            Err(e) => assert!(n == "same" && matches!(e, Error::NameTaken(Entity::SecretKey)), "{n}: {e:?}"),
        }
    }
    assert_eq!((same_api, same_secret), (1, 1), "exactly one of each kind got the shared name");
    assert_eq!(made.len(), 17);
    for k in &made {
        assert!(f.kw.authenticate(k.secret.expose(), None).unwrap().is_ok(), "an acknowledged key works");
    }
    let page = PageRequest { limit: Limit::parse("100").unwrap(), ..PageRequest::default() };
    assert_eq!(f.kw.list_secret_keys(&f.root, acct, sa.id, &page).unwrap().items.len(), 17);
}

fn service_accounts_round_trip_and_update(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let mut meta = BTreeMap::new();
    meta.insert("team".to_owned(), "payments".to_owned());
    let created =
        f.kw.create_service_account(
            &f.root,
            acct,
            NewServiceAccount {
                name: name("billing"),
                description: Description::parse("Bills people", "description").unwrap(),
                active: true,
                metadata: Metadata::parse(meta, "metadata").unwrap(),
                limits: Default::default(),
            },
        )
        .unwrap();
    assert_eq!(f.kw.get_service_account(&f.root, acct, created.id).unwrap(), created);
    let dup = f.kw.create_service_account(&f.root, acct, new_sa("billing")).unwrap_err();
    assert!(matches!(dup, Error::NameTaken(Entity::ServiceAccount)));
    f.clock.advance(Duration::seconds(1));
    let updated =
        f.kw.update_service_account(
            &f.root,
            acct,
            created.id,
            ServiceAccountChanges { active: Some(false), ..Default::default() },
        )
        .unwrap();
    assert!(!updated.active);
    assert_eq!(updated.name, created.name);
    assert_eq!(updated.metadata, created.metadata);
    assert_eq!(f.kw.get_service_account(&f.root, acct, created.id).unwrap(), updated);
    let clash =
        f.kw.update_service_account(
            &f.root,
            acct,
            created.id,
            ServiceAccountChanges { name: Some(name("root")), ..Default::default() },
        )
        .unwrap_err();
    assert!(matches!(clash, Error::NameTaken(Entity::ServiceAccount)));
    assert_eq!(
        f.kw.get_service_account(&f.root, acct, created.id).unwrap(),
        updated,
        "a refused update changes nothing"
    );
}

fn service_account_lists_page_stably_in_every_order(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    for n in ["delta", "alpha", "echo", "charlie", "bravo"] {
        f.clock.advance(Duration::milliseconds(3));
        f.kw.create_service_account(&f.root, acct, new_sa(n)).unwrap();
    }
    let codec = CursorCodec::new(b"test");
    for (sort, direction, expected) in [
        (ServiceAccountSort::Name, Direction::Asc, vec!["alpha", "bravo", "charlie", "delta", "echo", "root"]),
        (ServiceAccountSort::Name, Direction::Desc, vec!["root", "echo", "delta", "charlie", "bravo", "alpha"]),
        (ServiceAccountSort::CreatedAt, Direction::Asc, vec!["root", "delta", "alpha", "echo", "charlie", "bravo"]),
        (ServiceAccountSort::CreatedAt, Direction::Desc, vec!["bravo", "charlie", "echo", "alpha", "delta", "root"]),
    ] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = ServiceAccountQuery {
                sort,
                direction,
                page: PageRequest { limit: Limit::parse("2").unwrap(), after, skip: 0, may_lag: false },
                ..Default::default()
            };
            let page = f.kw.list_service_accounts(&f.root, acct, &q).unwrap();
            seen.extend(page.items.iter().map(|sa| sa.name.as_str().to_owned()));
            // A row inserted mid-listing must not make the listing repeat or skip anything it had.
            if seen.len() == 2 && sort == ServiceAccountSort::Name {
                let extra = f.kw.create_service_account(&f.root, acct, new_sa(&format!("aaa-{}", seen.len()))).unwrap();
                f.kw.delete_service_account(&f.root, acct, extra.id).unwrap();
            }
            match page.next {
                Some(pos) => after = Some(codec.decode("l", &codec.encode("l", &pos)).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{sort:?} {direction:?}");
    }
    let only_root = ServiceAccountQuery { name: Some(name("root")), ..Default::default() };
    assert_eq!(f.kw.list_service_accounts(&f.root, acct, &only_root).unwrap().items.len(), 1);
    let inactive = ServiceAccountQuery { active: Some(false), ..Default::default() };
    assert!(f.kw.list_service_accounts(&f.root, acct, &inactive).unwrap().items.is_empty());
}

fn api_keys_authenticate_until_their_owner_or_expiry_says_otherwise(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("worker")).unwrap();
    let mut spec = new_key("deploy", &["service-accounts:read"]);
    spec.expiry = Expiry::After(3600);
    let issued = f.kw.create_key(&f.root, acct, sa.id, spec).unwrap();
    let p = f.kw.authenticate(issued.secret.expose(), Some(IpAddr::from([10, 0, 0, 1]))).unwrap().unwrap();
    assert_eq!(p.service_account_id, sa.id);
    assert!(!p.is_system_admin());

    let by_name = f.kw.get_api_key(&f.root, acct, sa.id, &KeyRef::Name(name("deploy"))).unwrap();
    assert_eq!(by_name.id, issued.key.id);

    // A wrong secret for a real id is refused and audited in the key's account.
    let mut forged = issued.secret.expose().to_owned();
    forged.replace_range(40..41, if &forged[40..41] == "0" { "1" } else { "0" });
    let fixed = domain::credential::Credential::parse(&forged);
    assert!(fixed.is_err(), "the checksum catches a one-character change");
    assert_eq!(f.kw.authenticate(&forged, None).unwrap().unwrap_err(), Rejection::Malformed);

    f.set_active(acct, sa.id, false);
    assert_eq!(f.kw.authenticate(issued.secret.expose(), None).unwrap().unwrap_err(), Rejection::OwnerDisabled);
    f.set_active(acct, sa.id, true);
    assert!(f.kw.authenticate(issued.secret.expose(), None).unwrap().is_ok());

    f.clock.advance(Duration::hours(1));
    assert_eq!(
        f.kw.authenticate(issued.secret.expose(), Some(IpAddr::from([10, 0, 0, 2]))).unwrap().unwrap_err(),
        Rejection::Expired
    );
    let listed = f.kw.list_api_keys(&f.root, acct, sa.id, Default::default()).unwrap();
    assert_eq!(listed.items.len(), 1, "expired keys stay listed");
    let failures =
        f.kw.list_audit_events(&f.root, acct, &AuditQuery { action: Some(Action::AuthFailure), ..Default::default() })
            .unwrap();
    assert_eq!(failures.items.len(), 2);
    assert_eq!(failures.items[0].ip.as_deref(), Some("10.0.0.2"), "newest first");
}

fn deleting_a_service_account_deletes_its_keys(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("temp")).unwrap();
    let issued = f.kw.create_key(&f.root, acct, sa.id, new_key("k", &[])).unwrap();
    f.kw.delete_service_account(&f.root, acct, sa.id).unwrap();
    assert_eq!(f.kw.authenticate(issued.secret.expose(), None).unwrap().unwrap_err(), Rejection::NotFound);
    let all = f.kw.list_account_api_keys(&f.root, acct, Default::default()).unwrap();
    assert_eq!(all.items.len(), 1, "only the bootstrap admin key is left");
    let err = f.kw.delete_service_account(&f.root, acct, sa.id).unwrap_err();
    assert!(matches!(err, Error::NotFound(Entity::ServiceAccount)));
}

fn tenants_cannot_see_each_other(db: TestDb) {
    let f = fixture(db);
    let a = f.kw.create_account(&f.root, NewAccount { name: name("a") }).unwrap();
    let b = f.kw.create_account(&f.root, NewAccount { name: name("b") }).unwrap();
    let sa_a = f.kw.create_service_account(&f.root, a.id, new_sa("admin")).unwrap();
    let sa_b = f.kw.create_service_account(&f.root, b.id, new_sa("victim")).unwrap();
    let key_a = f.kw.create_key(&f.root, a.id, sa_a.id, new_key("k", &["account:admin"])).unwrap();
    let pa = f.kw.authenticate(key_a.secret.expose(), None).unwrap().unwrap();
    assert!(matches!(f.kw.get_account(&pa, b.id), Err(Error::NotFound(Entity::Account))));
    assert!(matches!(f.kw.get_service_account(&pa, b.id, sa_b.id), Err(Error::NotFound(_))));
    // Naming B's service account under A's own account id finds nothing either.
    assert!(matches!(f.kw.get_service_account(&pa, a.id, sa_b.id), Err(Error::NotFound(Entity::ServiceAccount))));
    assert!(matches!(f.kw.delete_service_account(&pa, a.id, sa_b.id), Err(Error::NotFound(Entity::ServiceAccount))));
    assert!(f.kw.get_service_account(&f.root, b.id, sa_b.id).is_ok(), "B's service account is untouched");
    assert!(matches!(f.kw.list_accounts(&pa, &PageRequest::default()), Err(Error::Forbidden(_))));
    assert!(matches!(f.kw.delete_key(&pa, a.id, sa_a.id, &KeyRef::Id(key_a.key.id)), Err(Error::OwnCredential)));
}

fn concurrent_rotations_never_lose_an_acknowledged_secret(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("busy")).unwrap();
    let original = f.kw.create_key(&f.root, acct, sa.id, new_key("k", &[])).unwrap();
    let key = KeyRef::Id(original.key.id);
    let retain = RetainPeriod::parse(3600, "retain_period_seconds").unwrap();
    let rotate = || f.kw.rotate_key(&f.root, acct, sa.id, &key, retain).unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| (0..10).map(|_| rotate()).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    // Each rotation must have built on the one before it: no two acknowledged rotations may have
    // replaced the same secret, or one of them handed out a secret that silently never worked.
    let replaced: std::collections::BTreeSet<[u8; 32]> =
        results.iter().map(|r| *r.key.secret.previous.as_ref().unwrap().0.as_bytes()).collect();
    assert_eq!(replaced.len(), results.len(), "every rotation replaced a different secret");
    let working = results.iter().filter(|r| f.kw.authenticate(r.secret.expose(), None).unwrap().is_ok()).count();
    assert_eq!(working, 2, "exactly the current and the previous secret work");
    assert!(f.kw.authenticate(original.secret.expose(), None).unwrap().is_err());
    let rotations =
        f.kw.list_audit_events(&f.root, acct, &AuditQuery { action: Some(Action::ApiKeyRotate), ..Default::default() })
            .unwrap();
    assert_eq!(rotations.items.len(), 50, "the newest page of audit events: all rotations");
    assert!(rotations.next.is_some(), "80 rotations, 80 events");
}

fn usage_is_written_in_one_batch_and_never_goes_back(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("user")).unwrap();
    let issued = f.kw.create_key(&f.root, acct, sa.id, new_key("k", &[])).unwrap();
    f.kw.flush_usage().unwrap();
    for i in 0..1000 {
        f.clock.advance(Duration::milliseconds(1));
        f.kw.authenticate(issued.secret.expose(), Some(IpAddr::from([10, 0, 0, (i % 250) as u8]))).unwrap().unwrap();
    }
    assert_eq!(f.kw.flush_usage().unwrap(), 1, "a thousand uses of one key are one row update");
    let key = f.kw.get_api_key(&f.root, acct, sa.id, &KeyRef::Id(issued.key.id)).unwrap();
    assert_eq!(key.last_used_at, Some(f.kw.now()));
    assert_eq!(key.part.last_used_ip, Some(IpAddr::from([10, 0, 0, 249])));
}

fn a_thousand_uses_become_hourly_counts_in_one_write(db: TestDb) {
    let store = Arc::new(db.store());
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()));
    let kw = Keyward::new(store.clone(), clock.clone(), Arc::new(SystemEntropy::new()));
    let root = kw.authenticate(kw.bootstrap().unwrap().unwrap().admin_key.expose(), None).unwrap().unwrap();
    let (acct, sa) = (root.account_id, root.service_account_id);
    let issued = kw.create_key(&root, acct, sa, new_key("busy", &[])).unwrap();
    let other = kw.create_key(&root, acct, sa, new_key("idle", &[])).unwrap();
    kw.flush_usage().unwrap();
    let start = kw.now();
    let mut expected = std::collections::BTreeMap::new();
    for _ in 0..1000 {
        clock.advance(Duration::seconds(10));
        kw.authenticate(issued.secret.expose(), None).unwrap().unwrap();
        *expected.entry(kw.now().format("%H").to_string()).or_insert(0u64) += 1;
    }
    // The key's id with another well-formed secret: found, then refused.
    let wrong = Credential::generate(CredentialKind::ApiKey, *issued.key.id.as_uuid(), &SeededEntropy::new(9)).reveal();
    let wrong = wrong.expose();
    for _ in 0..5 {
        assert!(kw.authenticate(wrong, None).unwrap().is_err());
    }
    let commits = store.commits();
    assert_eq!(kw.flush_usage().unwrap(), 1, "one key was used");
    assert_eq!(store.commits() - commits, 1, "a thousand uses and five refusals are one write transaction");
    let window = UsageWindow::new(start, kw.now(), Granularity::Hour).unwrap();
    let series = kw.api_key_usage(&root, acct, sa, &KeyRef::Id(issued.key.id), window).unwrap();
    let counted: std::collections::BTreeMap<String, u64> =
        series.buckets.iter().filter(|b| b.uses > 0).map(|b| (b.start.format("%H").to_string(), b.uses)).collect();
    assert_eq!(counted, expected, "every use lands in its hour");
    assert_eq!(series.uses(), 1000);
    assert_eq!(series.refusals(), 5, "refusals of a wrong secret count against the key they named");
    // A second batch adds to the same hours instead of replacing them.
    kw.authenticate(issued.secret.expose(), None).unwrap().unwrap();
    kw.flush_usage().unwrap();
    let series = kw.api_key_usage(&root, acct, sa, &KeyRef::Id(issued.key.id), window).unwrap();
    assert_eq!(series.uses(), 1001);
    let per_day = UsageWindow::new(start, kw.now(), Granularity::Day).unwrap();
    let whole = kw.service_account_usage(&root, acct, sa, per_day).unwrap();
    assert_eq!(whole.series.buckets.len(), 1);
    assert_eq!(whole.series.uses(), 1001 + 1, "the admin key's one authentication counts too");
    let idle = whole.keys.iter().find(|k| k.key_id == other.key.id).unwrap();
    assert_eq!((idle.uses, idle.last_used_at), (0, None));
    // Counts older than the retention period are forgotten; younger ones stay.
    clock.advance(Duration::days(90) - Duration::hours(2));
    assert_eq!(kw.forget_old_usage().unwrap(), 2, "only the 09:00 hour (both keys used in it) began 90 days ago");
    let series = kw.api_key_usage(&root, acct, sa, &KeyRef::Id(issued.key.id), window).unwrap();
    assert_eq!(series.uses(), 1001 - expected["09"]);
    // A deleted key's counts go with it, and a late batch for it is skipped, not retried forever.
    kw.authenticate(issued.secret.expose(), None).unwrap().unwrap();
    kw.delete_key(&root, acct, sa, &KeyRef::Id(issued.key.id)).unwrap();
    assert_eq!(kw.flush_usage().unwrap(), 1);
    assert_eq!(kw.flush_usage().unwrap(), 0, "nothing was put back");
}

fn secret_keys_record_their_last_use(db: TestDb) {
    let f = fixture(db);
    let (acct, sa) = (f.root.account_id, f.root.service_account_id);
    f.kw.ensure_signing_keys().unwrap();
    let new = NewSecretKey::new(name("client"), Scopes::default(), Expiry::Never);
    let client = f.kw.create_key(&f.root, acct, sa, new).unwrap();
    let id = client.key.id;
    f.kw.flush_usage().unwrap();
    assert_eq!(f.kw.get_secret_key(&f.root, acct, sa, id).unwrap().last_used_at, None);
    f.clock.advance(Duration::seconds(5));
    let token = f.kw.client_credentials(&id.to_string(), client.secret.expose(), TokenTerms::default()).unwrap();
    assert!(token.is_ok());
    assert!(f.kw.client_credentials(&id.to_string(), "kw_sk_wrong", TokenTerms::default()).unwrap().is_err());
    assert_eq!(f.kw.flush_usage().unwrap(), 1, "one secret key was used");
    let used = f.kw.get_secret_key(&f.root, acct, sa, id).unwrap();
    assert_eq!(used.last_used_at, Some(f.kw.now()), "a client's authentication is its key's last use");
}

fn a_malformed_key_is_refused_without_touching_the_database(db: TestDb) {
    let url = db.url().clone();
    let f = fixture(db);
    let verifier = f.root.clone();
    let good = f.kw.create_key(&f.root, f.root.account_id, f.root.service_account_id, new_key("k", &[])).unwrap();
    let mut typo = good.secret.expose().to_owned();
    typo.replace_range(70..71, if &typo[70..71] == "0" { "1" } else { "0" });
    // Take the keys table away: anything that still answers cannot have asked the database.
    match &url {
        storage::DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(path).unwrap();
            conn.batch_execute("DROP TABLE api_key_usage; DROP TABLE key_networks; DROP TABLE api_keys").unwrap();
        }
        storage::DatabaseUrl::Postgres(pg) => {
            let mut conn = PgConnection::establish(pg).unwrap();
            conn.batch_execute("DROP TABLE api_key_usage; DROP TABLE key_networks; DROP TABLE api_keys").unwrap();
        }
    }
    let verdict = f.kw.verify_api_key(&verifier, &typo, &Scopes::default(), &Default::default()).unwrap();
    assert_eq!(verdict.outcome, Err(Rejection::Malformed));
    assert_eq!(verdict.at, f.kw.now(), "a verdict says when it was reached (the test clock stands still)");
    assert_eq!(f.kw.authenticate(&typo, None).unwrap().unwrap_err(), Rejection::Malformed);
    assert!(
        f.kw.verify_api_key(&verifier, good.secret.expose(), &Scopes::default(), &Default::default()).is_err(),
        "a well-formed key needs the table"
    );
}

fn secret_keys_are_sealed_at_rest_and_bound_to_their_row(db: TestDb) {
    let url = db.url().clone();
    let f = fixture(db);
    let sealer = Sealer::new(&[7; 32]);
    let kw = f.kw.clone().with_sealer(Sealer::new(&[7; 32]));
    let (acct, sa) = (f.root.account_id, f.root.service_account_id);
    let new = |n: &str| NewSecretKey::new(name(n), Scopes::default(), Expiry::Never);
    let a = kw.create_key(&f.root, acct, sa, new("a")).unwrap();
    let b = kw.create_key(&f.root, acct, sa, new("b")).unwrap();
    assert!(a.secret.expose().starts_with("kw_sk_"));
    let secret_hex = &a.secret.expose()[39..103];
    let secret: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&secret_hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let stored = kw.get_secret_key(&f.root, acct, sa, a.key.id).unwrap();
    assert!(!stored.secret.current.windows(32).any(|w| w == secret.as_slice()), "never stored in plaintext");
    assert_eq!(stored.open_secrets(&sealer, kw.now()).unwrap(), vec![secret]);
    // Move B's ciphertext into A's row, as an attacker with database access might.
    let sql = format!(
        "UPDATE secret_keys SET sealed_secret = (SELECT sealed_secret FROM secret_keys WHERE id = '{}') WHERE id = '{}'",
        b.key.id, a.key.id
    );
    match &url {
        storage::DatabaseUrl::Sqlite(path) => SqliteConnection::establish(path).unwrap().batch_execute(&sql).unwrap(),
        storage::DatabaseUrl::Postgres(pg) => PgConnection::establish(pg).unwrap().batch_execute(&sql).unwrap(),
    }
    // Read it as a node that has not cached the key would (the change bypassed Keyward).
    let fresh =
        Keyward::new(Arc::new(storage::Store::open(&url).unwrap()), f.clock.clone(), Arc::new(SystemEntropy::new()));
    let moved = fresh.get_secret_key(&f.root, acct, sa, a.key.id).unwrap();
    assert!(moved.open_secrets(&sealer, kw.now()).is_err(), "a ciphertext moved to another row does not open");
    assert!(b.key.id != a.key.id);
}

fn the_master_key_is_checked_against_the_database(db: TestDb) {
    let store = Arc::new(db.store());
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()));
    let entropy = Arc::new(SystemEntropy::new());
    let with =
        |key: u8| Keyward::new(store.clone(), clock.clone(), entropy.clone()).with_sealer(Sealer::new(&[key; 32]));
    with(1).check_master_key().unwrap();
    with(1).check_master_key().unwrap();
    assert!(matches!(with(2).check_master_key(), Err(Error::WrongMasterKey)));
}

fn another_node_sees_a_revocation_within_the_freshness_window(db: TestDb) {
    let f = fixture(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("shared")).unwrap();
    let issued = f.kw.create_key(&f.root, acct, sa.id, new_key("k", &[])).unwrap();
    // A second node: its own store (and cache) on the same database.
    let other = Keyward::new(Arc::new(f._db.store()), f.clock.clone(), Arc::new(SystemEntropy::new()));
    assert!(other.authenticate(issued.secret.expose(), None).unwrap().is_ok(), "the other node has it cached now");
    f.kw.delete_key(&f.root, acct, sa.id, &KeyRef::Id(issued.key.id)).unwrap();
    assert!(f.kw.authenticate(issued.secret.expose(), None).unwrap().is_err(), "at once on the node that changed it");
    let start = std::time::Instant::now();
    while other.authenticate(issued.secret.expose(), None).unwrap().is_ok() {
        // Generous, so a loaded machine does not fail it; the freshness window itself is one second.
        assert!(start.elapsed() < storage::FRESHNESS * 10, "the other node still accepts the deleted key");
        std::thread::yield_now();
    }
}

fn the_hot_path_answers_from_memory_once_a_key_is_cached(db: TestDb) {
    let f = fixture_long_cached(db);
    let acct = f.root.account_id;
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("hot")).unwrap();
    let issued = f.kw.create_key(&f.root, acct, sa.id, new_key("k", &[])).unwrap();
    let secret = issued.secret.expose();
    assert!(f.kw.authenticate_from_memory(secret, None).is_none(), "not cached yet: storage is needed");
    assert!(f.kw.authenticate(secret, None).unwrap().is_ok());
    let from_memory = f.kw.authenticate_from_memory(secret, None).expect("cached now").unwrap();
    assert_eq!(from_memory.unwrap().credential, domain::principal::CredentialRef::ApiKey(issued.key.id));
    f.kw.update_key(
        &f.root,
        acct,
        sa.id,
        &KeyRef::Id(issued.key.id),
        domain::api_key::ApiKeyChanges { active: Some(false), ..Default::default() },
    )
    .unwrap();
    assert!(f.kw.authenticate_from_memory(secret, None).is_none(), "a local change forgets the entry at once");
    assert!(matches!(f.kw.authenticate(secret, None).unwrap(), Err(Rejection::Disabled)));
    assert!(
        f.kw.authenticate_from_memory(secret, None).is_none(),
        "a refusal is answered with storage, which records it in the audit trail"
    );

    // Reading one key by id goes through the same cache, and is as fresh as authentication.
    let by_id = KeyRef::Id(issued.key.id);
    let read = f.kw.get_api_key_from_memory(&f.root, acct, sa.id, &by_id).expect("cached by the refusal").unwrap();
    assert!(!read.active, "the cached key shows the change made before it was read");
    assert!(
        f.kw.get_api_key_from_memory(&f.root, acct, sa.id, &KeyRef::Name(name("k"))).is_none(),
        "names need storage"
    );
    let elsewhere = f.kw.get_api_key_from_memory(&f.root, acct, f.root.service_account_id, &by_id).unwrap();
    assert!(
        matches!(elsewhere, Err(Error::NotFound(Entity::ApiKey))),
        "another service account's path does not find it"
    );
    f.kw.update_key(
        &f.root,
        acct,
        sa.id,
        &by_id,
        domain::api_key::ApiKeyChanges { active: Some(true), ..Default::default() },
    )
    .unwrap();
    assert!(f.kw.get_api_key_from_memory(&f.root, acct, sa.id, &by_id).is_none(), "a change forgets it");
    assert!(f.kw.get_api_key(&f.root, acct, sa.id, &by_id).unwrap().active);
    f.kw.authenticate(secret, None).unwrap().unwrap();
    f.kw.flush_usage().unwrap();
    let used = f.kw.get_api_key(&f.root, acct, sa.id, &by_id).unwrap();
    assert_eq!(used.last_used_at, Some(f.kw.now()), "a usage flush forgets the cached key, so reads show the last use");

    f.kw.ensure_signing_keys().unwrap();
    let new = NewSecretKey::new(name("client"), Scopes::default(), Expiry::Never);
    let client = f.kw.create_key(&f.root, acct, sa.id, new).unwrap();
    let id = client.key.id.to_string();
    let token = |kw: &Keyward| kw.client_credentials_from_memory(&id, client.secret.expose(), TokenTerms::default());
    assert!(token(&f.kw).is_none(), "the client is not cached yet");
    assert!(f.kw.client_credentials(&id, client.secret.expose(), TokenTerms::default()).unwrap().is_ok());
    let issued = token(&f.kw).expect("client and signing key are cached now").unwrap();
    assert!(issued.is_ok_and(|t| t.token.expose().split('.').count() == 3), "a signed JWT from memory");
    let wrong = f.kw.client_credentials_from_memory(&id, "kw_sk_wrong", TokenTerms::default());
    assert!(wrong.is_none(), "a failed client authentication goes to storage, for the audit trail");

    // A JWT the (now cached) secret key signed is checked from memory too; a forged one is not.
    let jwt = f.kw.issue_secret_key_jwt(&f.root, acct, sa.id, client.key.id, None, None).unwrap();
    let jwt = jwt.token.expose().to_owned();
    let p = f.kw.authenticate_from_memory(&jwt, None).expect("the key is cached").unwrap().unwrap();
    assert_eq!(p.credential, domain::principal::CredentialRef::SecretKey(client.key.id));
    let at = jwt.len() - 10;
    let flipped = if &jwt[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &jwt[..at], &jwt[at + 1..]);
    assert!(f.kw.authenticate_from_memory(&forged, None).is_none(), "a refusal goes to storage, for the audit trail");
    assert!(f.kw.authenticate(&forged, None).unwrap().is_err());
}

fn migrations_are_idempotent(db: TestDb) {
    let store = db.store();
    assert!(store.migrate().unwrap().is_empty(), "a second run applies nothing");
}

backend_tests!(
    bootstrap_happens_once,
    account_names_are_unique_and_conflicts_change_nothing,
    accounts_can_be_renamed_and_deleted_with_everything_inside,
    service_accounts_round_trip_and_update,
    creating_a_key_names_the_missing_owner,
    concurrent_creations_each_get_their_own_answer,
    service_account_lists_page_stably_in_every_order,
    api_keys_authenticate_until_their_owner_or_expiry_says_otherwise,
    deleting_a_service_account_deletes_its_keys,
    tenants_cannot_see_each_other,
    migrations_are_idempotent,
    concurrent_rotations_never_lose_an_acknowledged_secret,
    usage_is_written_in_one_batch_and_never_goes_back,
    a_thousand_uses_become_hourly_counts_in_one_write,
    secret_keys_record_their_last_use,
    a_malformed_key_is_refused_without_touching_the_database,
    secret_keys_are_sealed_at_rest_and_bound_to_their_row,
    the_master_key_is_checked_against_the_database,
    another_node_sees_a_revocation_within_the_freshness_window,
    the_hot_path_answers_from_memory_once_a_key_is_cached,
);

/// PostgreSQL nodes hear of each other's changes over `LISTEN`/`NOTIFY`: with a freshness window of
/// ten minutes, only the notification can make the other node refuse the key in time.
#[test]
fn postgres_nodes_hear_of_each_others_changes_at_once() {
    let Some(db) = TestDb::postgres() else { return };
    let other_store = storage::Store::open_with(db.url(), std::time::Duration::from_secs(600)).unwrap();
    let f = fixture(db);
    let acct = f.root.account_id;
    let other = Keyward::new(Arc::new(other_store), f.clock.clone(), Arc::new(SystemEntropy::new()));
    let sa = f.kw.create_service_account(&f.root, acct, new_sa("shared")).unwrap();
    let deleted = f.kw.create_key(&f.root, acct, sa.id, new_key("deleted", &[])).unwrap();
    let owner_disabled = f.kw.create_key(&f.root, acct, sa.id, new_key("owner-off", &[])).unwrap();
    for key in [&deleted, &owner_disabled] {
        assert!(other.authenticate(key.secret.expose(), None).unwrap().is_ok(), "the other node has it cached now");
    }
    let refused_soon = |secret: &str, what: &str| {
        let start = std::time::Instant::now();
        while other.authenticate(secret, None).unwrap().is_ok() {
            // Generous, so a loaded machine does not fail it; notifications arrive in milliseconds.
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "the other node never heard: {what}");
            std::thread::yield_now();
        }
    };
    f.kw.delete_key(&f.root, acct, sa.id, &KeyRef::Id(deleted.key.id)).unwrap();
    refused_soon(deleted.secret.expose(), "a key deleted");
    f.set_active(acct, sa.id, false);
    refused_soon(owner_disabled.secret.expose(), "its service account disabled");
}
