//! A webhook receiver on loopback: it keeps every request it gets and answers with the status a
//! test sets.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    status: AtomicU16,
    got: Mutex<Vec<Received>>,
}

/// A running receiver.
#[derive(Clone)]
pub struct TestReceiver {
    /// Where it listens.
    pub url: String,
    inner: Arc<Inner>,
}

impl TestReceiver {
    /// Starts a receiver that answers 204 until told otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner { status: AtomicU16::new(204), got: Mutex::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/keyward", listener.local_addr().unwrap());
        let app = Router::new().route("/hooks/keyward", post(receive)).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    inner.got.lock().unwrap().push(Received { headers, body });
    StatusCode::from_u16(inner.status.load(Ordering::SeqCst)).unwrap()
}
