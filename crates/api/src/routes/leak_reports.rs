//! `/v1/credentials/revoke` and `/v1/secret-scanning/github`: where a Keyward key seen in public
//! is reported, by anyone or by GitHub's secret scanning, and disabled at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use domain::leak::{MAX_REPORTED, Reporter, SignatureRefusal, Verdict};
use domain::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::error::{ApiError, ApiResult, Problem};
use web::extract::{ClientIp, parse_json};
use web::state::AppState;

/// The largest report body: 1000 credential strings of about 110 bytes, with room for GitHub's
/// per-match URLs.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Credential strings seen somewhere they should not be.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakReport {
    /// Up to 1000 credential strings (`kw_ak_...` or `kw_sk_...`). Strings that are not live
    /// Keyward keys are ignored.
    #[schema(value_type = Vec<String>, max_items = 1000)]
    pub credentials: Vec<SecretString>,
}

/// Reports leaked credentials. Needs no authentication: whoever holds a key's secret may have it
/// disabled. Every string that is a live key's secret puts that key in the `leaked` state on every
/// node, audited as `credential.leaked` with the reporter's address. The answer is the same
/// whatever the strings were, so it tells nothing about them. Limited per address
/// (`KEYWARD_LEAK_REPORTS_PER_MINUTE`).
#[utoipa::path(post, path = "/v1/credentials/revoke", tag = "leak reports",
    request_body(content = LeakReport, content_type = "application/json"),
    responses(
        (status = 202, description = "Received; every live key among the strings is now disabled as leaked."),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn report_leaked_credentials(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<StatusCode> {
    // Counted before the body is read, so that malformed reports count too.
    state.leak_report_limiter().admit(ip)?;
    // The domain refuses more than 1000 strings, naming `credentials`.
    let body: LeakReport = parse_json(&body, 8)?;
    let reporter = Reporter::public(ip);
    let verdicts = state
        .run(move |kw| {
            let reported: Vec<&str> = body.credentials.iter().map(SecretString::expose).collect();
            kw.report_leaks(&reported, &reporter)
        })
        .await?;
    count("public", &verdicts);
    Ok(StatusCode::ACCEPTED)
}

/// One match that GitHub's secret scanning reports.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GithubMatch {
    /// The string that matched Keyward's pattern.
    #[schema(value_type = String)]
    pub token: SecretString,
    /// The pattern's type name as registered with GitHub, such as `keyward_api_key`.
    #[serde(rename = "type")]
    pub token_type: String,
    /// Where it was found.
    #[serde(default)]
    pub url: String,
    /// What kind of place that is, such as `content` or `commit`.
    #[serde(default)]
    pub source: String,
}

// `Debug` (below) hides the token, which may be a live key.
/// GitHub's label for one reported match.
#[derive(Serialize, ToSchema)]
pub struct GithubLabel {
    /// The reported string, as received.
    pub token_raw: String,
    /// The type it was reported with.
    pub token_type: String,
    /// `true_positive` (a live or already-leaked Keyward key, now disabled) or `false_positive`.
    #[schema(example = "true_positive")]
    pub label: &'static str,
}

impl std::fmt::Debug for GithubLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubLabel")
            .field("token_raw", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("label", &self.label)
            .finish()
    }
}

/// GitHub's secret-scanning partner endpoint. The body is signed with ECDSA P-256 SHA-256; the
/// `Github-Public-Key-Identifier` header names the key among those published at
/// `KEYWARD_SECRET_SCANNING_KEYS_URL`, and `Github-Public-Key-Signature` holds the base64 DER
/// signature. A report that does not verify is refused with 401 and changes nothing; one that
/// does is handled as a public report and answered with a label per match.
#[utoipa::path(post, path = "/v1/secret-scanning/github", tag = "leak reports",
    request_body = Vec<GithubMatch>,
    params(
        ("Github-Public-Key-Identifier" = String, Header, description = "The identifier of the key that signed the body."),
        ("Github-Public-Key-Signature" = String, Header, description = "The base64 DER ECDSA P-256 SHA-256 signature of the body.")),
    responses(
        (status = 200, body = Vec<GithubLabel>),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "GitHub's public keys could not be fetched.")))]
#[tracing::instrument(skip_all)]
pub async fn github_secret_scanning(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Vec<GithubLabel>>> {
    state.leak_report_limiter().admit(ip)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (key_id, signature) = (header("github-public-key-identifier"), header("github-public-key-signature"));
    let signed = body.clone();
    let checked =
        state.run(move |kw| Ok(kw.check_scanner_signature(&signed, key_id.as_deref(), signature.as_deref()))).await?;
    match checked {
        Ok(()) => {}
        Err(SignatureRefusal::Invalid(why)) => {
            tracing::warn!(reason = why, "a secret-scanning report was refused");
            return Err(ApiError::bad_signature(why));
        }
        Err(SignatureRefusal::Unavailable(e)) => {
            tracing::warn!(error = %e, "GitHub's secret-scanning keys could not be fetched");
            return Err(ApiError::dependency_unavailable(
                "GitHub's secret-scanning keys could not be fetched; try again",
            ));
        }
    }
    let matches: Vec<GithubMatch> = parse_json(&body, 8)?;
    if matches.len() > MAX_REPORTED {
        return Err(ApiError::validation("body", "at most 1000 matches per report"));
    }
    let (labels, verdicts) = state
        .run(move |kw| {
            let mut labels = Vec::with_capacity(matches.len());
            let mut verdicts = Vec::with_capacity(matches.len());
            for m in matches {
                let reporter = Reporter::github(ip, &m.source, &m.url);
                let verdict = kw.report_leaks(&[m.token.expose()], &reporter)?.pop().unwrap_or(Verdict::NotOurs);
                let label = if verdict.is_ours() { "true_positive" } else { "false_positive" };
                labels.push(GithubLabel { token_raw: m.token.expose().to_owned(), token_type: m.token_type, label });
                verdicts.push(verdict);
            }
            Ok((labels, verdicts))
        })
        .await?;
    count("github", &verdicts);
    Ok(Json(labels))
}

/// Counts a report's verdicts in `/metrics`.
fn count(source: &'static str, verdicts: &[Verdict]) {
    let of = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
    web::metrics::leak_report(source, of(Verdict::Revoked), of(Verdict::AlreadyLeaked), of(Verdict::NotOurs));
}

#[cfg(test)]
mod tests {
    use super::GithubLabel;

    #[test]
    fn a_labels_debug_never_shows_the_token() {
        let label =
            GithubLabel { token_raw: "kw_ak_secret".to_owned(), token_type: "t".to_owned(), label: "true_positive" };
        assert!(!format!("{label:?}").contains("kw_ak_secret"));
    }
}
