//! Who may talk to the MCP endpoints: DNS-rebinding protection (`Host` allow-list and
//! `Origin` validation, 403), then authentication (401) by a static bearer token or an OAuth
//! access token (see `oauth`), then, for OAuth tokens, the scope a tool's group needs (403
//! `insufficient_scope`), in that order. An accepted request carries its [`Principal`] in the
//! request extensions.

use std::{net::IpAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::oauth::{OAuth, TokenError};
use crate::{config::Config, principal::Principal};

/// Hostnames that always name this machine.
const LOOPBACK_HOSTS: [&str; 4] = ["localhost", "127.0.0.1", "::1", "[::1]"];

/// The access rules of one HTTP server, built once from the config.
#[derive(Clone)]
pub struct Guard {
    /// SHA-256 of each accepted token with its principal; digests make every comparison the
    /// same length, so timing reveals neither content nor length.
    tokens: Vec<([u8; 32], Principal)>,
    oauth: Option<Arc<OAuth>>,
    any_host: bool,
    hosts: Vec<String>,
    any_origin: bool,
    origins: Vec<String>,
    max_body_bytes: usize,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who it is.
    pub principal: Principal,
    /// The scopes of its OAuth token; `None` for static tokens and unauthenticated servers,
    /// which reach every tool.
    pub scopes: Option<Vec<String>>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` not allowed (403).
    Host,
    /// `Origin` not allowed (403).
    Origin,
    /// No bearer token (401).
    MissingToken,
    /// Bearer token not accepted (401); the text says why when it was an OAuth token.
    BadToken(Option<String>),
    /// The OAuth token lacks the scope the called tool's group needs (403).
    InsufficientScope(String),
    /// OAuth tokens cannot be checked: the issuer's keys are unreachable (503).
    IssuerUnavailable,
}

impl Guard {
    /// Builds the rules from the config (already validated).
    pub fn new(config: &Config) -> Self {
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        if !config.host.is_unspecified() {
            hosts.push(host_literal(config.host));
        }
        let mut any_host = false;
        for host in &config.allowed_hosts {
            let host = host.trim().to_ascii_lowercase();
            match host.as_str() {
                "" => {}
                "*" => any_host = true,
                _ => hosts.push(host),
            }
        }
        let mut any_origin = false;
        let mut origins = Vec::new();
        // Origins granted CORS are meant to call the server from a browser, so they pass too.
        for origin in config.allowed_origins.iter().chain(&config.cors_origins) {
            match origin.trim() {
                "" => {}
                "*" => any_origin = true,
                o => origins.push(normalise_origin(o).unwrap_or_else(|| o.to_string())),
            }
        }
        let tokens = config
            .auth_tokens
            .iter()
            .map(|t| (Sha256::digest(t.as_bytes()).into(), Principal::for_token(t)))
            .collect();
        // Validated at start-up: a bad OAuth setting never gets this far.
        let oauth = config.oauth_settings().ok().flatten().map(OAuth::new);
        Self {
            tokens,
            oauth,
            any_host,
            hosts,
            any_origin,
            origins,
            max_body_bytes: config.max_body_bytes as usize,
        }
    }

    /// True when requests must carry a bearer token.
    pub fn auth_required(&self) -> bool {
        !self.tokens.is_empty() || self.oauth.is_some()
    }

    /// The OAuth resource server, when OAUTH_ISSUER is set.
    pub fn oauth(&self) -> Option<&Arc<OAuth>> {
        self.oauth.as_ref()
    }

    /// Checks `Host`, then `Origin`, then the bearer token.
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Result<Caller, Refusal> {
        self.check_origin(headers, authority)?;
        self.authenticate(headers).await
    }

    /// Checks `Host` and `Origin` (DNS-rebinding protection).
    pub fn check_origin(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or(authority)
            .ok_or(Refusal::Host)?;
        if !self.host_allowed(host) {
            return Err(Refusal::Host);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().map_err(|_| Refusal::Origin)?;
            if !self.origin_allowed(origin) {
                return Err(Refusal::Origin);
            }
        }
        Ok(())
    }

    /// Checks only the bearer token (used alone for `/metrics` when it requires auth): a
    /// static token, else an OAuth access token.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        if !self.auth_required() {
            return Ok(Caller {
                principal: Principal::local(),
                scopes: None,
            });
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Refusal::MissingToken)?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Compare against every token without stopping early.
        let mut found = None;
        for (candidate, principal) in &self.tokens {
            if bool::from(candidate.ct_eq(&digest)) {
                found = Some(principal.clone());
            }
        }
        if let Some(principal) = found {
            return Ok(Caller {
                principal,
                scopes: None,
            });
        }
        let Some(oauth) = &self.oauth else {
            return Err(Refusal::BadToken(None));
        };
        match oauth.verify(presented).await {
            Ok(grant) => Ok(Caller {
                principal: grant.principal,
                scopes: Some(grant.scopes),
            }),
            Err(TokenError::Invalid(why)) => Err(Refusal::BadToken(Some(why))),
            Err(TokenError::Unavailable) => Err(Refusal::IssuerUnavailable),
        }
    }

    /// The answer to a refused request: its status, a JSON `error`, and for 401 and
    /// `insufficient_scope` the `WWW-Authenticate` challenge (naming the protected-resource
    /// metadata when OAuth is on).
    pub fn refuse(&self, refusal: Refusal) -> Response {
        let metadata = self
            .oauth
            .as_ref()
            .map(|o| format!(r#", resource_metadata="{}""#, o.metadata_url()))
            .unwrap_or_default();
        let (status, message, challenge) = match refusal {
            Refusal::Host => (
                StatusCode::FORBIDDEN,
                "Host header not allowed; add it to CRAWLIUM_ALLOWED_HOSTS".to_string(),
                None,
            ),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "Origin not allowed; add it to CRAWLIUM_ALLOWED_ORIGINS".to_string(),
                None,
            ),
            Refusal::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "missing bearer token; send Authorization: Bearer <token>".to_string(),
                Some(format!(r#"Bearer realm="crawlium"{metadata}"#)),
            ),
            Refusal::BadToken(why) => {
                let description = why
                    .as_deref()
                    .map(|w| format!(r#", error_description="{}""#, quoted(w)))
                    .unwrap_or_default();
                (
                    StatusCode::UNAUTHORIZED,
                    match why {
                        Some(why) => format!("bearer token not accepted: {why}"),
                        None => "bearer token not accepted".to_string(),
                    },
                    Some(format!(
                        r#"Bearer realm="crawlium", error="invalid_token"{description}{metadata}"#
                    )),
                )
            }
            Refusal::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!("the token lacks the scope '{scope}' this tool needs"),
                Some(format!(
                    r#"Bearer realm="crawlium", error="insufficient_scope", scope="{}"{metadata}"#,
                    quoted(&scope)
                )),
            ),
            Refusal::IssuerUnavailable => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "10")],
                    axum::Json(serde_json::json!({
                        "error": "the OAuth issuer's signing keys cannot be fetched; try again shortly"
                    })),
                )
                    .into_response();
            }
        };
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// For an OAuth caller, the scope a `tools/call` in `body` needs and the token lacks.
    fn missing_scope(&self, caller: &Caller, body: &[u8]) -> Option<String> {
        let (oauth, scopes) = (self.oauth.as_ref()?, caller.scopes.as_ref()?);
        let group = crate::mcp::CrawliumServer::tool_group(&super::router::called_tool(body)?)?;
        oauth.missing_scope(scopes, group).map(str::to_string)
    }

    /// Whether requests of this caller need their body read for the scope check.
    fn checks_scopes(&self, caller: &Caller) -> bool {
        caller.scopes.is_some() && self.oauth.as_ref().is_some_and(|o| o.has_scopes())
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let host = host.trim().to_ascii_lowercase();
        let name = split_host(&host);
        self.hosts
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let Some(origin) = normalise_origin(origin) else {
            // `null` and other opaque origins are never allowed implicitly.
            return self.origins.iter().any(|o| o == origin);
        };
        if self.origins.contains(&origin) {
            return true;
        }
        // An origin served by an allowed host (e.g. the Inspector on localhost) is fine.
        url::Url::parse(&origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|host| !self.any_host && self.hosts.contains(&host))
    }
}

/// `scheme://host[:port]` lower-cased, default ports dropped; `None` for opaque origins.
fn normalise_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin.trim()).ok()?;
    let host = url.host_str()?;
    let mut out = format!("{}://{}", url.scheme(), host.to_ascii_lowercase());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    Some(out)
}

/// The host part of a `Host` header value (`[::1]:80` → `[::1]`, `a.b:80` → `a.b`).
fn split_host(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn host_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// A value that can stand in a quoted-string of a challenge.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Middleware for the MCP endpoints: admit or refuse, recording the principal.
pub async fn admit(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_string());
    let caller = match guard.admit(request.headers(), authority.as_deref()).await {
        Ok(caller) => caller,
        Err(refusal) => {
            tracing::debug!(?refusal, path = %request.uri().path(), "request refused");
            return guard.refuse(refusal);
        }
    };
    if request.method() == Method::POST && guard.checks_scopes(&caller) {
        let (parts, body) = request.into_parts();
        let bytes = match super::router::read_body(body, guard.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(too_large) => return too_large,
        };
        if let Some(scope) = guard.missing_scope(&caller, &bytes) {
            tracing::debug!(principal = %caller.principal, %scope, "tool call refused: scope");
            return guard.refuse(Refusal::InsufficientScope(scope));
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(caller.principal);
    next.run(request).await
}

/// Middleware for `/metrics` when METRICS_REQUIRE_AUTH is set: token only, no Host check
/// (scrapers address pods by IP).
pub async fn authenticate(
    State(guard): State<Arc<Guard>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    match guard.authenticate(request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(refusal) => guard.refuse(refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cli;

    fn guard(args: &[&str]) -> Guard {
        let cli = parse_cli(std::iter::once("crawlium").chain(args.iter().copied())).unwrap();
        Guard::new(&cli.config)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn loopback_hosts_pass_and_others_do_not() {
        let g = guard(&[]);
        for host in ["localhost:8931", "127.0.0.1:1", "[::1]:80", "localhost"] {
            assert!(
                g.check_origin(&headers(&[("host", host)]), None).is_ok(),
                "{host}"
            );
        }
        for host in [
            "evil.example:8931",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert_eq!(
                g.check_origin(&headers(&[("host", host)]), None),
                Err(Refusal::Host),
                "{host}"
            );
        }
        assert_eq!(g.check_origin(&HeaderMap::new(), None), Err(Refusal::Host));
    }

    #[test]
    fn configured_hosts_and_wildcard() {
        let g = guard(&["--allowed-hosts", "mcp.example.com,api.example.com:8443"]);
        assert!(
            g.check_origin(&headers(&[("host", "mcp.example.com:1234")]), None)
                .is_ok()
        );
        assert!(
            g.check_origin(&headers(&[("host", "api.example.com:8443")]), None)
                .is_ok()
        );
        assert!(
            g.check_origin(&headers(&[("host", "api.example.com:9999")]), None)
                .is_err()
        );
        let g = guard(&["--allowed-hosts", "*"]);
        assert!(
            g.check_origin(&headers(&[("host", "anything:1")]), None)
                .is_ok()
        );
    }

    #[test]
    fn origins_of_allowed_hosts_pass_foreign_ones_do_not() {
        let g = guard(&["--allowed-origins", "https://app.example.com"]);
        let ok = |origin| {
            g.check_origin(
                &headers(&[("host", "localhost:1"), ("origin", origin)]),
                None,
            )
        };
        assert!(ok("http://localhost:6274").is_ok());
        assert!(ok("https://app.example.com").is_ok());
        assert!(ok("https://APP.example.com:443").is_ok());
        assert_eq!(ok("https://evil.example"), Err(Refusal::Origin));
        assert_eq!(ok("null"), Err(Refusal::Origin));
    }

    #[tokio::test]
    async fn bearer_tokens() {
        let token = "0123456789abcdef0123";
        let g = guard(&["--auth-tokens", &format!("{token},another-token-0123456")]);
        let h = |auth: &str| headers(&[("host", "localhost"), ("authorization", auth)]);
        assert_eq!(
            g.admit(&headers(&[("host", "localhost")]), None).await,
            Err(Refusal::MissingToken)
        );
        assert_eq!(
            g.admit(&h("Bearer wrong-token-000000000"), None).await,
            Err(Refusal::BadToken(None))
        );
        assert_eq!(
            g.admit(&h(&format!("Basic {token}")), None).await,
            Err(Refusal::MissingToken)
        );
        let caller = g.admit(&h(&format!("bearer {token}")), None).await.unwrap();
        assert_eq!(caller.scopes, None);
        let principal = caller.principal;
        assert_eq!(principal, Principal::for_token(token));
        assert!(!principal.as_str().contains(token));
        let other = g
            .admit(&h("Bearer another-token-0123456"), None)
            .await
            .unwrap()
            .principal;
        assert_ne!(principal, other);
    }

    #[test]
    fn host_splitting() {
        assert_eq!(split_host("[::1]:8080"), "[::1]");
        assert_eq!(split_host("example.com:80"), "example.com");
        assert_eq!(split_host("example.com"), "example.com");
    }
}
