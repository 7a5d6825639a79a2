//! Several nodes on one PostgreSQL database, as a deployment runs them: what one node learns,
//! the others act on at once (revocations through the change feed, spent DPoP proofs through the
//! database, nonces through the shared master key).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use domain::dpop::testing::ProofKey;
use serde_json::{Value, json};
use storage::testing::TestDb;

use common::{Server, call, keyward, until_refused};

/// Three nodes on one PostgreSQL database: a key deleted through one, or reported leaked through
/// another, stops working on the others at once, as PRODUCT.md promises for revocation. The nodes cache key lookups for ten minutes
/// here, so only the change feed (`LISTEN`/`NOTIFY`) can tell them in time.
async fn a_revocation_reaches_every_node(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let node = |name: &str| {
        let mut cmd = keyward(&dir.path().join(name), Some(&db));
        cmd.env("KEYWARD_MASTER_KEY_FILE", &master).env("KEYWARD_CACHE_FRESHNESS_MS", "600000");
        Server::start_cmd(cmd)
    };
    let one = node("one");
    let two = node("two");
    let three = node("three");
    let admin = std::fs::read_to_string(dir.path().join("one/admin.key")).unwrap().trim().to_owned();
    let post =
        |base: &str, path: &str, body: Value| call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body));
    let (_, acct) = post(&one.base, "/v1/accounts", json!({"name": "acme"})).await;
    let acct = acct["id"].as_str().unwrap().to_owned();
    let (_, sa) = post(&two.base, &format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await;
    let sa = sa["id"].as_str().unwrap().to_owned();
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let nodes = [&one, &two, &three];
    let key = |name: &'static str| {
        let post = &post;
        let (three, keys) = (&three.base, &keys);
        async move {
            let (status, key) = post(three, keys, json!({"name": name, "scopes": ["service-accounts:read"]})).await;
            assert_eq!(status, 201, "a key created on one node");
            key["secret"].as_str().unwrap().to_owned()
        }
    };
    let works_everywhere = |secret: String| {
        let me = &me;
        async move {
            for node in nodes {
                let (status, _) = call(reqwest::Method::GET, format!("{}{me}", node.base), &secret, None).await;
                assert_eq!(status, 200, "works on every node (and is now in each node's cache)");
            }
        }
    };
    let refused_everywhere = |secret: String| {
        let me = &me;
        async move {
            let start = std::time::Instant::now();
            for node in nodes {
                // Generous, so a loaded machine does not fail it; notifications arrive in milliseconds.
                until_refused(&format!("{}{me}", node.base), &secret, start, Duration::from_secs(10)).await;
            }
        }
    };

    let deleted = key("k").await;
    works_everywhere(deleted.clone()).await;
    let (status, _) = call(reqwest::Method::DELETE, format!("{}{keys}/k", one.base), &admin, None).await;
    assert_eq!(status, 204);
    refused_everywhere(deleted).await;

    // A leak report, unauthenticated, through another node.
    let leaked = key("leaked").await;
    works_everywhere(leaked.clone()).await;
    let report = reqwest::Client::new()
        .post(format!("{}/v1/credentials/revoke", two.base))
        .json(&json!({"credentials": [leaked]}))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 202);
    refused_everywhere(leaked).await;
    for node in [one, two, three] {
        node.stop();
    }
}

/// Two nodes behind one public address, requiring DPoP nonces: a nonce one node hands out works on
/// the other, and a proof one node accepted is refused by the other.
async fn a_dpop_proof_is_spent_on_every_node(db: TestDb) {
    const PUBLIC: &str = "https://keyward.example";
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let node = |name: &str| {
        let mut cmd = keyward(&dir.path().join(name), Some(&db));
        cmd.env("KEYWARD_MASTER_KEY_FILE", &master).env("KEYWARD_ISSUER", PUBLIC).env("KEYWARD_DPOP_NONCES", "true");
        Server::start_cmd(cmd)
    };
    let one = node("one");
    let two = node("two");
    let admin = std::fs::read_to_string(dir.path().join("one/admin.key")).unwrap().trim().to_owned();
    let post =
        |path: String, body: Value| call(reqwest::Method::POST, format!("{}{path}", one.base), &admin, Some(body));
    let acct = post("/v1/accounts".into(), json!({"name": "acme"})).await.1["id"].as_str().unwrap().to_owned();
    let sa = post(format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, client) = post(
        format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
        json!({"name": "c", "scopes": ["service-accounts:read"], "require_dpop": true}),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    let (id, secret) = (client["id"].as_str().unwrap(), client["secret"].as_str().unwrap());
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let key = ProofKey::es256();
    let http = reqwest::Client::new();
    let token_request = |base: &str, proof: String| {
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(id, Some(secret))
            .header("dpop", proof)
            .form(&[("grant_type", "client_credentials")])
            .send()
    };

    // Node one asks for a nonce; node two accepts it.
    let htu = format!("{PUBLIC}/oauth2/token");
    let asked = token_request(&one.base, key.proof("POST", &htu, now(), None, None)).await.unwrap();
    assert_eq!(asked.status(), 400);
    let nonce = asked.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let issued = token_request(&two.base, key.proof("POST", &htu, now(), None, Some(&nonce))).await.unwrap();
    assert_eq!(issued.status(), 200, "a nonce from one node works on another");
    let body: Value = issued.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();

    // A proof node one accepted is spent for node two as well.
    let path = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let proof = key.proof("GET", &format!("{PUBLIC}{path}"), now(), Some(token), Some(&nonce));
    let bound = |base: &str, proof: &str| {
        http.get(format!("{base}{path}")).header("authorization", format!("DPoP {token}")).header("dpop", proof).send()
    };
    assert_eq!(bound(&one.base, &proof).await.unwrap().status(), 200);
    let replayed = bound(&two.base, &proof).await.unwrap();
    assert_eq!(replayed.status(), 401);
    let problem: Value = replayed.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_dpop_proof");
    assert!(problem["detail"].as_str().unwrap().contains("used before"), "{problem}");
    for node in [one, two] {
        node.stop();
    }
}

/// Three nodes on one PostgreSQL database verify one rate-limited key at once, more often than
/// the limit allows. Each node decides from its own memory between flushes, so together they
/// may admit more than the limit, but never more than three times it (the bound
/// `docs/usage-limits.md` states); once they have flushed, every node knows every use spent.
async fn a_rate_limit_holds_across_nodes_within_its_bound(db: TestDb) {
    const LIMIT: u64 = 30;
    const PER_NODE: usize = 40;
    const USES: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let node = |name: &str| {
        let mut cmd = keyward(&dir.path().join(name), Some(&db));
        cmd.env("KEYWARD_MASTER_KEY_FILE", &master);
        Server::start_cmd(cmd)
    };
    let nodes = [node("one"), node("two"), node("three")];
    let admin = std::fs::read_to_string(dir.path().join("one/admin.key")).unwrap().trim().to_owned();
    let base = &nodes[0].base;
    let post = |path: String, body: Value| call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body));
    let acct = post("/v1/accounts".into(), json!({"name": "acme"})).await.1["id"].as_str().unwrap().to_owned();
    let sa = post(format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, key) = post(
        format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"),
        json!({
            "name": "metered",
            // A 30-day window: the test never sees one end.
            "rate_limits": [{"name": "requests", "limit": LIMIT, "window_seconds": 2_592_000}],
            "remaining": {"uses": USES}
        }),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let verify = |base: String| {
        let (admin, secret) = (admin.clone(), secret.clone());
        async move {
            let url = format!("{base}/v1/api-keys/verify");
            call(reqwest::Method::POST, url, &admin, Some(json!({"key": secret}))).await.1
        }
    };

    let drive = |n: &Server| {
        let (verify, base) = (&verify, n.base.clone());
        async move {
            let mut admitted = 0u64;
            for _ in 0..PER_NODE {
                let answer = verify(base.clone()).await;
                match answer["code"].as_str() {
                    Some("VALID") => admitted += 1,
                    Some("RATE_LIMITED") => {}
                    other => panic!("unexpected answer {other:?}: {answer}"),
                }
            }
            admitted
        }
    };
    let (a, b, c) = tokio::join!(drive(&nodes[0]), drive(&nodes[1]), drive(&nodes[2]));
    let admitted = a + b + c;
    eprintln!("3 nodes, limit {LIMIT}, {} requests: {admitted} admitted", 3 * PER_NODE);
    assert!(admitted >= LIMIT, "the limit itself is always admitted");
    assert!(admitted <= 3 * LIMIT, "never more than nodes x limit: {admitted}");

    // Once every node has flushed, each knows every use spent anywhere: uses left are exact.
    let start = std::time::Instant::now();
    for n in &nodes {
        loop {
            let answer = verify(n.base.clone()).await;
            assert_eq!(answer["code"], "RATE_LIMITED", "the window is spent on every node");
            if answer["remaining"].as_u64() == Some(USES - admitted) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{} never learned every use: {answer}", n.base);
        }
    }

    // A strict limit is decided in the database: exact, whatever the nodes.
    let (status, key) = post(
        format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"),
        json!({"name": "strict", "rate_limits": [{"name": "exact", "limit": LIMIT, "window_seconds": 2_592_000, "strict": true}]}),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let strict = key["secret"].as_str().unwrap().to_owned();
    let drive = |n: &Server| {
        let (admin, strict, base) = (admin.clone(), strict.clone(), n.base.clone());
        async move {
            let mut admitted = 0u64;
            for _ in 0..PER_NODE {
                let url = format!("{base}/v1/api-keys/verify");
                let (_, answer) = call(reqwest::Method::POST, url, &admin, Some(json!({"key": strict}))).await;
                admitted += u64::from(answer["code"] == "VALID");
            }
            admitted
        }
    };
    let (a, b, c) = tokio::join!(drive(&nodes[0]), drive(&nodes[1]), drive(&nodes[2]));
    eprintln!("3 nodes, strict limit {LIMIT}, {} requests: {} admitted", 3 * PER_NODE, a + b + c);
    assert_eq!(a + b + c, LIMIT, "a strict limit admits exactly its limit across nodes");
}

mod postgres {
    use storage::testing::TestDb;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_reaches_every_node() {
        if let Some(db) = TestDb::postgres() {
            super::a_revocation_reaches_every_node(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dpop_proof_is_spent_on_every_node() {
        if let Some(db) = TestDb::postgres() {
            super::a_dpop_proof_is_spent_on_every_node(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rate_limit_holds_across_nodes_within_its_bound() {
        if let Some(db) = TestDb::postgres() {
            super::a_rate_limit_holds_across_nodes_within_its_bound(db).await;
        }
    }
}
