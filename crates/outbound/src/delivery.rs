//! Sends webhook deliveries: a POST within the same bounds as every other fetch, refused before
//! connecting when the host resolves to a loopback or private address (unless allowed);
//! implements the domain's [`WebhookSender`] port.

use std::net::ToSocketAddrs;

use domain::webhook::{WebhookSender, WebhookUrl, is_private};

use crate::http::{Http, Limits};

/// Posts deliveries over HTTP.
#[derive(Debug)]
pub struct WebhookPoster {
    http: Http,
    allow_private: bool,
}

impl WebhookPoster {
    /// A poster within `limits`; `allow_private` lets deliveries reach loopback and private
    /// addresses (tests and trials on one machine).
    pub fn new(limits: Limits, allow_private: bool) -> Self {
        Self { http: Http::new(limits), allow_private }
    }
}

impl WebhookSender for WebhookPoster {
    fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Result<u16, String> {
        let parsed = WebhookUrl::parse(url, "url").map_err(|e| e.message)?;
        if !self.allow_private {
            let port = if url.starts_with("https://") { 443 } else { 80 };
            let addresses =
                (parsed.host(), port).to_socket_addrs().map_err(|_| "the host does not resolve".to_owned())?;
            if addresses.into_iter().any(|a| is_private(a.ip())) {
                return Err("the host resolves to a loopback or private address".to_owned());
            }
        }
        self.http.post(url, headers, body)
    }
}
