//! `serve`'s HTTP server: the webhook routes ([`super::webhook`]), Kestra's REST API for
//! executions ([`super::api`]), `/health` and `/metrics` (Prometheus text).
//!
//! The API asks for credentials when `serve` has them (`KFLOW_API_TOKEN` for a bearer token,
//! `KFLOW_API_BASIC_AUTH` as `user:password`), and `serve` refuses to listen off the loopback
//! without them. Webhooks (their key is their credential), `/health` and `/metrics` are open.

// Helpers return the answer to give as their error (`Result<_, Response>`): its size is
// nothing next to a request's.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::webhook::{self, Hook};
use super::{api, say, Served};

/// The largest bodies taken: read into memory, and streamed to storage (`fetchType: STORE`).
pub(super) struct Limits {
    pub memory: usize,
    pub stored: u64,
}

/// The credentials the REST API asks for, as SHA-256 digests (compared in constant time).
#[derive(Default)]
pub struct ApiAuth {
    token: Option<[u8; 32]>,
    basic: Option<[u8; 32]>,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Digests only, and still not shown.
        f.debug_struct("ApiAuth")
            .field("token", &self.token.is_some())
            .field("basic", &self.basic.is_some())
            .finish()
    }
}

impl ApiAuth {
    /// A bearer token and/or `user:password` for basic authentication.
    pub fn new(token: Option<&str>, basic: Option<&str>) -> ApiAuth {
        let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(digest);
        ApiAuth {
            token: given(token),
            basic: given(basic),
        }
    }

    /// Whether credentials are set (the API is then closed to requests without them).
    pub fn is_set(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }

    /// `None` when the request may use the API, else the 401 answer.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        if !self.is_set() {
            return None;
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let allowed = match given.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => self
                .token
                .is_some_and(|wanted| same(&wanted, &digest(token.trim()))),
            Some((scheme, encoded)) if scheme.eq_ignore_ascii_case("basic") => {
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .unwrap_or_default();
                self.basic.is_some_and(|wanted| {
                    same(&wanted, &digest(&String::from_utf8_lossy(&decoded)))
                })
            }
            _ => false,
        };
        (!allowed).then(|| {
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"kflow\"")],
                json_body(&json!({"message": "the API needs credentials (bearer token or basic)"})),
            )
                .into_response()
        })
    }
}

pub(super) fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Equal digests, in time that does not depend on where they differ.
pub(super) fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the handlers share.
pub(super) struct App {
    pub served: Arc<Served>,
    pub hooks: Vec<Hook>,
    pub limits: Limits,
    pub auth: Arc<ApiAuth>,
    /// Turns `true` when `serve` stops: log streams end.
    pub stop: watch::Receiver<bool>,
}

impl App {
    /// `None` when the request may use the API, else the 401 answer.
    pub fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        self.auth.refuse(headers)
    }

    /// The recorded execution `id` once it has ended (or waits to be resumed, or `serve`
    /// stops): what a retried request that waits gets while the first one's still runs.
    pub async fn ended_row(&self, id: &str) -> Option<crate::state::ExecutionRow> {
        loop {
            let row = self.served.store.execution(id).ok().flatten()?;
            let settled = row.ended_ms.is_some() || row.state == crate::execution::State::Paused;
            if settled || *self.stop.borrow() {
                return Some(row);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// `serve`'s routes: the webhooks, `/health`, `/metrics` and, with `api`, Kestra's REST API.
pub(super) fn router(app: App, api: bool) -> Router {
    let app = Arc::new(app);
    let hook = get(webhook::webhook)
        .post(webhook::webhook)
        .put(webhook::webhook);
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics));
    // Kestra's paths, with the tenant `main` and the older ones without a tenant.
    for prefix in ["/api/v1/main", "/api/v1"] {
        router = router.route(
            &format!("{prefix}/executions/webhook/{{namespace}}/{{flow_id}}/{{key}}"),
            hook.clone(),
        );
        if !api {
            continue;
        }
        router = router
            .route(
                &format!("{prefix}/executions/{{a}}/{{b}}"),
                post(api::create),
            )
            .route(
                &format!("{prefix}/executions/{{a}}/resume"),
                post(api::resume),
            )
            .route(
                &format!("{prefix}/executions/{{a}}/restart"),
                post(api::restart),
            )
            .route(
                &format!("{prefix}/executions/{{a}}/kill"),
                delete(api::kill),
            )
            .route(&format!("{prefix}/executions/search"), get(api::search))
            .route(&format!("{prefix}/executions"), get(api::search))
            .route(&format!("{prefix}/executions/{{a}}"), get(api::get))
            .route(&format!("{prefix}/logs/{{a}}"), get(api::logs))
            .route(&format!("{prefix}/logs/{{a}}/follow"), get(api::follow));
    }
    router.with_state(app)
}

/// Serves `router` until `stop` turns `true`; the answers being written are finished first.
pub(super) async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        say("ERROR", &format!("the HTTP server stopped: {e}"));
    }
}

async fn health() -> Response {
    (StatusCode::OK, json_body(&json!({"status": "UP"}))).into_response()
}

async fn metrics(axum::extract::State(app): axum::extract::State<Arc<App>>) -> Response {
    let served = &app.served;
    let by_state = served.store.count_by_state().unwrap_or_default();
    let text = served.metrics.render(&by_state);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// A JSON body (axum's `json` feature would add a dependency for this).
pub(super) fn json_body(value: &Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

/// An error answer: `{"message": ...}` as Kestra gives them.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, json_body(&json!({ "message": message }))).into_response()
}

pub(super) fn too_large(limit: u64) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is over the limit of {limit} bytes"),
    )
}

/// The length a request declares, refused (413) over `limit` before anything is read.
pub(super) fn check_length(headers: &HeaderMap, limit: u64) -> Result<(), Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    Ok(())
}

/// A request body read into memory, at most `limit` bytes (413 beyond).
pub(super) async fn read_body(body: Body, limit: u64) -> Result<Vec<u8>, Response> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| error(StatusCode::BAD_REQUEST, &format!("reading the body: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
