//! An OAuth authorization server on loopback as far as a resource server sees one: RFC 8414
//! metadata naming a JWKS, and that JWKS, whose keys a test can rotate. Keys are made fresh
//! per issuer (aws-lc-rs); tokens are signed with them (jsonwebtoken).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair as RsaKeyPair, KeySize},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use axum::{Json, Router, extract::State, routing::get};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

use super::fixture_server::FixtureServer;

/// One signing key: its id, algorithm and private half.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub private: EncodingKey,
    /// The public half as a JWK (what the JWKS publishes).
    pub jwk: Value,
}

impl SigningKey {
    /// A fresh RSA-2048 key for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        Self::new(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
    }

    /// A fresh P-256 key for ES256.
    pub fn ec(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_ref()),
        )
    }

    fn new(kid: &str, alg: Algorithm, private: EncodingKey) -> Self {
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&private, alg).unwrap()).unwrap();
        jwk["kid"] = kid.into();
        jwk["use"] = "sig".into();
        Self {
            kid: kid.to_string(),
            alg,
            private,
            jwk,
        }
    }

    /// `claims` signed with this key, its id in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.private).unwrap()
    }
}

#[derive(Clone)]
struct Published {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

/// The authorization server: running while it lives.
pub struct Issuer {
    server: FixtureServer,
    published: Published,
}

impl Issuer {
    /// Serves metadata and a JWKS holding `keys`.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let published = Published {
            issuer,
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect())),
            jwks_fetches: Arc::default(),
        };
        let router = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(|State(p): State<Published>| async move {
                    Json(json!({
                        "issuer": p.issuer,
                        "jwks_uri": format!("{}/jwks", p.issuer),
                        "token_endpoint": format!("{}/token", p.issuer),
                    }))
                }),
            )
            .route(
                "/jwks",
                get(|State(p): State<Published>| async move {
                    p.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    Json(json!({ "keys": *p.keys.lock().unwrap() }))
                }),
            )
            .with_state(published.clone());
        Self {
            server: FixtureServer::on(listener, router),
            published,
        }
    }

    /// Its issuer identifier (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        debug_assert_eq!(self.server.base(), self.published.issuer);
        self.published.issuer.clone()
    }

    /// Publishes `key` too (a rotation).
    pub fn publish(&self, key: &SigningKey) {
        self.published.keys.lock().unwrap().push(key.jwk.clone());
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.published.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Claims valid now for `audience`, naming `subject`, with `scope` if given.
    pub fn claims(&self, audience: &str, subject: &str, scope: Option<&str>) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = json!({
            "iss": self.url(),
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + 600,
        });
        if let Some(scope) = scope {
            claims["scope"] = scope.into();
        }
        claims
    }
}
