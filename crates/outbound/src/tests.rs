//! The fetcher against a real HTTP server on loopback: discovery, JWKS, caching, refreshing on an
//! unknown key within its limit, and each refusal.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A loopback issuer: answers discovery and JWKS with what `answer` says for each path, counting
/// the JWKS fetches. It serves until the test process ends.
struct TestIssuer {
    issuer: Issuer,
    jwks_fetches: Arc<AtomicUsize>,
}

fn serve(answer: impl Fn(&str, &str) -> (u16, String, String) + Send + Sync + 'static) -> TestIssuer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let counter = jwks_fetches.clone();
    let issuer = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {}
            if path == "/jwks" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            let (status, cache, body) = answer(&issuer, &path);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: {cache}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    TestIssuer { issuer: Issuer::parse(&base, "issuer").unwrap(), jwks_fetches }
}

fn jwks(kids: &[&str]) -> String {
    let keys: Vec<Value> = kids
        .iter()
        .map(|kid| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}))
        .collect();
    serde_json::json!({"keys": keys}).to_string()
}

fn discovery(issuer: &str, jwks_uri: &str) -> String {
    serde_json::json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string()
}

fn well_behaved(kids: &'static [&'static str], cache: &'static str) -> TestIssuer {
    serve(move |issuer, path| match path {
        "/.well-known/openid-configuration" => (200, cache.to_owned(), discovery(issuer, &format!("{issuer}/jwks"))),
        "/jwks" => (200, cache.to_owned(), jwks(kids)),
        _ => (404, cache.to_owned(), "{}".to_owned()),
    })
}

fn fetcher() -> IssuerKeyFetcher {
    IssuerKeyFetcher::new(Limits::default()).unwrap()
}

#[test]
fn keys_are_fetched_once_and_cached() {
    let test = well_behaved(&["k1"], "max-age=600");
    let f = fetcher();
    let keys = f.keys(&test.issuer, false).unwrap();
    assert!(keys.find("k1").is_some());
    f.keys(&test.issuer, false).unwrap();
    assert_eq!(test.jwks_fetches.load(Ordering::SeqCst), 1, "the second answer came from the cache");
    f.keys(&test.issuer, true).unwrap();
    assert_eq!(test.jwks_fetches.load(Ordering::SeqCst), 1, "an unknown key right after a fetch waits for the limit");
}

#[test]
fn an_unknown_key_fetches_again_after_the_limit() {
    let test = well_behaved(&["k1"], "max-age=600");
    let f = IssuerKeyFetcher::new(Limits { refresh_after: Duration::ZERO, ..Limits::default() }).unwrap();
    f.keys(&test.issuer, false).unwrap();
    f.keys(&test.issuer, true).unwrap();
    assert_eq!(test.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[test]
fn no_store_still_caches_for_the_minimum() {
    assert_eq!(max_age("public, max-age=120"), Some(Duration::from_secs(120)));
    assert_eq!(max_age("no-store"), Some(Duration::ZERO));
    assert_eq!(max_age("private"), None);
    let test = well_behaved(&["k1"], "no-store");
    let f = fetcher();
    f.keys(&test.issuer, false).unwrap();
    f.keys(&test.issuer, false).unwrap();
    assert_eq!(test.jwks_fetches.load(Ordering::SeqCst), 1, "a minute at least, or every token would fetch");
}

#[test]
fn unusable_issuers_are_refused_with_a_reason() {
    let wrong_issuer = serve(|issuer, path| match path {
        "/.well-known/openid-configuration" => {
            (200, String::new(), discovery("https://elsewhere.example", &format!("{issuer}/jwks")))
        }
        _ => (200, String::new(), jwks(&["k"])),
    });
    let e = fetcher().keys(&wrong_issuer.issuer, false).unwrap_err();
    assert!(e.0.contains("another issuer"), "{e}");

    let plain_http_jwks = serve(|issuer, _| (200, String::new(), discovery(issuer, "http://keys.example.com/jwks")));
    let e = fetcher().keys(&plain_http_jwks.issuer, false).unwrap_err();
    assert!(e.0.contains("not https"), "{e}");

    let missing = serve(|_, _| (404, String::new(), "{}".to_owned()));
    let e = fetcher().keys(&missing.issuer, false).unwrap_err();
    assert!(e.0.contains("answered 404"), "{e}");

    let huge = serve(|issuer, path| match path {
        "/.well-known/openid-configuration" => (200, String::new(), discovery(issuer, &format!("{issuer}/jwks"))),
        _ => (200, String::new(), format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(300 * 1024))),
    });
    let e = fetcher().keys(&huge.issuer, false).unwrap_err();
    assert!(e.0.contains("more than"), "{e}");

    let elsewhere = Issuer::parse("https://issuer.example", "issuer").unwrap();
    let local = IssuerKeyFetcher::new(Limits { loopback_only: true, ..Limits::default() }).unwrap();
    assert!(local.keys(&elsewhere, false).unwrap_err().0.contains("only from loopback"), "refused before any lookup");
    let test = well_behaved(&["k1"], "max-age=60");
    assert!(local.keys(&test.issuer, false).is_ok(), "loopback issuers still work");

    let nobody = Issuer::parse("http://127.0.0.1:9", "issuer").unwrap();
    assert!(fetcher().keys(&nobody, false).unwrap_err().0.contains("could not be reached"));
}
