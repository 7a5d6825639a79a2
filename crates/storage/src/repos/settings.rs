//! Server-wide settings, and re-sealing everything sealed under the master key.

use diesel::prelude::*;
use domain::Error;
use domain::error::Entity;
use domain::id::{ApiKeyId, SecretKeyId, SigningKeyId, WebhookId};
use domain::repository::{RepoError, RepoResult, Reseal, SettingsRepository};

use crate::Store;
use crate::error::TxError;
use crate::schema::{api_keys, secret_keys, settings, signing_keys, webhooks};

/// The name of the master-key check value, and its sealing context.
const CHECK: &str = "master_key_check";

fn id<T>(raw: &str, from: impl Fn(uuid::Uuid) -> T) -> Result<T, TxError> {
    uuid::Uuid::try_parse(raw)
        .map(from)
        .map_err(|_| TxError::Repo(RepoError::Unavailable(format!("a stored id is not a UUID: {raw}"))))
}

impl SettingsRepository for Store {
    fn init_setting(&self, name: &str, value: &[u8]) -> RepoResult<Vec<u8>> {
        let result = self.write(Entity::Account, |c| {
            let existing: Option<Vec<u8>> =
                settings::table.find(name).select(settings::value).get_result(c).optional()?;
            if let Some(v) = existing {
                return Ok(v);
            }
            diesel::insert_into(settings::table)
                .values((settings::name.eq(name), settings::value.eq(value)))
                .execute(c)?;
            Ok(value.to_vec())
        });
        match result {
            // Another node stored the setting at the same moment: read what it stored.
            Err(RepoError::NameTaken(_)) => {
                self.read(Entity::Account, |c| Ok(settings::table.find(name).select(settings::value).get_result(c)?))
            }
            other => other,
        }
    }

    fn reseal_all(&self, reseal: &mut Reseal<'_>) -> Result<usize, Error> {
        let mut again = |context: &[u8], sealed: &[u8]| reseal(context, sealed).map_err(TxError::Domain);
        let result = self.transaction(|c| {
            let mut count = 0;
            let rows: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = secret_keys::table
                .select((secret_keys::id, secret_keys::sealed_secret, secret_keys::previous_sealed_secret))
                .load(c)?;
            for (raw, current, previous) in rows {
                let context = domain::secret_key::seal_context(id(&raw, SecretKeyId::from_uuid)?);
                let current = again(&context, &current)?;
                let previous = previous.map(|p| again(&context, &p)).transpose()?;
                count += 1 + usize::from(previous.is_some());
                diesel::update(secret_keys::table.find(&raw))
                    .set((secret_keys::sealed_secret.eq(current), secret_keys::previous_sealed_secret.eq(previous)))
                    .execute(c)?;
            }
            let rows: Vec<(String, Option<Vec<u8>>)> = api_keys::table
                .filter(api_keys::sealed_secret.is_not_null())
                .select((api_keys::id, api_keys::sealed_secret))
                .load(c)?;
            for (raw, sealed) in rows {
                let Some(sealed) = sealed else { continue };
                let sealed = again(&domain::api_key::seal_context(id(&raw, ApiKeyId::from_uuid)?), &sealed)?;
                diesel::update(api_keys::table.find(&raw)).set(api_keys::sealed_secret.eq(Some(sealed))).execute(c)?;
                count += 1;
            }
            let rows: Vec<(String, Vec<u8>)> =
                signing_keys::table.select((signing_keys::kid, signing_keys::sealed_private_key)).load(c)?;
            for (raw, sealed) in rows {
                let sealed = again(&domain::signing_key::seal_context(id(&raw, SigningKeyId::from_uuid)?), &sealed)?;
                diesel::update(signing_keys::table.find(&raw))
                    .set(signing_keys::sealed_private_key.eq(sealed))
                    .execute(c)?;
                count += 1;
            }
            let rows: Vec<(String, Vec<u8>)> =
                webhooks::table.select((webhooks::id, webhooks::sealed_secret)).load(c)?;
            for (raw, sealed) in rows {
                let context = domain::webhook::SigningSecret::seal_context(id(&raw, WebhookId::from_uuid)?);
                diesel::update(webhooks::table.find(&raw))
                    .set(webhooks::sealed_secret.eq(again(&context, &sealed)?))
                    .execute(c)?;
                count += 1;
            }
            let check: Option<Vec<u8>> =
                settings::table.find(CHECK).select(settings::value).get_result(c).optional()?;
            if let Some(check) = check {
                let context = domain::sealing::Sealer::CHECK_CONTEXT;
                diesel::update(settings::table.find(CHECK))
                    .set(settings::value.eq(again(context, &check)?))
                    .execute(c)?;
                count += 1;
            }
            Ok(count)
        });
        result.map_err(|e| e.into_domain(Entity::SecretKey))
    }
}
