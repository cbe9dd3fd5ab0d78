//! Vectors from an OpenAI-compatible embeddings service (`EMBEDDINGS_URL`): texts in batches,
//! at most `EMBEDDINGS_REQUESTS_PER_MINUTE` requests a minute, a 429 or 5xx answer asked again
//! after its `Retry-After` (or an exponential back-off), the key sent as a bearer token and
//! never logged or shown.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// What went wrong with the service, said for the operator.
#[derive(Debug, Clone)]
pub struct RemoteError(pub String);

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where and how to reach the service.
#[derive(Clone)]
pub struct RemoteSettings {
    /// The endpoint, such as `https://api.openai.com/v1/embeddings`.
    pub url: String,
    /// Bearer token, if the service needs one.
    pub api_key: Option<String>,
    /// The model the service is asked for (also names the stored vectors).
    pub model: String,
    /// Most requests a minute.
    pub requests_per_minute: u32,
    /// Texts per request.
    pub batch: usize,
}

impl std::fmt::Debug for RemoteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("model", &self.model)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("batch", &self.batch)
            .finish()
    }
}

/// How many times a request is tried while the backlog is embedded.
const BACKLOG_ATTEMPTS: u32 = 6;
/// How many times a query's request is tried (a search does not wait long).
const QUERY_ATTEMPTS: u32 = 2;
/// Longest wait between attempts (a longer `Retry-After` fails the request; the backlog
/// tries the batch again later).
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// Longest a query waits between its attempts.
const QUERY_WAIT: Duration = Duration::from_secs(2);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Characters of a service's error body quoted in an error.
const QUOTED: usize = 300;

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

/// A client of one embeddings service.
pub struct RemoteModel {
    settings: RemoteSettings,
    client: reqwest::Client,
    /// When the next request may be sent (the requests-per-minute cap).
    next: tokio::sync::Mutex<Instant>,
}

impl RemoteModel {
    /// A client for `settings`.
    pub fn new(settings: RemoteSettings) -> Result<Self, RemoteError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| RemoteError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            settings,
            client,
            next: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    /// The model's name.
    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// Vectors of `texts`, in batches; for a query (`query`), fewer and shorter retries.
    pub async fn embed(&self, texts: &[String], query: bool) -> Result<Vec<Vec<f32>>, RemoteError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.settings.batch.max(1)) {
            vectors.extend(self.request(batch, query).await?);
        }
        Ok(vectors)
    }

    /// Waits for the requests-per-minute cap.
    async fn pace(&self) {
        let gap =
            Duration::from_secs_f64(60.0 / f64::from(self.settings.requests_per_minute.max(1)));
        let mut next = self.next.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep(*next - now).await;
        }
        *next = Instant::now().max(*next) + gap;
    }

    async fn request(&self, texts: &[String], query: bool) -> Result<Vec<Vec<f32>>, RemoteError> {
        let (attempts, longest) = if query {
            (QUERY_ATTEMPTS, QUERY_WAIT)
        } else {
            (BACKLOG_ATTEMPTS, LONGEST_WAIT)
        };
        let body = serde_json::json!({"model": self.settings.model, "input": texts}).to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace().await;
            let mut request = self
                .client
                .post(&self.settings.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(key) = &self.settings.api_key {
                request = request.bearer_auth(key);
            }
            let (wait, why) = match request.send().await {
                Ok(answer) if answer.status().is_success() => {
                    let bytes = answer.bytes().await.map_err(|e| {
                        RemoteError(format!("reading the answer of {}: {e}", self.settings.url))
                    })?;
                    return self.vectors(&bytes, texts.len());
                }
                Ok(answer) => {
                    let status = answer.status();
                    let retry_after = answer
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64);
                    let text = answer.text().await.unwrap_or_default();
                    let quoted: String = text.chars().take(QUOTED).collect();
                    let why = format!("{} answered {status}: {quoted}", self.settings.url);
                    if status != reqwest::StatusCode::TOO_MANY_REQUESTS && !status.is_server_error()
                    {
                        return Err(RemoteError(why));
                    }
                    (retry_after, why)
                }
                Err(e) => (
                    None,
                    format!("{} could not be reached: {e}", self.settings.url),
                ),
            };
            let wait = wait.unwrap_or(Duration::from_millis(500 * (1 << attempt.min(6))));
            if attempt >= attempts || wait > longest {
                return Err(RemoteError(why));
            }
            tracing::warn!(%why, wait_ms = wait.as_millis() as u64, attempt, "embeddings service: trying again");
            tokio::time::sleep(wait).await;
        }
    }

    /// The vectors of an answer, in input order.
    fn vectors(&self, bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, RemoteError> {
        let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
            RemoteError(format!(
                "{} did not answer as an OpenAI-compatible embeddings service ({e})",
                self.settings.url
            ))
        })?;
        if answer.data.len() != expected {
            return Err(RemoteError(format!(
                "{} returned {} vectors for {expected} texts",
                self.settings.url,
                answer.data.len()
            )));
        }
        let mut vectors = vec![Vec::new(); expected];
        for (position, item) in answer.data.into_iter().enumerate() {
            let at = item.index.unwrap_or(position);
            if at >= expected || !vectors[at].is_empty() || item.embedding.is_empty() {
                return Err(RemoteError(format!(
                    "{} returned a vector out of place (index {at})",
                    self.settings.url
                )));
            }
            vectors[at] = normalise(item.embedding);
        }
        Ok(vectors)
    }
}

/// Unit length, as the index's cosine expects (services do not all normalise).
fn normalise(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for v in &mut vector {
            *v /= norm;
        }
    }
    vector
}
