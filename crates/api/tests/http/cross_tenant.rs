//! The cross-tenant matrix, generated from the OpenAPI document: for every operation whose path
//! names an account or a resource, a credential of another account (with every permission in its
//! own) gets the route's "not found", never the resource and never "forbidden". A route added later
//! is covered without anyone writing a test for it; a path parameter nobody taught this test to
//! fill makes it fail, so that someone does.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use storage::testing::TestDb;

use crate::common::spawn;

/// Account A's resources, which account B's credential probes.
struct Victim {
    account: String,
    service_account: String,
    service_account_name: &'static str,
    api_key: String,
    secret_key: String,
    federated_credential: String,
    webhook: String,
    zenml_stack: String,
}

impl Victim {
    /// The value of path parameter `name` in `path`, or `None` for a parameter nobody taught us.
    fn fill(&self, path: &str, name: &str) -> Option<String> {
        let secret_keys = path.contains("/secret-keys/") || path.contains("/keys/{keyId}");
        Some(match name {
            "account_id" => self.account.clone(),
            "service_account_id" | "serviceAccountId" | "service_account_name_or_id" => self.service_account.clone(),
            "key_id_or_name" | "key_id" | "api_key_name_or_id" if !secret_keys => self.api_key.clone(),
            "key_id" | "keyId" => self.secret_key.clone(),
            "token" => self.api_key.clone(),
            "federated_credential_id" => self.federated_credential.clone(),
            "webhook_id" => self.webhook.clone(),
            "role_name" => "victim-role".to_owned(),
            // Dialects' `{id}`: what the route's path says it names.
            "id" if path.starts_with("/api/v2/account") => self.service_account_name.to_owned(),
            "id" if path.starts_with("/api/v2/apitoken/serviceaccount") => self.service_account_name.to_owned(),
            "id" if path.starts_with("/api/v2/") => self.api_key.clone(),
            "id" if path.starts_with("/api/accounts/service-identity") => self.service_account.clone(),
            "id" if path.starts_with("/api/accounts/") => self.account.clone(),
            "project_name_or_id" => self.account.clone(),
            "stack_id" => self.zenml_stack.clone(),
            _ => return None,
        })
    }
}

/// Follows a `$ref` into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            r.strip_prefix("#/components/schemas/").and_then(|n| doc["components"]["schemas"].get(n)).unwrap_or(schema)
        }
        None => schema,
    }
}

/// A body holding the schema's required properties (and a `name`, which some vendors' shared
/// create-and-update models leave optional but creation needs), with plain valid values.
fn minimal_body(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let mut body = Map::new();
    let required = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
    let named = ["name", "tokenName"].into_iter().filter(|n| schema["properties"].get(*n).is_some());
    for name in required.chain(named) {
        let property = resolve(doc, &schema["properties"][name]);
        let kind =
            property["type"].as_str().or_else(|| property["type"].get(0).and_then(Value::as_str)).unwrap_or("string");
        let value = match kind {
            "integer" | "number" => json!(0),
            "boolean" => json!(false),
            "array" => json!([]),
            "object" => json!({}),
            _ => json!("cross-tenant-probe"),
        };
        body.insert(name.to_owned(), value);
    }
    Value::Object(body)
}

async fn another_accounts_credential_finds_nothing_anywhere(db: TestDb) {
    let app = spawn(db).await;
    let (account, _, _, _) = app.tenant("victim", &[]).await;
    let sa =
        app.post(&format!("/v1/accounts/{account}/service-accounts"), &app.admin, json!({"name": "alpha-sa"})).await;
    let service_account = sa.body["id"].as_str().unwrap().to_owned();
    let keys = format!("/v1/accounts/{account}/service-accounts/{service_account}");
    let api_key = app.post(&format!("{keys}/api-keys"), &app.admin, json!({"name": "alpha-key"})).await;
    let secret_key = app.post(&format!("{keys}/secret-keys"), &app.admin, json!({"name": "alpha-secret"})).await;
    let federated = app
        .post(
            &format!("{keys}/federated-credentials"),
            &app.admin,
            json!({"name": "alpha-federated", "issuer": "https://issuer.example", "audiences": ["keyward"], "subject": "ci"}),
        )
        .await;
    let hooks = format!("/v1/accounts/{account}/webhooks");
    let webhook = app
        .post(&hooks, &app.admin, json!({"url": "https://hooks.example.com/", "events": ["credential.leaked"]}))
        .await;
    let role = app.post(&format!("/v1/accounts/{account}/roles"), &app.admin, json!({"name": "victim-role"})).await;
    assert_eq!(role.status, StatusCode::CREATED, "{:?}", role.body);
    let alpha = api_key.body["secret"].as_str().unwrap();
    let stacks = app.call(Method::GET, "/api/v1/stacks", Some(alpha), None).await;
    let victim = Victim {
        account,
        service_account,
        service_account_name: "alpha-sa",
        api_key: api_key.body["id"].as_str().unwrap().to_owned(),
        secret_key: secret_key.body["id"].as_str().unwrap().to_owned(),
        federated_credential: federated.body["id"].as_str().unwrap().to_owned(),
        webhook: webhook.body["id"].as_str().unwrap().to_owned(),
        zenml_stack: stacks.body["items"][0]["id"].as_str().unwrap().to_owned(),
    };
    let (_, _, _, intruder) = app.tenant("intruder", &["account:admin"]).await;

    let doc = serde_json::to_value(api::openapi_document()).unwrap();
    let mut probed = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let names: Vec<&str> = template.split('{').skip(1).filter_map(|rest| rest.split('}').next()).collect();
        if names.is_empty() {
            continue;
        }
        let mut path = template.clone();
        for name in &names {
            let value = victim
                .fill(template, name)
                .unwrap_or_else(|| panic!("teach the cross-tenant matrix what `{name}` in {template} names"));
            path = path.replace(&format!("{{{name}}}"), &value);
        }
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = operation["requestBody"]["content"]["application/json"]["schema"].clone();
            let body = (!body.is_null()).then(|| minimal_body(&doc, &body));
            let answer = app.call(method.clone(), &path, Some(&intruder), body).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {template}: another account's credential must find nothing: {:?}",
                answer.body
            );
            probed += 1;
        }
    }
    assert!(probed >= 40, "only {probed} operations were probed");
    let still = app.get(&format!("{keys}/api-keys/alpha-key"), &app.admin).await;
    assert_eq!(still.body["state"], "active", "and nothing of the victim's changed");
}

http_tests!(another_accounts_credential_finds_nothing_anywhere);
