//! `keyward admin`: operator commands on the configured database, without a running server. They
//! call the same domain operations as the HTTP API, as a system administrator whose audit actor is
//! `system:cli`, and print a readable table, or JSON with `--json`.

use anyhow::{Context, Result};
use domain::api_key::{ApiKeyChanges, NewApiKey};
use domain::id::{AccountId, ServiceAccountId};
use domain::key::Expiry;
use domain::page::Page;
use domain::repository::{ApiKeyQuery, KeyRef, ServiceAccountQuery};
use domain::scope::Scopes;
use domain::service::Keyward;
use domain::service_account::NewServiceAccount;
use domain::text::{Description, Metadata, Name};
use serde_json::{Value, json};

use crate::cli::{AccountsCommand, AdminCommand, ApiKeysCommand, ServiceAccountsCommand, SigningKeysCommand};

/// Runs one admin command with `kw` and prints its result.
pub fn run(kw: &Keyward, command: AdminCommand, json_out: bool) -> Result<()> {
    let p = kw.operator().context("finding the system account (is the database initialized?)")?;
    let (columns, rows): (&[&str], Vec<Value>) = match command {
        AdminCommand::ResetKey { .. } | AdminCommand::RotateMasterKey => unreachable_reset(),
        AdminCommand::Accounts(AccountsCommand::List) => {
            let all = Page::collect_all(|page| kw.list_accounts(&p, &page))?;
            (
                &["id", "name", "created_at"],
                all.iter()
                    .map(|a| json!({"id": a.id.to_string(), "name": a.name.as_str(), "created_at": a.created_at}))
                    .collect(),
            )
        }
        AdminCommand::Accounts(AccountsCommand::Create { name }) => {
            let a = kw.create_account(&p, domain::account::NewAccount { name: Name::parse(&name, "name")? })?;
            (
                &["id", "name", "created_at"],
                vec![json!({"id": a.id.to_string(), "name": a.name.as_str(), "created_at": a.created_at})],
            )
        }
        AdminCommand::ServiceAccounts(ServiceAccountsCommand::List { account }) => {
            let account = AccountId::parse(&account, "account")?;
            let all = Page::collect_all(|page| {
                kw.list_service_accounts(&p, account, &ServiceAccountQuery { page, ..Default::default() })
            })?;
            (&["id", "name", "active", "created_at"], all.iter().map(service_account).collect())
        }
        AdminCommand::ServiceAccounts(ServiceAccountsCommand::Create { account, name, description }) => {
            let account = AccountId::parse(&account, "account")?;
            let new = NewServiceAccount {
                name: Name::parse(&name, "name")?,
                description: Description::parse(description.as_deref().unwrap_or(""), "description")?,
                active: true,
                metadata: Metadata::default(),
                limits: Default::default(),
            };
            let sa = kw.create_service_account(&p, account, new)?;
            (&["id", "name", "active", "created_at"], vec![service_account(&sa)])
        }
        AdminCommand::ApiKeys(ApiKeysCommand::List { account, service_account }) => {
            let account = AccountId::parse(&account, "account")?;
            let sa = service_account.as_deref().map(|s| ServiceAccountId::parse(s, "service-account")).transpose()?;
            let all = Page::collect_all(|page| {
                kw.list_account_api_keys(
                    &p,
                    account,
                    ApiKeyQuery { service_account_id: sa, page, ..Default::default() },
                )
            })?;
            let now = kw.now();
            (
                &["id", "name", "service_account_id", "state", "scopes", "last_used_at"],
                all.iter().map(|k| api_key(k, now)).collect(),
            )
        }
        AdminCommand::ApiKeys(ApiKeysCommand::Create { account, service_account, name, scope }) => {
            let account = AccountId::parse(&account, "account")?;
            let sa = ServiceAccountId::parse(&service_account, "service-account")?;
            let new = NewApiKey::new(Name::parse(&name, "name")?, Scopes::parse(&scope, "scope")?, Expiry::Never);
            let issued = kw.create_key(&p, account, sa, new)?;
            let mut row = api_key(&issued.key, kw.now());
            row["secret"] = issued.secret.expose().into();
            (&["id", "name", "scopes", "secret"], vec![row])
        }
        AdminCommand::ApiKeys(ApiKeysCommand::Revoke { account, service_account, key }) => {
            let account = AccountId::parse(&account, "account")?;
            let sa = ServiceAccountId::parse(&service_account, "service-account")?;
            let key = match domain::id::ApiKeyId::parse(&key, "key") {
                Ok(id) => KeyRef::Id(id),
                Err(_) => KeyRef::Name(Name::parse(&key, "key")?),
            };
            let changes = ApiKeyChanges { active: Some(false), ..Default::default() };
            let k = kw.update_key(&p, account, sa, &key, changes)?;
            (&["id", "name", "state"], vec![api_key(&k, kw.now())])
        }
        AdminCommand::SigningKeys(SigningKeysCommand::List) => {
            kw.ensure_signing_keys().context("creating the first signing keys")?;
            (&["kid", "algorithm", "state", "created_at"], kw.list_signing_keys(&p)?.iter().map(signing_key).collect())
        }
        AdminCommand::SigningKeys(SigningKeysCommand::Rotate) => {
            kw.ensure_signing_keys().context("creating the first signing keys")?;
            let keys = kw.rotate_signing_keys(&p)?;
            api::metrics::signing_key_rotated("request");
            (&["kid", "algorithm", "state", "created_at"], keys.iter().map(signing_key).collect())
        }
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&rows).context("encoding the answer")?);
    } else {
        print!("{}", table(columns, &rows));
    }
    Ok(())
}

/// `reset-key` and `rotate-master-key` have their own paths (they need no operator); never
/// reached here.
fn unreachable_reset() -> (&'static [&'static str], Vec<Value>) {
    (&[], Vec::new())
}

fn service_account(sa: &domain::service_account::ServiceAccount) -> Value {
    json!({"id": sa.id.to_string(), "name": sa.name.as_str(), "active": sa.active, "created_at": sa.created_at})
}

fn api_key(k: &domain::api_key::ApiKey, now: domain::Timestamp) -> Value {
    json!({
        "id": k.id.to_string(),
        "name": k.name.as_str(),
        "service_account_id": k.service_account_id.to_string(),
        "state": k.state(now),
        "scopes": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
        "last_used_at": k.last_used_at,
    })
}

fn signing_key(k: &domain::signing_key::SigningKey) -> Value {
    json!({"kid": k.kid.to_string(), "algorithm": k.algorithm.as_str(), "state": k.state.as_str(), "created_at": k.created_at})
}

/// A plain text table: a header row and one row per item, columns padded to their widest cell.
fn table(columns: &[&str], rows: &[Value]) -> String {
    let cell = |row: &Value, col: &str| match &row[col] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| rows.iter().map(|r| cell(r, c).chars().count()).chain([c.len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(columns.iter().map(|c| c.to_uppercase()).collect());
    for row in rows {
        out.push_str(&line(columns.iter().map(|c| cell(row, c)).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_pad_columns_to_their_widest_cell() {
        let rows = vec![serde_json::json!({"id": "1", "name": "acme"}), serde_json::json!({"id": "22", "name": null})];
        assert_eq!(super::table(&["id", "name"], &rows), "ID  NAME\n1   acme\n22  -\n");
    }
}
