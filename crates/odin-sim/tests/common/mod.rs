//! Helpers shared by the integration tests: an in-process client over the router, and a raw
//! HTTP/1.1 exchange over TCP for what only the wire shows (dropped connections, the binary).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use odin_sim::{DropConnection, SimConfig, SimState, router};
use serde_json::Value;
use tower::ServiceExt;

pub(crate) const ALICE: &str = "user0001@demo.example";
pub(crate) const BOB: &str = "user0002@demo.example";
pub(crate) const SP: &str = "demo-sp";
pub(crate) const GROUP: &str = "demo-group";

/// One answer, as an in-process test sees it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The simulator asked for the connection to be closed without an answer.
    pub dropped: bool,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "answer {} is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    /// The `details` text of an error body.
    pub(crate) fn details(&self) -> String {
        self.json()["details"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

/// A simulator driven in-process through `tower::ServiceExt::oneshot`.
pub(crate) struct Sim {
    pub router: Router,
    pub state: SimState,
}

impl Sim {
    pub(crate) fn new(config: SimConfig) -> Self {
        let state = SimState::new(config);
        Sim {
            router: router(state.clone()),
            state,
        }
    }

    /// Three users, seed 1.
    pub(crate) fn demo() -> Self {
        Sim::new(SimConfig::with_users(3).with_seed(1))
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(body.map_or_else(Body::empty, |body| Body::from(body.to_owned())))
            .expect("request");
        self.send_request(request).await
    }

    pub(crate) async fn send_request(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let dropped = response.extensions().get::<DropConnection>().is_some();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
            dropped,
        }
    }

    pub(crate) async fn login(&self) -> String {
        let answer = self
            .send(
                "POST",
                "/api/v2/auth/token",
                None,
                Some(r#"{"username": "admin", "password": "admin"}"#),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.details());
        answer.json()["token"].as_str().expect("token").to_owned()
    }

    pub(crate) async fn get(&self, token: &str, path: &str) -> Answer {
        self.send("GET", &format!("/api/v2{path}"), Some(token), None)
            .await
    }

    pub(crate) async fn put(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send(
            "PUT",
            &format!("/api/v2{path}"),
            Some(token),
            Some(&body.to_string()),
        )
        .await
    }

    pub(crate) async fn truth(&self, path: &str) -> Answer {
        self.send("GET", path, None, None).await
    }
}

/// One HTTP/1.1 exchange over a fresh connection: the status and body, or `None` when the
/// server closed the connection without answering.
pub(crate) fn raw_http(addr: SocketAddr, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    // A reset counts as "no answer" just like a clean close.
    let _ = stream.read_to_end(&mut answer);
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A request text with `Connection: close`, so that `raw_http` reads to the end.
pub(crate) fn request_text(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text
}
