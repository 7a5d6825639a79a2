//! DPoP at the service: accepting a proof once (its `jti` spent in storage, shared by every node),
//! server nonces sealed under the master key (so any node checks any node's), and authenticating
//! an access token bound to a key with the proof that goes with it.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Keyward;
use crate::dpop::{MAX_PROOF_AGE_SECONDS, MAX_PROOF_SKEW_SECONDS, ProofRefusal, ProofRequest, Thumbprint, check_proof};
use crate::error::Error;
use crate::key::Rejection;
use crate::principal::Principal;

/// How long one server nonce is handed out, in seconds. A nonce is accepted in its period and the
/// next, so it lives between one and two periods.
pub const NONCE_PERIOD_SECONDS: i64 = 300;

/// The sealing context of server nonces, so that no other sealed value passes for one.
const NONCE_CONTEXT: &[u8] = b"keyward dpop nonce v1";

/// Why a request with a DPoP-bound token was refused: the token, or its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundRefusal {
    /// The token is not valid, or not bound to the proof's key.
    Token(Rejection),
    /// The proof is not valid, or must carry a fresh nonce.
    Proof(ProofRefusal),
}

impl Keyward {
    /// The same, requiring every DPoP proof to carry a server nonce (RFC 9449 §8).
    pub fn with_dpop_nonces(mut self, required: bool) -> Self {
        self.dpop_nonces = required;
        self
    }

    /// Whether DPoP proofs must carry a server nonce.
    pub fn dpop_nonces_required(&self) -> bool {
        self.dpop_nonces
    }

    /// A fresh server nonce: the current period, sealed under the master key.
    pub fn dpop_nonce(&self) -> String {
        let period = self.now().timestamp().div_euclid(NONCE_PERIOD_SECONDS);
        URL_SAFE_NO_PAD.encode(self.sealer.seal(&period.to_be_bytes(), NONCE_CONTEXT, self.entropy.as_ref()))
    }

    /// Whether `nonce` is one Keyward handed out in this period or the last.
    fn nonce_holds(&self, nonce: &str) -> bool {
        let period = self.now().timestamp().div_euclid(NONCE_PERIOD_SECONDS);
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let Ok(opened) = self.sealer.open(&sealed, NONCE_CONTEXT) else { return false };
        let Ok(bytes) = <[u8; 8]>::try_from(opened.as_slice()) else { return false };
        let issued = i64::from_be_bytes(bytes);
        issued == period || issued == period - 1
    }

    /// Accepts a DPoP proof: it holds (see [`check_proof`]), carries a valid nonce when nonces are
    /// required (or whenever it carries one), and its `jti` was never used with its key. Returns
    /// the key's thumbprint. The outer error is a storage failure.
    pub fn accept_proof(&self, request: &ProofRequest<'_>) -> Result<Result<Thumbprint, ProofRefusal>, Error> {
        let now = self.now();
        let proof = match check_proof(request, now.timestamp()) {
            Ok(proof) => proof,
            Err(why) => return Ok(Err(ProofRefusal::Invalid(why))),
        };
        let nonce_ok = match proof.nonce.as_deref() {
            Some(nonce) => self.nonce_holds(nonce),
            None => !self.dpop_nonces,
        };
        if !nonce_ok {
            return Ok(Err(ProofRefusal::UseNonce));
        }
        // The proof is refused once it is too old, so its jti need be remembered no longer.
        let forget_at = chrono::DateTime::from_timestamp(proof.iat + MAX_PROOF_AGE_SECONDS + MAX_PROOF_SKEW_SECONDS, 0)
            .unwrap_or(now);
        if !self.repo.use_assertion(&format!("dpop:{}", proof.thumbprint), &proof.jti, forget_at, now)? {
            return Ok(Err(ProofRefusal::Invalid("the DPoP proof was used before")));
        }
        Ok(Ok(proof.thumbprint))
    }

    /// Authenticates an access token presented with `Authorization: DPoP` and its proof: the proof
    /// is accepted for this request and this token (`ath`), and the token is valid and bound to
    /// the proof's key. A token bound to no key is refused here: it is a bearer token.
    pub fn authenticate_bound(
        &self,
        request: &ProofRequest<'_>,
        ip: Option<IpAddr>,
    ) -> Result<Result<Principal, BoundRefusal>, Error> {
        let Some(token) = request.access_token else {
            return Ok(Err(BoundRefusal::Token(Rejection::Malformed)));
        };
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) if matches!(h.alg, jsonwebtoken::Algorithm::EdDSA | jsonwebtoken::Algorithm::ES256) => h,
            _ => return Ok(Err(BoundRefusal::Token(Rejection::Malformed))),
        };
        let thumbprint = match self.accept_proof(request)? {
            Ok(t) => t,
            Err(refusal) => return Ok(Err(BoundRefusal::Proof(refusal))),
        };
        Ok(self.authenticate_access_token(token, &header, ip, Some(&thumbprint))?.map_err(BoundRefusal::Token))
    }
}
