//! Who is calling. The bottom of the crate: it imports nothing of it, and browser handles,
//! jobs and sessions are scoped to it.

use std::sync::Arc;

/// Who is calling: the bearer token's fingerprint or the OAuth token's subject on authenticated
/// HTTP, else `local`.
///
/// Later modules scope browser handles and jobs to it. The token itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal(Arc<str>);

impl Principal {
    /// The caller of an unauthenticated transport (stdio, or HTTP without tokens).
    pub fn local() -> Self {
        Self(Arc::from("local"))
    }

    /// The principal for a bearer token: `token:` and the first 12 hex digits of its SHA-256.
    pub fn for_token(token: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(token.as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self(Arc::from(format!("token:{hex}")))
    }

    /// The principal an identity provider names: `{kind}:{name}`, the name cut to 128
    /// characters without control characters or spaces (it goes into logs).
    pub fn named(kind: &str, name: &str) -> Self {
        let name: String = name
            .chars()
            .filter(|c| !c.is_control() && !c.is_whitespace())
            .take(128)
            .collect();
        Self(Arc::from(format!("{kind}:{name}")))
    }

    /// The principal's identifier, safe to log.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_hide_tokens() {
        let principal = Principal::for_token("secret-token-0123456789");
        assert!(principal.as_str().starts_with("token:"));
        assert_eq!(principal.as_str().len(), "token:".len() + 12);
        assert!(!principal.as_str().contains("secret"));
        assert_ne!(principal, Principal::for_token("secret-token-0123456780"));
        let named = Principal::named("oauth", "al ice\n\u{7}");
        assert_eq!(named.as_str(), "oauth:alice");
        assert_eq!(
            Principal::named("oauth", &"x".repeat(500)).as_str().len(),
            6 + 128
        );
    }
}
