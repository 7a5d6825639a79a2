//! The Wavefront dialect through the real HTTP stack: service accounts, their tokens, the
//! caller's own tokens and the customer-wide ones, in the `{status, response}` envelope.

use insta::assert_json_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{Answer, TestApp, spawn};

async fn wf(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
    // Wavefront's SDK sends a JSON body even where there is nothing to send.
    let body = body.or_else(|| (method != Method::GET).then(|| json!({})));
    app.send(method, path, &[("x-auth-token", token)], body).await
}

fn token_ids(answer: &Answer) -> Vec<String> {
    answer.body["response"].as_array().unwrap().iter().map(|t| t["tokenID"].as_str().unwrap().to_owned()).collect()
}

const SAS: &str = "/api/v2/account/serviceaccount";

async fn service_accounts_and_their_tokens_live_through_the_wavefront_api(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, manager) = app.tenant("acme", &["service-accounts:write", "api-keys:write", "metrics:read"]).await;

    let created = wf(
        &app,
        Method::POST,
        SAS,
        &manager,
        Some(json!({"identifier": "sa::ci", "description": "CI", "active": true})),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    assert_json_snapshot!("wavefront_service_account", created.body);

    let first = wf(
        &app,
        Method::POST,
        "/api/v2/apitoken/serviceaccount/sa::ci",
        &manager,
        Some(json!({"tokenName": "deploy"})),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_json_snapshot!("wavefront_generated", first.body, {".response[].tokenID" => "[token]", ".response[].dateGenerated" => "[time]"});
    let second = wf(&app, Method::POST, "/api/v2/apitoken/serviceaccount/sa::ci", &manager, None).await;
    let ids = token_ids(&second);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], token_ids(&first)[0], "the new token comes last");
    let token = ids[1].clone();
    assert!(token.starts_with("kw_ak_"), "the tokenID is the token itself");

    // The token authenticates, with the scopes of the key that made it.
    let me = wf(&app, Method::GET, "/api/v2/apitoken", &token, None).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(token_ids(&me), ids, "the caller's own tokens");
    let native = app.get(&format!("/v1/accounts/{acct}/api-keys?name=deploy"), &app.admin).await;
    let key = &native.body["items"][0];
    assert_eq!(
        key["scopes"],
        json!(["api-keys:write", "metrics:read", "service-accounts:write"]),
        "inherited, never more"
    );
    assert!(
        key.get("secret").is_none() && !native.body.to_string().contains("kw_ak_"),
        "the native API never shows it"
    );

    let listed = wf(&app, Method::GET, "/api/v2/apitoken/serviceaccount/sa::ci", &manager, None).await;
    assert_eq!(token_ids(&listed), ids, "listed again, as Wavefront does");
    let renamed = wf(
        &app,
        Method::PUT,
        &format!("/api/v2/apitoken/serviceaccount/sa::ci/{token}"),
        &manager,
        Some(json!({"tokenID": token, "tokenName": "renamed"})),
    )
    .await;
    assert_eq!(renamed.body["response"]["tokenName"], "renamed", "{:?}", renamed.body);

    let got = wf(&app, Method::GET, &format!("{SAS}/sa::ci"), &manager, None).await;
    assert_eq!(got.body["response"]["tokens"].as_array().unwrap().len(), 2);
    let changed = wf(
        &app,
        Method::PUT,
        &format!("{SAS}/sa::ci"),
        &manager,
        Some(json!({"identifier": "sa::ci", "description": "builds"})),
    )
    .await;
    assert_eq!(changed.body["response"]["description"], "builds");

    let deactivated = wf(&app, Method::POST, &format!("{SAS}/sa::ci/deactivate"), &manager, None).await;
    assert_eq!(deactivated.body["response"]["active"], false);
    assert_eq!(deactivated.body["response"]["tokens"][0]["accountType"], "INACTIVE_SERVICE_ACCOUNT");
    let refused = wf(&app, Method::GET, "/api/v2/apitoken", &token, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a deactivated account's tokens fail at once");
    assert_json_snapshot!("wavefront_unauthorized", refused.body);
    let activated = wf(&app, Method::POST, &format!("{SAS}/sa::ci/activate"), &manager, None).await;
    assert_eq!(activated.body["response"]["active"], true);
    assert_eq!(wf(&app, Method::GET, "/api/v2/apitoken", &token, None).await.status, StatusCode::OK);

    let itself = wf(&app, Method::DELETE, &format!("/api/v2/apitoken/{token}"), &token, None).await;
    assert_eq!(itself.status, StatusCode::CONFLICT, "a token cannot delete itself");
    assert_json_snapshot!("wavefront_own_token", itself.body);
    let left =
        wf(&app, Method::DELETE, &format!("/api/v2/apitoken/serviceaccount/sa::ci/{}", ids[0]), &manager, None).await;
    assert_eq!(token_ids(&left), vec![token.clone()]);

    let all = wf(&app, Method::GET, SAS, &manager, None).await;
    let identifiers: Vec<&str> =
        all.body["response"].as_array().unwrap().iter().filter_map(|s| s["identifier"].as_str()).collect();
    assert_eq!(identifiers, ["svc", "sa::ci"]);
    let deleted = wf(&app, Method::DELETE, "/api/v2/account/sa::ci", &manager, None).await;
    assert_eq!(deleted.body["response"]["identifier"], "sa::ci", "{:?}", deleted.body);
    assert_eq!(
        wf(&app, Method::GET, "/api/v2/apitoken", &token, None).await.status,
        StatusCode::UNAUTHORIZED,
        "its tokens are gone"
    );
    let missing = wf(&app, Method::GET, &format!("{SAS}/sa::ci"), &manager, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!("wavefront_not_found", missing.body);

    let events = app.get(&format!("/v1/accounts/{acct}/audit-events?limit=100"), &app.admin).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "service_account.create",
        "service_account.update",
        "service_account.delete",
        "api_key.create",
        "api_key.delete",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

async fn own_and_customer_tokens(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, native_id, manager) = app.tenant("acme", &["api-keys:write"]).await;
    let made = wf(&app, Method::POST, "/api/v2/apitoken", &manager, None).await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    let ids = token_ids(&made);
    assert_eq!(ids[0], native_id, "a key made elsewhere is listed by its id");
    let token = ids[1].clone();
    assert!(token.starts_with("kw_ak_"));
    let renamed =
        wf(&app, Method::PUT, &format!("/api/v2/apitoken/{token}"), &manager, Some(json!({"tokenName": "mine"}))).await;
    assert_eq!(renamed.body["response"]["tokenName"], "mine", "{:?}", renamed.body);

    let customer = wf(&app, Method::GET, "/api/v2/apitoken/customertokens", &manager, None).await;
    assert_eq!(customer.body["response"].as_array().unwrap().len(), 2);
    assert_json_snapshot!("wavefront_customer_tokens", customer.body, {
        ".response[].id" => "[token]", ".response[].customer" => "[id]",
        ".response[].dateGenerated" => "[time]", ".response[].createdEpochMillis" => "[time]", ".response[].lastUsed" => "[time]"
    });
    let one = wf(&app, Method::GET, &format!("/api/v2/apitoken/customertokens/{token}"), &manager, None).await;
    assert_eq!(one.body["response"]["name"], "mine");

    let reader = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"),
            &app.admin,
            json!({"name": "reader", "scopes": ["api-keys:read"]}),
        )
        .await;
    let reader = reader.body["secret"].as_str().unwrap().to_owned();
    let theirs = wf(&app, Method::GET, "/api/v2/apitoken/customertokens", &reader, None).await;
    assert_eq!(theirs.body["response"].as_array().unwrap().len(), 3);
    assert!(!theirs.body.to_string().contains("kw_ak_"), "a caller who may not manage tokens never sees one");
    // One token by its key id: the manager sees the token itself, the reader only its id.
    let key_id = one.body["response"]["id"].as_str().unwrap().to_owned();
    assert_eq!(key_id, token, "the manager's answer is the token");
    let id = token.split('_').nth(2).unwrap();
    let id = format!("{}-{}-{}-{}-{}", &id[..8], &id[8..12], &id[12..16], &id[16..20], &id[20..]);
    let by_id = wf(&app, Method::GET, &format!("/api/v2/apitoken/customertokens/{id}"), &manager, None).await;
    assert_eq!(by_id.body["response"]["id"], token.as_str());
    let read = wf(&app, Method::GET, &format!("/api/v2/apitoken/customertokens/{id}"), &reader, None).await;
    assert_eq!(read.body["response"]["id"], id.as_str(), "a reader sees the id, never the token");

    let revoked =
        wf(&app, Method::PUT, "/api/v2/apitoken/customertokens/revoke", &manager, Some(json!({"tokenID": token})))
            .await;
    assert_eq!(revoked.body["response"]["tokenName"], "mine", "{:?}", revoked.body);
    assert_eq!(wf(&app, Method::GET, "/api/v2/apitoken", &token, None).await.status, StatusCode::UNAUTHORIZED);
    let after = wf(&app, Method::DELETE, &format!("/api/v2/apitoken/{native_id}"), &manager, None).await;
    assert_eq!(after.status, StatusCode::CONFLICT, "the manager cannot delete its own key");
    let no_body = wf(&app, Method::PUT, "/api/v2/apitoken/customertokens/revoke", &manager, None).await;
    assert_eq!((no_body.status, no_body.body["status"]["result"].as_str()), (StatusCode::BAD_REQUEST, Some("ERROR")));
    let bearer = app.get("/api/v2/apitoken", &manager).await;
    assert_eq!(bearer.status, StatusCode::OK, "Bearer works as well as X-AUTH-TOKEN");
    let nobody = app.send(Method::GET, "/api/v2/apitoken", &[], None).await;
    assert_eq!((nobody.status, nobody.body["status"]["code"].as_u64()), (StatusCode::UNAUTHORIZED, Some(401)));
}

async fn another_accounts_service_accounts_and_tokens_are_not_found(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, a_key, a) = app.tenant("acme", &["service-accounts:write", "api-keys:write"]).await;
    let (_, _, _, b) = app.tenant("globex", &["service-accounts:write", "api-keys:write"]).await;
    wf(&app, Method::POST, SAS, &a, Some(json!({"identifier": "sa::secret-team"}))).await;
    let a_tokens = wf(&app, Method::POST, "/api/v2/apitoken/serviceaccount/sa::secret-team", &a, None).await;
    let a_token = token_ids(&a_tokens)[0].clone();
    for (method, path, body) in [
        (Method::GET, format!("{SAS}/sa::secret-team"), None),
        (Method::PUT, format!("{SAS}/sa::secret-team"), Some(json!({"identifier": "sa::mine"}))),
        (Method::POST, format!("{SAS}/sa::secret-team/deactivate"), None),
        (Method::DELETE, "/api/v2/account/sa::secret-team".to_owned(), None),
        (Method::GET, "/api/v2/apitoken/serviceaccount/sa::secret-team".to_owned(), None),
        (Method::POST, "/api/v2/apitoken/serviceaccount/sa::secret-team".to_owned(), None),
        (Method::DELETE, format!("/api/v2/apitoken/serviceaccount/svc/{a_token}"), None),
        (Method::GET, format!("/api/v2/apitoken/customertokens/{a_key}"), None),
        (Method::PUT, "/api/v2/apitoken/customertokens/revoke".to_owned(), Some(json!({"tokenID": a_token}))),
    ] {
        let answer = wf(&app, method.clone(), &path, &b, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", answer.body);
    }
    let listed = wf(&app, Method::GET, "/api/v2/apitoken/customertokens", &b, None).await;
    assert!(!listed.body.to_string().contains(&a_token) && !listed.body.to_string().contains(&a_key));
    assert_eq!(
        wf(&app, Method::GET, "/api/v2/apitoken", &a_token, None).await.status,
        StatusCode::OK,
        "acme's token still works"
    );
}

http_tests!(
    service_accounts_and_their_tokens_live_through_the_wavefront_api,
    own_and_customer_tokens,
    another_accounts_service_accounts_and_tokens_are_not_found,
);
