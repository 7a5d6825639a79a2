//! Where a console request is: the ids its path names, parsed before the handler runs, so that a
//! bad id answers the error page and no handler parses a path segment itself.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use domain::id::{AccountId, FederatedCredentialId, ServiceAccountId, WebhookId};

use super::kind::Kind;
use super::layout;
use super::session::Session;
use web::error::ApiError;
use web::state::AppState;

/// The named segments of a console path (`account`, `sa`, ...), as the router matched them.
pub(crate) struct Segments(HashMap<String, String>);

impl Segments {
    /// The segment `name`; empty when the route has none, which no id parses.
    fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    fn account(&self) -> Result<AccountId, ApiError> {
        Ok(AccountId::parse(self.get("account"), "account")?)
    }

    fn service_account(&self) -> Result<(AccountId, ServiceAccountId), ApiError> {
        Ok((self.account()?, ServiceAccountId::parse(self.get("sa"), "service_account")?))
    }
}

/// What a path names, read from its segments in path order: the first bad one is the error.
pub(crate) trait Place: Sized {
    /// The ids of `segments`, or what is wrong with the first that does not parse.
    fn parse(segments: &Segments) -> Result<Self, ApiError>;
}

/// A path that names nothing (`/console/accounts`, `/console/sign-out`).
impl Place for () {
    fn parse(_: &Segments) -> Result<Self, ApiError> {
        Ok(())
    }
}

/// `/console/accounts/{account}/...`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountPlace {
    pub account: AccountId,
}

impl Place for AccountPlace {
    fn parse(segments: &Segments) -> Result<Self, ApiError> {
        Ok(Self { account: segments.account()? })
    }
}

/// `/console/accounts/{account}/webhooks/{id}/...`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebhookPlace {
    pub account: AccountId,
    pub id: WebhookId,
}

impl Place for WebhookPlace {
    fn parse(segments: &Segments) -> Result<Self, ApiError> {
        Ok(Self { account: segments.account()?, id: WebhookId::parse(segments.get("id"), "webhook")? })
    }
}

/// `/console/accounts/{account}/service-accounts/{sa}/...`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceAccountPlace {
    pub account: AccountId,
    pub sa: ServiceAccountId,
}

impl Place for ServiceAccountPlace {
    fn parse(segments: &Segments) -> Result<Self, ApiError> {
        let (account, sa) = segments.service_account()?;
        Ok(Self { account, sa })
    }
}

/// `.../service-accounts/{sa}/federated-credentials/{id}/...`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CredentialPlace {
    pub account: AccountId,
    pub sa: ServiceAccountId,
    pub id: FederatedCredentialId,
}

impl Place for CredentialPlace {
    fn parse(segments: &Segments) -> Result<Self, ApiError> {
        let (account, sa) = segments.service_account()?;
        Ok(Self { account, sa, id: FederatedCredentialId::parse(segments.get("id"), "federated_credential")? })
    }
}

/// `.../service-accounts/{sa}/{kind}` and, for one key, `.../{kind}/{key}/{action}`: the key and
/// the action stay text, since which id the key is depends on the kind, and an unknown action is
/// the handler's to refuse.
#[derive(Debug, Clone)]
pub(crate) struct KeyPlace {
    pub account: AccountId,
    pub sa: ServiceAccountId,
    pub kind: Kind,
    pub key: String,
    pub action: String,
}

impl Place for KeyPlace {
    fn parse(segments: &Segments) -> Result<Self, ApiError> {
        let (account, sa) = segments.service_account()?;
        Ok(Self {
            account,
            sa,
            kind: Kind::parse(segments.get("kind"))?,
            key: segments.get("key").to_owned(),
            action: segments.get("action").to_owned(),
        })
    }
}

/// The place of a request from `session`: a path that does not parse answers the error page.
pub(crate) async fn read<P: Place>(parts: &mut Parts, state: &AppState, session: &Session) -> Result<P, Response> {
    let Path(segments) =
        Path::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
    P::parse(&Segments(segments)).map_err(|e| layout::error_page(Some(session), &e))
}

/// A page asked for by a signed-in person, and the place its path names.
#[derive(Debug)]
pub(crate) struct SignedIn<P> {
    /// Who asked.
    pub session: Session,
    /// What the path names.
    pub place: P,
}

impl<P: Place + Send> FromRequestParts<AppState> for SignedIn<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let place = read(parts, state, &session).await?;
        Ok(Self { session, place })
    }
}
