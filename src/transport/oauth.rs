//! OAuth 2.1 resource server (MCP authorization, 2025-06-18 and later): JWT access tokens
//! from one authorization server (`OAUTH_ISSUER`), checked against its published keys.
//!
//! A token passes when it is signed with an asymmetric algorithm (RS*, PS*, ES*, EdDSA) by a
//! key of the issuer's JWKS — never a key the token brings along (`jwk`, `jku`), never `none`,
//! never a symmetric algorithm (an `HS256` token "signed" with the public key is refused
//! before any key is looked at) — and its `iss`, `aud` (this server's resource URL),
//! `exp` and `nbf` hold, with [`LEEWAY`] for clocks. The keys are found through the issuer's
//! metadata (RFC 8414, then OpenID discovery), cached for [`KEYS_TTL`] and fetched again when
//! a token names a key id not in the cache (a rotation), at most once per
//! [`REFETCH_COOLDOWN`] so forged key ids cannot make this server hammer the issuer.
//!
//! The protected-resource metadata (RFC 9728) says where clients get tokens; 401 answers point
//! to it (`WWW-Authenticate: Bearer resource_metadata="…"`), and a call to a tool whose group
//! needs a scope the token lacks is answered 403 `insufficient_scope` (see `guard`).

use std::{
    str::FromStr,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{Jwk, PublicKeyUse},
};
use serde_json::{Map, Value};

use crate::{
    config::{OAuthSettings, ToolGroup},
    principal::Principal,
};

/// How long fetched keys are used before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches of the keys (a token with an unknown key id waits for
/// the next fetch after it).
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);
/// Clock difference tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: u64 = 30;
/// How long one request to the authorization server may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest metadata or JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// The well-known path of protected-resource metadata (RFC 9728).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// What a valid token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The caller its principal claim names.
    pub principal: Principal,
    /// Its scopes (`scope`, space-separated, or `scp`).
    pub scopes: Vec<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token is not valid; the text says why (it goes to the client).
    Invalid(String),
    /// The issuer's keys could not be fetched and none are cached.
    Unavailable,
}

fn invalid(why: impl Into<String>) -> TokenError {
    TokenError::Invalid(why.into())
}

/// One signing key of the issuer.
struct Key {
    id: Option<String>,
    /// The algorithm the JWKS pins it to, if any.
    algorithm: Option<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct Keys {
    keys: Vec<Key>,
    /// When they were fetched (`None`: never).
    fetched: Option<Instant>,
}

/// The resource server: validates tokens, publishes its metadata.
pub struct OAuth {
    settings: OAuthSettings,
    metadata_url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<Keys>>,
    /// Held while fetching; holds when the last fetch began.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    jwks_url: tokio::sync::OnceCell<url::Url>,
}

impl OAuth {
    /// The resource server of the (validated) settings.
    pub fn new(settings: OAuthSettings) -> Arc<Self> {
        let resource = &settings.resource;
        let path = resource.path().trim_end_matches('/');
        let metadata_url = format!(
            "{}{METADATA_PATH}{path}",
            resource.origin().ascii_serialization()
        );
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Self {
            settings,
            metadata_url,
            client,
            keys: RwLock::new(Arc::new(Keys::default())),
            fetching: tokio::sync::Mutex::new(None),
            jwks_url: tokio::sync::OnceCell::new(),
        })
    }

    /// The URL of this server's protected-resource metadata (named in 401 answers).
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The paths the metadata is served at: the well-known path with the resource's path
    /// appended (RFC 9728 §3.1) and the bare well-known path (older clients).
    pub fn metadata_paths(&self) -> Vec<String> {
        let path = self.settings.resource.path().trim_end_matches('/');
        let mut paths = vec![METADATA_PATH.to_string()];
        if !path.is_empty() {
            paths.push(format!("{METADATA_PATH}{path}"));
        }
        paths
    }

    /// The protected-resource metadata document (RFC 9728).
    pub fn metadata(&self) -> Value {
        let mut scopes: Vec<&str> = self
            .settings
            .scopes
            .iter()
            .map(|(_, s)| s.as_str())
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        serde_json::json!({
            "resource": self.settings.resource.as_str(),
            "authorization_servers": [self.settings.issuer],
            "bearer_methods_supported": ["header"],
            "scopes_supported": scopes,
            "resource_name": "Crawlium",
        })
    }

    /// The scope a call to a tool of `group` needs that `grant` lacks, if any.
    pub fn missing_scope(&self, grant: &[String], group: ToolGroup) -> Option<&str> {
        self.settings
            .scopes
            .iter()
            .find(|(g, scope)| *g == group && !grant.iter().any(|s| s == scope))
            .map(|(_, scope)| scope.as_str())
    }

    /// Whether any tool group needs a scope.
    pub fn has_scopes(&self) -> bool {
        !self.settings.scopes.is_empty()
    }

    /// Fetches the keys ahead of the first token; a failure is logged and retried then.
    pub async fn warm_up(&self) {
        if let Err(TokenError::Unavailable) = self.refetch().await.map(|_| ()) {
            tracing::warn!(
                issuer = %self.settings.issuer,
                "the OAuth issuer's keys are not reachable yet; tokens are refused until they are"
            );
        }
    }

    /// Checks a bearer token.
    pub async fn verify(&self, token: &str) -> Result<Grant, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            invalid("not a JWT signed with a supported algorithm (RS*, PS*, ES*, EdDSA)")
        })?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(invalid(
                "symmetric algorithms (HS*) are not accepted; the token must be signed with the \
                 issuer's published key",
            ));
        }
        let mut keys = self.current().await?;
        if !keys.keys.iter().any(|k| fits(k, &header)) {
            // A key id this server has not seen: perhaps the issuer rotated its keys.
            keys = self.refetch().await?;
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        let issuer = self.settings.issuer.trim_end_matches('/');
        validation.set_issuer(&[issuer.to_string(), format!("{issuer}/")]);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut error = invalid("signed with a key the issuer does not publish");
        for key in keys.keys.iter().filter(|k| fits(k, &header)) {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => return self.grant(&data.claims),
                Err(e) => error = describe(e.kind()),
            }
        }
        Err(error)
    }

    fn grant(&self, claims: &Map<String, Value>) -> Result<Grant, TokenError> {
        let claim = &self.settings.principal_claim;
        let name = match claims.get(claim) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(invalid(format!(
                    "the token has no '{}' claim to name the caller",
                    claim.replace(['"', '\\'], "")
                )));
            }
        };
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => {
                s.split_whitespace().map(str::to_string).collect()
            }
            (None, Some(Value::Array(list))) => list
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Grant {
            principal: Principal::named("oauth", &name),
            scopes,
        })
    }

    /// The cached keys, fetched first when there are none or they are old.
    async fn current(&self) -> Result<Arc<Keys>, TokenError> {
        let keys = self.cached();
        match keys.fetched {
            Some(at) if at.elapsed() < KEYS_TTL => Ok(keys),
            _ => self.refetch().await,
        }
    }

    fn cached(&self) -> Arc<Keys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Fetches the keys unless a fetch began less than [`REFETCH_COOLDOWN`] ago (then the
    /// keys that fetch left are the answer); a failed fetch keeps the keys there were.
    async fn refetch(&self) -> Result<Arc<Keys>, TokenError> {
        let mut last = self.fetching.lock().await;
        let due = last.is_none_or(|at| at.elapsed() >= REFETCH_COOLDOWN);
        if due {
            *last = Some(Instant::now());
            match self.fetch_keys().await {
                Ok(keys) => {
                    let keys = Arc::new(Keys {
                        keys,
                        fetched: Some(Instant::now()),
                    });
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = keys.clone();
                    return Ok(keys);
                }
                Err(error) => tracing::warn!(
                    issuer = %self.settings.issuer,
                    %error,
                    "could not fetch the OAuth issuer's keys"
                ),
            }
        }
        let keys = self.cached();
        if keys.fetched.is_none() {
            return Err(TokenError::Unavailable);
        }
        Ok(keys)
    }

    async fn fetch_keys(&self) -> Result<Vec<Key>, String> {
        let url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => self
                .jwks_url
                .get_or_try_init(|| self.discover())
                .await?
                .clone(),
        };
        let document = self.get_json(&url).await?;
        let listed = document["keys"]
            .as_array()
            .ok_or_else(|| format!("{url} is not a JWKS (no \"keys\" array)"))?;
        let keys: Vec<Key> = listed.iter().filter_map(signing_key).collect();
        tracing::info!(
            jwks = %url,
            keys = keys.len(),
            skipped = listed.len() - keys.len(),
            "fetched the OAuth issuer's signing keys"
        );
        Ok(keys)
    }

    /// The issuer's `jwks_uri`, from its authorization-server metadata (RFC 8414) or its
    /// OpenID configuration, whose `issuer` must be the configured one.
    async fn discover(&self) -> Result<url::Url, String> {
        let issuer = &self.settings.issuer_url;
        let path = issuer.path().trim_end_matches('/');
        let at = |well_known: &str| {
            let mut url = issuer.clone();
            url.set_path(well_known);
            url.set_query(None);
            url
        };
        let mut candidates = vec![
            at(&format!("/.well-known/oauth-authorization-server{path}")),
            at(&format!("/.well-known/openid-configuration{path}")),
        ];
        if !path.is_empty() {
            candidates.push(at(&format!("{path}/.well-known/openid-configuration")));
        }
        let mut failures = Vec::new();
        for url in candidates {
            let document = match self.get_json(&url).await {
                Ok(document) => document,
                Err(error) => {
                    failures.push(error);
                    continue;
                }
            };
            let named = document["issuer"].as_str().unwrap_or_default();
            if named.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/') {
                return Err(format!(
                    "{url} names the issuer '{named}', not OAUTH_ISSUER '{}'",
                    self.settings.issuer
                ));
            }
            let jwks = document["jwks_uri"]
                .as_str()
                .ok_or_else(|| format!("{url} has no jwks_uri; set OAUTH_JWKS_URL"))?;
            return url::Url::parse(jwks)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http"))
                .ok_or_else(|| format!("{url}: jwks_uri '{jwks}' is not an http(s) URL"));
        }
        Err(failures.join("; "))
    }

    async fn get_json(&self, url: &url::Url) -> Result<Value, String> {
        let mut response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON ({e})"))
    }
}

/// A JWKS entry as a key for verifying signatures; `None` for symmetric keys, encryption keys
/// and what this build cannot use.
fn signing_key(entry: &Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    if key.family() == AlgorithmFamily::Hmac {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        Some(alg) => Some(Algorithm::from_str(&alg.to_string()).ok()?),
        None => None,
    };
    Some(Key {
        id: jwk.common.key_id,
        algorithm,
        key,
    })
}

/// Whether `key` may have signed a token with `header`: the same key id (when the token names
/// one), the algorithm the JWKS pins (if any), a key of the algorithm's family.
fn fits(key: &Key, header: &jsonwebtoken::Header) -> bool {
    header
        .kid
        .as_ref()
        .is_none_or(|kid| key.id.as_ref() == Some(kid))
        && key.algorithm.is_none_or(|alg| alg == header.alg)
        && key.key.family() == header.alg.family()
}

/// What the client is told about a token that failed validation.
fn describe(kind: &ErrorKind) -> TokenError {
    invalid(match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidAudience => "the token is not meant for this server (aud)",
        ErrorKind::InvalidIssuer => "the token comes from another issuer (iss)",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks exp, iss or aud",
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match the issuer's key",
        _ => "the token is malformed",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(scopes: &[(ToolGroup, &str)]) -> Arc<OAuth> {
        OAuth::new(OAuthSettings {
            issuer: "https://auth.example.com".into(),
            issuer_url: url::Url::parse("https://auth.example.com").unwrap(),
            resource: url::Url::parse("https://mcp.example.com/mcp").unwrap(),
            audiences: vec!["https://mcp.example.com/mcp".into()],
            principal_claim: "sub".into(),
            scopes: scopes.iter().map(|(g, s)| (*g, s.to_string())).collect(),
            jwks_url: None,
        })
    }

    #[test]
    fn metadata_names_the_resource_and_its_issuer() {
        let oauth = oauth(&[(ToolGroup::Browser, "crawlium:browser")]);
        assert_eq!(
            oauth.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            oauth.metadata_paths(),
            [
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/mcp"
            ]
        );
        let doc = oauth.metadata();
        assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
        assert_eq!(doc["authorization_servers"][0], "https://auth.example.com");
        assert_eq!(doc["scopes_supported"][0], "crawlium:browser");
    }

    #[test]
    fn scopes_are_needed_only_by_listed_groups() {
        let oauth = oauth(&[(ToolGroup::Browser, "crawlium:browser")]);
        let none: Vec<String> = Vec::new();
        assert_eq!(
            oauth.missing_scope(&none, ToolGroup::Browser),
            Some("crawlium:browser")
        );
        assert_eq!(oauth.missing_scope(&none, ToolGroup::Crawl), None);
        assert_eq!(
            oauth.missing_scope(&["crawlium:browser".to_string()], ToolGroup::Browser),
            None
        );
    }

    #[test]
    fn claims_name_the_caller_and_their_scopes() {
        let oauth = oauth(&[]);
        let claims = |v: Value| v.as_object().unwrap().clone();
        let grant = oauth
            .grant(&claims(serde_json::json!({"sub": "alice", "scope": "a b"})))
            .unwrap();
        assert_eq!(grant.principal.as_str(), "oauth:alice");
        assert_eq!(grant.scopes, ["a", "b"]);
        let grant = oauth
            .grant(&claims(serde_json::json!({"sub": 42, "scp": ["x"]})))
            .unwrap();
        assert_eq!(grant.principal.as_str(), "oauth:42");
        assert_eq!(grant.scopes, ["x"]);
        assert!(matches!(
            oauth.grant(&claims(serde_json::json!({"scope": "a"}))),
            Err(TokenError::Invalid(why)) if why.contains("'sub'")
        ));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_signing_keys() {
        let oct = serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"});
        assert!(signing_key(&oct).is_none());
        let ec = serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "enc",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        });
        assert!(signing_key(&ec).is_none());
        let mut sig = ec.clone();
        sig["use"] = "sig".into();
        assert!(signing_key(&sig).is_some());
    }
}
