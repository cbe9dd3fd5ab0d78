//! Routing in a cluster: the replica that holds a browser answers for it, whichever replica
//! the load balancer picked.
//!
//! A `POST /mcp` whose tool call names a `browserId` minted by another replica (the id says
//! which, see `browser::handles`) is forwarded there unchanged — headers, body, and the
//! answer streamed back as it comes (JSON or SSE) — with a hop header signed with the
//! cluster secret. The owner checks the client's `Authorization` itself, serves a request
//! with a valid hop locally (a hop is never forwarded again) and refuses one whose hop does
//! not check out with 403. The browser id comes from the `Mcp-Param-BrowserId` header when
//! a 2026-07-28 client sends one, else from the (capped) body. A client that goes away
//! closes the forwarded request too, which cancels the call on the owner.
//!
//! A stateless `browser_open` on a replica that is full or draining is forwarded to the
//! replica the cluster's placement picks (lifetime-first, claimed atomically in Redis); when
//! no replica has room, this one answers with the capacity error.
//!
//! When the owner is gone (no longer registered, refusing connections, or closing the
//! connection unanswered while the registry shows it stopping) the call answers
//! with a tool error saying the browser's pages are gone and to open a new one; an owner
//! that does not answer in time gives a retryable error. Nothing is reopened silently.
//!
//! Legacy Streamable HTTP sessions live with the replica that initialized them, and their
//! `Mcp-Session-Id` says which: in a cluster the id rmcp minted goes out as
//! `{replica}.{id}` and comes back in with the prefix taken off, so every request of the
//! session (POST, the GET stream, DELETE) reaches its owner from any replica. A session
//! whose owner is gone answers 404, so the client initializes a new one, as the MCP spec
//! says.
//!
//! Legacy SSE streams (`GET /sse`) stay with the replica that opened them too; their
//! `sessionId` names it (`{replica}.{id}`, kept whole), so `POST /message?sessionId=…`
//! reaches the stream from any replica the same way.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use crate::{app::App, coord::hop::HOP_HEADER};

/// How long connecting to another replica may take before the call is answered with a
/// retryable error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a replica that closed a forwarded request's connection unanswered gets to show
/// up as draining (or gone) in the registry before the call is told to retry instead.
const STOPPING_SEEN: Duration = Duration::from_secs(2);
/// Headers that belong to one connection and are not forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Forwards requests to the replicas that own their state.
pub struct Forwarder {
    app: Arc<App>,
    client: reqwest::Client,
}

impl Forwarder {
    /// A forwarder for `app`'s cluster.
    pub fn new(app: Arc<App>) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // A fresh connection per hop: a replica that is stopping closes its idle
            // connections, and a request sent on one as it closes could not be told apart
            // from one the replica lost; a refused connect says clearly that it is gone.
            .pool_max_idle_per_host(0)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Self { app, client })
    }
}

/// The header of legacy Streamable HTTP sessions.
const SESSION: &str = "mcp-session-id";

/// The middleware in front of rmcp on `/mcp` and of the SSE streams' `/message`.
pub async fn route(
    State(forwarder): State<Arc<Forwarder>>,
    request: Request,
    next: Next,
) -> Response {
    let app = &forwarder.app;
    let Some(cluster) = app.cluster.clone() else {
        return next.run(request).await;
    };
    let me = cluster.id();
    let (mut parts, body) = request.into_parts();
    let bytes = match read_body(body, app.config.max_body_bytes as usize).await {
        Ok(bytes) => bytes,
        Err(too_large) => return too_large,
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/mcp", |p| p.as_str())
        .to_string();
    // From another replica: checked here, then served here whatever it names.
    let from_replica = match parts.headers.get(HOP_HEADER) {
        None => false,
        Some(hop) => {
            let checked = hop
                .to_str()
                .map_err(|_| crate::coord::hop::HopError::Malformed)
                .and_then(|hop| cluster.verify_hop(hop, parts.method.as_str(), &path, &bytes));
            match checked {
                Ok(()) => true,
                Err(error @ crate::coord::hop::HopError::Misdirected(_)) => {
                    tracing::info!(%error, "a replica reached this address for its former holder");
                    return misdirected();
                }
                Err(error) => {
                    tracing::warn!(%error, "refused a request that claimed to come from another replica");
                    return forbidden();
                }
            }
        }
    };
    let session = parts
        .headers
        .get(SESSION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A legacy SSE stream's messages: its id is kept whole (the stream's map knows it so).
    if let Some(stream) = sse_session(&parts) {
        return match stream.split_once('.') {
            Some((owner, _)) if owner != me && !from_replica => {
                forwarder.forward_session(&parts, &path, bytes, owner).await
            }
            _ => {
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        };
    }
    if from_replica {
        if let Some(session) = &session {
            match session.split_once('.') {
                Some((owner, local)) if owner == me => set_session(&mut parts, local),
                _ => return session_not_found(),
            }
        }
        return served_here(next, parts, bytes, &me).await;
    }
    if let Some(session) = session {
        return match session.split_once('.') {
            Some((owner, local)) if owner == me => {
                set_session(&mut parts, local);
                served_here(next, parts, bytes, &me).await
            }
            Some((owner, _)) => forwarder.forward_session(&parts, &path, bytes, owner).await,
            // Not minted in this cluster (or by a replica before it joined one).
            None => session_not_found(),
        };
    }
    // Admitted before the draining check: once admitted, shutdown waits for this request's
    // call, which runs even if draining begins meanwhile; not admitted (draining), a request
    // that holds nothing here goes to another replica.
    let admitted = (parts.method == Method::POST)
        .then(|| app.shutdown.begin_call())
        .flatten();
    let owner = browser_id(&parts.headers, &bytes)
        .and_then(|id| app.browser_owner(&id).map(|owner| (id, owner)));
    let elsewhere = match owner {
        Some((id, owner)) if owner != me => {
            return forwarder.forward(&parts, &path, bytes, &id, &owner).await;
        }
        // Full or draining here: the replica the cluster's placement picks opens it (none
        // has room: this replica answers, waiting, then with the capacity error).
        None if opens_a_browser(&bytes) && !app.has_browser_room() => cluster.place_browser().await,
        // Draining (a rolling restart): what holds nothing here starts on another replica,
        // so a request this replica accepted as it stopped listening still succeeds.
        None if admitted.is_none() && app.shutdown.is_draining() => cluster.another_replica(),
        _ => None,
    };
    if let Some(replica) = elsewhere {
        match forwarder
            .send(&parts, &path, bytes.clone(), &replica.id, &replica.url)
            .await
        {
            Ok(response) => return response,
            Err(error) => {
                tracing::warn!(replica = %replica.id, %error, "could not hand a request over");
            }
        }
    }
    if let Some(admitted) = admitted {
        // The tool call finds it (rmcp hands the HTTP parts to the handler).
        parts.extensions.insert(admitted);
    }
    served_here(next, parts, bytes, &me).await
}

/// A request's body, read whole; past `limit` bytes, the 413 answer.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes (CRAWLIUM_MAX_BODY_BYTES)"),
        )
            .into_response()
    })
}

/// The tool a request body calls, when it is a `tools/call` request (with an id).
pub(super) fn called_tool(body: &[u8]) -> Option<String> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message["method"] != "tools/call" || message["id"].is_null() {
        return None;
    }
    Some(
        message["params"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Whether a request body is a `browser_open` call.
fn opens_a_browser(body: &[u8]) -> bool {
    called_tool(body).is_some_and(|tool| tool == "browser_open")
}

/// Serves a request here; a session rmcp opens goes out as `{me}.{id}`.
async fn served_here(next: Next, parts: Parts, bytes: Bytes, me: &str) -> Response {
    let mut response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let minted = response
        .headers()
        .get(SESSION)
        .and_then(|v| v.to_str().ok())
        .map(|local| format!("{me}.{local}"));
    if let Some(value) = minted.and_then(|id| header::HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(SESSION, value);
    }
    response
}

/// The `sessionId` of a `POST /message` (a legacy SSE stream's message).
fn sse_session(parts: &Parts) -> Option<String> {
    if parts.uri.path() != "/message" {
        return None;
    }
    url::form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(name, _)| name == "sessionId")
        .map(|(_, value)| value.into_owned())
}

fn set_session(parts: &mut Parts, local: &str) {
    if let Ok(value) = header::HeaderValue::from_str(local) {
        parts.headers.insert(SESSION, value);
    }
}

/// 404 for a session this cluster does not (or no longer) hold: the client initializes again.
pub(super) fn session_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({ "error": "session not found; initialize a new one" })),
    )
        .into_response()
}

/// 421 to a hop meant for a replica this process is not (it took over that one's address).
fn misdirected() -> Response {
    (
        StatusCode::MISDIRECTED_REQUEST,
        axum::Json(serde_json::json!({
            "error": "misdirected: the replica this was forwarded to no longer runs here"
        })),
    )
        .into_response()
}

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The replica is gone: nothing listens at its address, or another process does.
    #[error("the replica is gone ({0})")]
    Gone(String),
    /// It did not answer (in time).
    #[error("{0}")]
    Unreachable(reqwest::Error),
}

impl SendError {
    /// Whether it did not answer in time (rather than closing the connection unanswered).
    fn is_timeout(&self) -> bool {
        matches!(self, Self::Unreachable(error) if error.is_timeout())
    }
}

impl Forwarder {
    /// Sends the request to replica `target` at `url` with a hop and streams its answer back;
    /// `Err` says why it could not be sent (and whether the replica is gone).
    async fn send(
        &self,
        parts: &Parts,
        path: &str,
        body: Bytes,
        target: &str,
        url: &str,
    ) -> Result<Response, SendError> {
        let Some(cluster) = &self.app.cluster else {
            return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let hop = cluster.sign_hop(target, parts.method.as_str(), path, &body);
        let mut request = self.client.request(
            parts.method.clone(),
            format!("{}{path}", url.trim_end_matches('/')),
        );
        for (name, value) in &parts.headers {
            if name != header::CONTENT_LENGTH && !HOP_BY_HOP.contains(&name.as_str()) {
                request = request.header(name, value);
            }
        }
        // Until it answers, the replica must stay in the cluster: one that froze (or lost its
        // network) leaves it within the registry's expiry, and the call says so then.
        let sent = request.header(HOP_HEADER, hop).body(body).send();
        let answered = tokio::select! {
            answered = sent => answered,
            () = cluster.wait_gone(target) => {
                return Err(SendError::Gone(format!(
                    "replica {target} stopped answering and left the cluster"
                )));
            }
        };
        let answer = match answered {
            Ok(answer) if answer.status() == StatusCode::MISDIRECTED_REQUEST => {
                return Err(SendError::Gone(format!("another process answers at {url}")));
            }
            Ok(answer) => answer,
            Err(error) if error.is_connect() && !error.is_timeout() => {
                return Err(SendError::Gone(error.to_string()));
            }
            Err(error) => return Err(SendError::Unreachable(error)),
        };
        let mut response = Response::builder().status(answer.status().as_u16());
        for (name, value) in answer.headers() {
            if name != header::CONTENT_LENGTH && !HOP_BY_HOP.contains(&name.as_str()) {
                response = response.header(name, value);
            }
        }
        Ok(response
            .body(Body::from_stream(answer.bytes_stream()))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()))
    }

    /// Forwards a tool call about browser `browser_id` to `owner`, the replica holding it.
    async fn forward(
        &self,
        parts: &Parts,
        path: &str,
        body: Bytes,
        browser_id: &str,
        owner: &str,
    ) -> Response {
        let Some(url) = self.url_of(owner).await else {
            return tool_error(&body, &self.app.lost_browser(browser_id, owner).await);
        };
        match self.send(parts, path, body.clone(), owner, &url).await {
            Ok(response) => response,
            Err(error @ SendError::Gone(_)) => {
                tracing::info!(%owner, %error, "the replica holding a browser is gone");
                tool_error(&body, &self.app.lost_browser(browser_id, owner).await)
            }
            // The connection closed unanswered: the owner stopped listening (a rolling
            // restart) or died, unless the cluster still sees it serving.
            Err(error) if !error.is_timeout() && self.owner_stopping(owner).await => {
                tracing::info!(%owner, %error, "the replica holding a browser is stopping");
                tool_error(&body, &self.app.lost_browser(browser_id, owner).await)
            }
            Err(error) => {
                tracing::warn!(%owner, %error, "the replica holding a browser did not answer");
                tool_error(
                    &body,
                    &format!(
                        "the replica holding browser {browser_id} did not answer \
                         ({error}); retry shortly"
                    ),
                )
            }
        }
    }

    /// Forwards a request of a legacy session to `owner`, the replica holding it: 404 when
    /// the owner is gone (the client initializes a new session), 503 when it does not answer.
    async fn forward_session(
        &self,
        parts: &Parts,
        path: &str,
        body: Bytes,
        owner: &str,
    ) -> Response {
        let Some(url) = self.url_of(owner).await else {
            return session_not_found();
        };
        match self.send(parts, path, body, owner, &url).await {
            Ok(response) => response,
            Err(SendError::Gone(_)) => session_not_found(),
            Err(error) if !error.is_timeout() && self.owner_stopping(owner).await => {
                session_not_found()
            }
            Err(error) => {
                tracing::warn!(%owner, %error, "the replica holding a session did not answer");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(serde_json::json!({
                        "error": format!("the replica holding this session did not answer ({error}); retry shortly")
                    })),
                )
                    .into_response()
            }
        }
    }

    /// Whether replica `id` is stopping or gone, as the registry says within [`STOPPING_SEEN`].
    async fn owner_stopping(&self, id: &str) -> bool {
        match &self.app.cluster {
            Some(cluster) => cluster.is_stopping(id, STOPPING_SEEN).await,
            None => false,
        }
    }

    /// Where replica `id` is reached, if it is registered.
    async fn url_of(&self, id: &str) -> Option<String> {
        self.app.cluster.as_ref()?.replica_url(id).await
    }
}

/// The browser a request is about: the `Mcp-Param-BrowserId` header, else the `browserId`
/// argument of a `tools/call` body.
fn browser_id(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(id) = headers
        .get("mcp-param-browserid")
        .and_then(|v| v.to_str().ok())
    {
        return Some(id.to_string());
    }
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message["method"] != "tools/call" {
        return None;
    }
    message["params"]["arguments"]["browserId"]
        .as_str()
        .map(str::to_string)
}

/// Whether a request body is a `tools/call` request.
pub(super) fn is_tool_call(body: &[u8]) -> bool {
    called_tool(body).is_some()
}

/// A JSON-RPC answer to the request in `body` that is a failed tool call saying `message`.
pub(super) fn tool_error(body: &[u8], message: &str) -> Response {
    let id = serde_json::from_slice::<serde_json::Value>(body)
        .map(|m| m["id"].clone())
        .unwrap_or(serde_json::Value::Null);
    axum::Json(serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": message}], "isError": true},
    }))
    .into_response()
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": "forbidden: this request claims to come from another replica but its \
                      hop header does not check out"
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_comes_from_the_header_or_the_tool_call() {
        let mut headers = HeaderMap::new();
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"browser_snapshot","arguments":{"browserId":"br_ab_x"}}}"#;
        assert_eq!(browser_id(&headers, call).as_deref(), Some("br_ab_x"));
        let list =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"browserId":"br_ab_x"}}"#;
        assert_eq!(browser_id(&headers, list), None);
        assert_eq!(browser_id(&headers, b"not json"), None);
        headers.insert("Mcp-Param-BrowserId", "br_cd_y".parse().unwrap());
        assert_eq!(browser_id(&headers, call).as_deref(), Some("br_cd_y"));
    }
}
