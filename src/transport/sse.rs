//! The legacy HTTP+SSE transport (MCP 2024-11-05), still used by older clients.
//!
//! `GET /sse` opens an event stream whose first event (`endpoint`) names the URL to POST
//! messages to, `/message?sessionId=…`. Each stream runs its own MCP session over rmcp's
//! generic sink/stream transport: POSTed JSON-RPC messages go into the session's inbound
//! channel (answered `202 Accepted`), and everything the server sends comes back as
//! `message` events on the stream. Keep-alive comments hold idle connections open. When the
//! client disconnects (or the server shuts down) the stream is dropped, and the session is
//! removed and its service cancelled.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension,
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use rmcp::{
    ServiceExt,
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::{app::App, mcp::CrawliumServer, principal::Principal};

/// Messages buffered per session in each direction before back-pressure applies.
const CHANNEL_CAPACITY: usize = 64;
/// How long a POST waits for room in a session's inbound channel.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// The open SSE sessions of one server.
pub struct SseSessions {
    app: Arc<App>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Cancelled at shutdown: ends every stream.
    closed: CancellationToken,
}

struct Session {
    principal: Principal,
    inbound: mpsc::Sender<ClientJsonRpcMessage>,
}

/// Removes the session when its stream is dropped (client gone or shutdown).
struct SessionEnd {
    sessions: Arc<SseSessions>,
    id: String,
    service: CancellationToken,
}

impl Drop for SessionEnd {
    fn drop(&mut self) {
        self.service.cancel();
        let count = {
            let mut sessions = self.sessions.lock();
            sessions.remove(&self.id);
            sessions.len()
        };
        self.sessions.app.metrics.set_sessions("sse", count);
        tracing::debug!(session = %self.id, "SSE session closed");
    }
}

impl SseSessions {
    /// No sessions yet; `closed` ends all streams when cancelled.
    pub fn new(app: Arc<App>, closed: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            app,
            sessions: Mutex::new(HashMap::new()),
            closed,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `GET /sse`: opens a session and streams its messages.
pub async fn open(
    State(sessions): State<Arc<SseSessions>>,
    Extension(principal): Extension<Principal>,
) -> impl IntoResponse {
    // In a cluster the id names this replica, so a message posted to any replica reaches
    // the stream (see `router`).
    let id = match &sessions.app.cluster {
        Some(cluster) => format!("{}.{}", cluster.id(), uuid::Uuid::new_v4().simple()),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let (inbound_tx, inbound_rx) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_CAPACITY);
    let (outbound_tx, outbound_rx) =
        futures::channel::mpsc::channel::<ServerJsonRpcMessage>(CHANNEL_CAPACITY);
    let count = {
        let mut map = sessions.lock();
        map.insert(
            id.clone(),
            Session {
                principal: principal.clone(),
                inbound: inbound_tx,
            },
        );
        map.len()
    };
    sessions.app.metrics.set_sessions("sse", count);
    tracing::debug!(session = %id, %principal, "SSE session opened");

    let service_ct = sessions.closed.child_token();
    let server = CrawliumServer::new(sessions.app.clone(), Some(principal));
    {
        let ct = service_ct.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let transport = (outbound_tx, ReceiverStream::new(inbound_rx));
            match server.serve_with_ct(transport, ct).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => {
                    tracing::debug!(session = %id, %error, "SSE session ended before initialize")
                }
            }
        });
    }

    let end = SessionEnd {
        sessions: sessions.clone(),
        id: id.clone(),
        service: service_ct,
    };
    let endpoint = futures::stream::once(futures::future::ready(Ok::<_, Infallible>(
        Event::default()
            .event("endpoint")
            .data(format!("/message?sessionId={id}")),
    )));
    let messages = outbound_rx.map(move |message| {
        // The guard lives as long as the stream; dropping the stream closes the session.
        let _ = &end;
        Ok(
            match Event::default().event("message").json_data(&message) {
                Ok(event) => event,
                Err(error) => Event::default().comment(format!("unserialisable message: {error}")),
            },
        )
    });
    let stream = endpoint
        .chain(messages)
        .take_until(sessions.closed.clone().cancelled_owned());
    let keep_alive = KeepAlive::new()
        .text("keep-alive")
        .interval(sessions.app.config.sse_keepalive());
    Sse::new(stream).keep_alive(keep_alive)
}

/// Query of `POST /message`.
#[derive(Debug, Deserialize)]
pub struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /message?sessionId=…`: hands one JSON-RPC message to the session.
pub async fn post(
    State(sessions): State<Arc<SseSessions>>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<MessageQuery>,
    body: Bytes,
) -> Response {
    let inbound = {
        let map = sessions.lock();
        match map.get(&query.session_id) {
            // Another principal's session is reported as unknown, not as forbidden.
            Some(session) if session.principal == principal => session.inbound.clone(),
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    "unknown sessionId; open a new /sse stream",
                );
            }
        }
    };
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("not a JSON-RPC message: {e}"),
            );
        }
    };
    match inbound.send_timeout(message, POST_TIMEOUT).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(mpsc::error::SendTimeoutError::Timeout(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "session is busy; retry the message shortly",
        ),
        Err(mpsc::error::SendTimeoutError::Closed(_)) => error(
            StatusCode::NOT_FOUND,
            "session has ended; open a new /sse stream",
        ),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}
