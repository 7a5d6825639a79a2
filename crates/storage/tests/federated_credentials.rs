//! Federated credentials over a real database, on SQLite and on PostgreSQL: stored and read back
//! whole, listed, changed, found by issuer for an exchange, deleted with their service account,
//! and audited.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use domain::account::NewAccount;
use domain::audit::Action;
use domain::error::{Entity, Error};
use domain::federation::Issuer;
use domain::page::PageRequest;
use domain::principal::Principal;
use domain::repository::{AuditQuery, FederatedCredentialRepository};
use domain::scope::Scopes;
use domain::service::{FederatedCredentialChanges, Keyward, NewFederatedCredential};
use domain::service_account::NewServiceAccount;
use domain::text::{Description, Metadata, Name};
use domain::{ManualClock, SystemEntropy};
use storage::Store;
use storage::backend_tests;
use storage::testing::TestDb;

const GITHUB: &str = "https://token.actions.githubusercontent.com";

struct Fixture {
    kw: Keyward,
    store: Arc<Store>,
    root: Principal,
    _db: TestDb,
}

fn fixture(db: TestDb) -> Fixture {
    let store = Arc::new(db.store());
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap()));
    let kw = Keyward::new(store.clone(), clock, Arc::new(SystemEntropy::new()));
    let boot = kw.bootstrap().unwrap().expect("a fresh database bootstraps");
    let root = kw.authenticate(boot.admin_key.expose(), None).unwrap().unwrap();
    Fixture { kw, store, root, _db: db }
}

fn name(s: &str) -> Name {
    Name::parse(s, "name").unwrap()
}

fn new_credential(n: &str, owner: &str) -> NewFederatedCredential {
    NewFederatedCredential {
        name: name(n),
        issuer: GITHUB.to_owned(),
        audiences: vec!["https://keyward.example".to_owned()],
        subject: None,
        claims: BTreeMap::from([
            ("repository_owner".to_owned(), owner.to_owned()),
            ("ref".to_owned(), "refs/heads/*".to_owned()),
        ]),
        scopes: Scopes::parse(&["service-accounts:read"], "scopes").unwrap(),
        max_ttl_seconds: Some(900),
        active: true,
        refuse_replay: true,
    }
}

fn place(f: &Fixture, account: &str) -> (domain::id::AccountId, domain::id::ServiceAccountId) {
    let acct = f.kw.create_account(&f.root, NewAccount { name: name(account) }).unwrap();
    let sa = NewServiceAccount {
        name: name("deployer"),
        description: Description::default(),
        active: true,
        metadata: Metadata::default(),
        limits: Default::default(),
    };
    let sa = f.kw.create_service_account(&f.root, acct.id, sa).unwrap();
    (acct.id, sa.id)
}

fn credentials_are_stored_whole_and_found_by_issuer(db: TestDb) {
    let f = fixture(db);
    let (acct, sa) = place(&f, "acme");
    let made = f.kw.create_federated_credential(&f.root, acct, sa, new_credential("ci", "acme-org")).unwrap();
    let read = f.kw.get_federated_credential(&f.root, acct, sa, made.id).unwrap();
    assert_eq!(read.policy, made.policy, "issuer, audiences, subject and claims round-trip");
    assert_eq!((read.name.as_str(), read.max_ttl_seconds, read.refuse_replay), ("ci", 900, true));
    assert_eq!(read.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["service-accounts:read"]);

    let taken = f.kw.create_federated_credential(&f.root, acct, sa, new_credential("ci", "other")).unwrap_err();
    assert!(matches!(taken, Error::NameTaken(Entity::FederatedCredential)), "{taken:?}");
    f.kw.create_federated_credential(&f.root, acct, sa, new_credential("ci-2", "acme-org")).unwrap();
    let list = f.kw.list_federated_credentials(&f.root, acct, sa, &PageRequest::default()).unwrap();
    assert_eq!(list.items.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["ci", "ci-2"]);

    let (other_acct, other_sa) = place(&f, "globex");
    f.kw.create_federated_credential(&f.root, other_acct, other_sa, new_credential("ci", "globex-org")).unwrap();
    let candidates = f.store.federated_credentials_for_issuer(&Issuer::parse(GITHUB, "issuer").unwrap()).unwrap();
    assert_eq!(candidates.len(), 3, "every account's policies for the issuer");
    assert!(candidates.iter().all(|(_, owner_active)| *owner_active));
    let elsewhere = Issuer::parse("https://gitlab.example.com", "issuer").unwrap();
    assert!(f.store.federated_credentials_for_issuer(&elsewhere).unwrap().is_empty());

    let missing = f.kw.get_federated_credential(&f.root, other_acct, sa, made.id).unwrap_err();
    assert!(matches!(missing, Error::NotFound(Entity::FederatedCredential)), "another account's path: {missing:?}");
}

fn changes_are_checked_as_a_whole_policy_and_audited(db: TestDb) {
    let f = fixture(db);
    let (acct, sa) = place(&f, "acme");
    let made = f.kw.create_federated_credential(&f.root, acct, sa, new_credential("ci", "acme-org")).unwrap();
    let no_owner = FederatedCredentialChanges {
        claims: Some(BTreeMap::from([("ref".to_owned(), "refs/heads/main".to_owned())])),
        ..Default::default()
    };
    let refused = f.kw.update_federated_credential(&f.root, acct, sa, made.id, no_owner).unwrap_err();
    assert!(matches!(&refused, Error::Validation(v) if v.field == "claims"), "{refused:?}");
    assert_eq!(f.kw.get_federated_credential(&f.root, acct, sa, made.id).unwrap().policy, made.policy, "unchanged");

    let disable = FederatedCredentialChanges { active: Some(false), max_ttl_seconds: Some(60), ..Default::default() };
    let changed = f.kw.update_federated_credential(&f.root, acct, sa, made.id, disable).unwrap();
    assert_eq!((changed.active, changed.max_ttl_seconds), (false, 60));
    let read = f.kw.get_federated_credential(&f.root, acct, sa, made.id).unwrap();
    assert_eq!((read.active, read.max_ttl_seconds), (false, 60));

    f.kw.delete_federated_credential(&f.root, acct, sa, made.id).unwrap();
    let gone = f.kw.delete_federated_credential(&f.root, acct, sa, made.id).unwrap_err();
    assert!(matches!(gone, Error::NotFound(Entity::FederatedCredential)), "{gone:?}");
    let trail = f.kw.list_audit_events(&f.root, acct, &AuditQuery::default()).unwrap();
    let actions: Vec<Action> = trail.items.iter().map(|e| e.action).collect();
    for action in
        [Action::FederatedCredentialCreate, Action::FederatedCredentialUpdate, Action::FederatedCredentialDelete]
    {
        assert_eq!(actions.iter().filter(|a| **a == action).count(), 1, "{action}");
    }
}

fn a_deleted_service_account_takes_its_credentials_along(db: TestDb) {
    let f = fixture(db);
    let (acct, sa) = place(&f, "acme");
    f.kw.create_federated_credential(&f.root, acct, sa, new_credential("ci", "acme-org")).unwrap();
    f.kw.delete_service_account(&f.root, acct, sa).unwrap();
    let issuer = Issuer::parse(GITHUB, "issuer").unwrap();
    assert!(f.store.federated_credentials_for_issuer(&issuer).unwrap().is_empty());
}

backend_tests!(
    credentials_are_stored_whole_and_found_by_issuer,
    changes_are_checked_as_a_whole_policy_and_audited,
    a_deleted_service_account_takes_its_credentials_along,
);
