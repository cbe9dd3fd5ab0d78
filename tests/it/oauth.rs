//! OAuth 2.1 resource-server mode against the real binary: JWT access tokens from an
//! authorization server on loopback, checked against its JWKS; the protected-resource
//! metadata; scopes per tool group.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{
    issuer::{Issuer, SigningKey},
    rpc::{call_as, mcp_post, modern_call, modern_discover},
    server::{HttpServer, TOKEN},
};

/// The resource URL the server is configured with (clients would reach it there).
const RESOURCE: &str = "https://mcp.test/mcp";
const METADATA: &str = "https://mcp.test/.well-known/oauth-protected-resource/mcp";

async fn server(issuer: &Issuer, extra: &[&str]) -> HttpServer {
    let issuer = issuer.url();
    let mut args = vec![
        "--oauth-issuer",
        &issuer,
        "--oauth-resource",
        RESOURCE,
        "--auth-tokens",
        TOKEN,
    ];
    args.extend_from_slice(extra);
    HttpServer::start(&args, &[]).await
}

/// POSTs `body` with `token`; the status and the `WWW-Authenticate` header.
async fn post(server: &HttpServer, token: Option<&str>, body: &Value) -> (u16, String) {
    let mut request = mcp_post(&reqwest::Client::new(), server, body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn jwt_access_tokens_are_checked_against_the_issuers_keys() {
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let issuer = Issuer::start(&[&rsa, &ec]).await;
    let server = server(&issuer, &[]).await;
    let discover = modern_discover();
    let valid = issuer.claims(RESOURCE, "alice", None);

    // Clients learn where to get a token from the 401 and the metadata.
    let (status, challenge) = post(&server, None, &discover).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{METADATA}""#)),
        "{challenge}"
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let metadata: Value = reqwest::get(server.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(metadata["resource"], RESOURCE, "{path}");
        assert_eq!(metadata["authorization_servers"][0], issuer.url());
    }

    // Valid tokens from either key; the caller is the token's subject.
    assert_eq!(
        post(&server, Some(&rsa.sign(&valid)), &discover).await.0,
        200
    );
    let status = call_as(&server, &ec.sign(&valid), "server_status", json!({})).await;
    assert_eq!(
        status["structuredContent"]["you"]["principal"], "oauth:alice",
        "{status}"
    );
    // The static tokens still work beside OAuth.
    assert_eq!(post(&server, Some(TOKEN), &discover).await.0, 200);

    // Each refused with 401 invalid_token and a reason.
    let now = jsonwebtoken::get_current_timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        claims
    };
    let hs256 = {
        // The public key as an HMAC secret: the classic algorithm confusion.
        let secret = rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        jsonwebtoken::encode(&header, &valid, &EncodingKey::from_secret(&secret)).unwrap()
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
        b64(&valid)
    );
    let tampered = {
        let token = rsa.sign(&valid);
        let parts: Vec<&str> = token.split('.').collect();
        let claims = with(&|c| c["sub"] = "mallory".into());
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2])
    };
    let stranger = SigningKey::rsa("rsa-1");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            rsa.sign(&with(&|c| c["exp"] = (now - 300).into())),
            "expired",
        ),
        (
            "not yet valid",
            rsa.sign(&with(&|c| c["nbf"] = (now + 600).into())),
            "not valid yet",
        ),
        (
            "wrong audience",
            rsa.sign(&with(&|c| c["aud"] = "https://other.test/mcp".into())),
            "aud",
        ),
        (
            "wrong issuer",
            rsa.sign(&with(&|c| c["iss"] = "https://evil.test".into())),
            "iss",
        ),
        (
            "no expiry",
            rsa.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            "exp",
        ),
        ("alg none", unsigned, "supported algorithm"),
        ("HS256 with the public key", hs256, "symmetric"),
        ("tampered claims", tampered, "signature"),
        ("another key, same kid", stranger.sign(&valid), "signature"),
        (
            "not a JWT",
            "0123456789abcdef-not-a-jwt".into(),
            "not a JWT",
        ),
    ];
    for (case, token, reason) in cases {
        let (status, challenge) = post(&server, Some(&token), &discover).await;
        assert_eq!(status, 401, "{case}");
        assert!(
            challenge.contains(r#"error="invalid_token""#) && challenge.contains(reason),
            "{case}: {challenge}"
        );
        assert!(challenge.contains(METADATA), "{case}: {challenge}");
    }
    assert!(!server.logs().contains(&rsa.sign(&valid)[..40]));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let old = SigningKey::rsa("old");
    let new = SigningKey::ec("new");
    let issuer = Issuer::start(&[&old]).await;
    let server = server(&issuer, &[]).await;
    let discover = modern_discover();
    let claims = issuer.claims(RESOURCE, "bob", None);
    assert_eq!(
        post(&server, Some(&old.sign(&claims)), &discover).await.0,
        200
    );

    // Not published yet: refused, however often it is tried, with few fetches of the JWKS.
    for _ in 0..20 {
        let (status, challenge) = post(&server, Some(&new.sign(&claims)), &discover).await;
        assert_eq!(status, 401, "{challenge}");
        assert!(challenge.contains("does not publish"), "{challenge}");
    }
    assert!(
        issuer.jwks_fetches() <= 3,
        "{} fetches",
        issuer.jwks_fetches()
    );

    // Published: accepted once the cool-down since the last fetch has passed.
    issuer.publish(&new);
    let token = new.sign(&claims);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while post(&server, Some(&token), &discover).await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated key was not accepted within a minute"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        post(&server, Some(&old.sign(&claims)), &discover).await.0,
        200
    );
}

#[tokio::test]
async fn tools_of_a_group_need_its_scope() {
    let key = SigningKey::rsa("k");
    let issuer = Issuer::start(&[&key]).await;
    let server = server(&issuer, &["--oauth-scopes", "browser=crawlium:browser"]).await;
    let close = modern_call(1, "browser_close", json!({"browserId": "nope"}));
    let status = modern_call(2, "server_status", json!({}));

    let unscoped = key.sign(&issuer.claims(RESOURCE, "carol", Some("crawlium:crawl")));
    let (code, challenge) = post(&server, Some(&unscoped), &close).await;
    assert_eq!(code, 403, "{challenge}");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="crawlium:browser""#)
            && challenge.contains(METADATA),
        "{challenge}"
    );
    // Other groups need no scope; the metadata lists the scopes.
    assert_eq!(post(&server, Some(&unscoped), &status).await.0, 200);
    let metadata: Value = reqwest::get(server.url("/.well-known/oauth-protected-resource"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["scopes_supported"], json!(["crawlium:browser"]));

    // With the scope the call reaches the tool (which answers about the unknown browser).
    let scoped =
        key.sign(&issuer.claims(RESOURCE, "carol", Some("crawlium:crawl crawlium:browser")));
    let result = call_as(
        &server,
        &scoped,
        "browser_close",
        json!({"browserId": "nope"}),
    )
    .await;
    assert_eq!(result["isError"], true, "{result}");
    // Static tokens reach every group.
    assert_eq!(post(&server, Some(TOKEN), &close).await.0, 200);
}

#[tokio::test]
async fn an_unreachable_issuer_answers_503_with_retry_after() {
    let key = SigningKey::rsa("k");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let issuer_url = format!("http://{address}");
    let server = HttpServer::start(
        &["--oauth-issuer", &issuer_url, "--oauth-resource", RESOURCE],
        &[],
    )
    .await;
    let now = jsonwebtoken::get_current_timestamp();
    let token =
        key.sign(&json!({"iss": issuer_url, "aud": RESOURCE, "sub": "dan", "exp": now + 600}));
    let response = mcp_post(&reqwest::Client::new(), &server, &modern_discover())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(server.logs().contains("OAuth issuer"), "{}", server.logs());
}
