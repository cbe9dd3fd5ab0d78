//! Who may talk to the MCP endpoints: DNS-rebinding protection (`Host` allow-list and
//! `Origin` validation, 403) and bearer-token authentication (401), in that order. An
//! accepted request carries its [`Principal`] in the request extensions.

use std::net::IpAddr;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{config::Config, principal::Principal};

/// Hostnames that always name this machine.
const LOOPBACK_HOSTS: [&str; 4] = ["localhost", "127.0.0.1", "::1", "[::1]"];

/// The access rules of one HTTP server, built once from the config.
#[derive(Debug, Clone)]
pub struct Guard {
    /// SHA-256 of each accepted token with its principal; digests make every comparison the
    /// same length, so timing reveals neither content nor length.
    tokens: Vec<([u8; 32], Principal)>,
    any_host: bool,
    hosts: Vec<String>,
    any_origin: bool,
    origins: Vec<String>,
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
    /// Bearer token not accepted (401).
    BadToken,
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
        Self {
            tokens,
            any_host,
            hosts,
            any_origin,
            origins,
        }
    }

    /// True when requests must carry a bearer token.
    pub fn auth_required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Checks `Host`, then `Origin`, then the bearer token.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Result<Principal, Refusal> {
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
        self.authenticate(headers)
    }

    /// Checks only the bearer token (used for `/metrics` when it requires auth).
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Refusal> {
        if self.tokens.is_empty() {
            return Ok(Principal::local());
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
        found.ok_or(Refusal::BadToken)
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

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message, challenge) = match self {
            Refusal::Host => (
                StatusCode::FORBIDDEN,
                "Host header not allowed; add it to CRAWLIUM_ALLOWED_HOSTS",
                None,
            ),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "Origin not allowed; add it to CRAWLIUM_ALLOWED_ORIGINS",
                None,
            ),
            Refusal::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "missing bearer token; send Authorization: Bearer <token>",
                Some(r#"Bearer realm="crawlium""#),
            ),
            Refusal::BadToken => (
                StatusCode::UNAUTHORIZED,
                "bearer token not accepted",
                Some(r#"Bearer realm="crawlium", error="invalid_token""#),
            ),
        };
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Middleware for the MCP endpoints: admit or refuse, recording the principal.
pub async fn admit(
    State(guard): State<std::sync::Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_string());
    match guard.admit(request.headers(), authority.as_deref()) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(refusal) => {
            tracing::debug!(?refusal, path = %request.uri().path(), "request refused");
            refusal.into_response()
        }
    }
}

/// Middleware for `/metrics` when METRICS_REQUIRE_AUTH is set: token only, no Host check
/// (scrapers address pods by IP).
pub async fn authenticate(
    State(guard): State<std::sync::Arc<Guard>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    match guard.authenticate(request.headers()) {
        Ok(_) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
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
            assert!(g.admit(&headers(&[("host", host)]), None).is_ok(), "{host}");
        }
        for host in [
            "evil.example:8931",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert_eq!(
                g.admit(&headers(&[("host", host)]), None),
                Err(Refusal::Host),
                "{host}"
            );
        }
        assert_eq!(g.admit(&HeaderMap::new(), None), Err(Refusal::Host));
    }

    #[test]
    fn configured_hosts_and_wildcard() {
        let g = guard(&["--allowed-hosts", "mcp.example.com,api.example.com:8443"]);
        assert!(
            g.admit(&headers(&[("host", "mcp.example.com:1234")]), None)
                .is_ok()
        );
        assert!(
            g.admit(&headers(&[("host", "api.example.com:8443")]), None)
                .is_ok()
        );
        assert!(
            g.admit(&headers(&[("host", "api.example.com:9999")]), None)
                .is_err()
        );
        let g = guard(&["--allowed-hosts", "*"]);
        assert!(g.admit(&headers(&[("host", "anything:1")]), None).is_ok());
    }

    #[test]
    fn origins_of_allowed_hosts_pass_foreign_ones_do_not() {
        let g = guard(&["--allowed-origins", "https://app.example.com"]);
        let ok = |origin| {
            g.admit(
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

    #[test]
    fn bearer_tokens() {
        let token = "0123456789abcdef0123";
        let g = guard(&["--auth-tokens", &format!("{token},another-token-0123456")]);
        let h = |auth: &str| headers(&[("host", "localhost"), ("authorization", auth)]);
        assert_eq!(
            g.admit(&headers(&[("host", "localhost")]), None),
            Err(Refusal::MissingToken)
        );
        assert_eq!(
            g.admit(&h("Bearer wrong-token-000000000"), None),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            g.admit(&h(&format!("Basic {token}")), None),
            Err(Refusal::MissingToken)
        );
        let principal = g.admit(&h(&format!("bearer {token}")), None).unwrap();
        assert_eq!(principal, Principal::for_token(token));
        assert!(!principal.as_str().contains(token));
        let other = g.admit(&h("Bearer another-token-0123456"), None).unwrap();
        assert_ne!(principal, other);
    }

    #[test]
    fn host_splitting() {
        assert_eq!(split_host("[::1]:8080"), "[::1]");
        assert_eq!(split_host("example.com:80"), "example.com");
        assert_eq!(split_host("example.com"), "example.com");
    }
}
