//! Hops between replicas: a request one replica forwards to another carries [`HOP_HEADER`],
//! the replica it is meant for and an HMAC-SHA256 under the cluster secret of the time it was
//! sent, that replica, its method, path and body. The receiving replica serves a request with
//! a valid hop itself (a hop is never forwarded again), refuses one whose hop does not check
//! out (a client cannot claim to be a replica), and answers 421 to a valid hop meant for
//! another replica: the address now belongs to a new process (a replica restarted on the
//! same address), so the replica the sender wanted is gone. The client's own `Authorization`
//! travels with the request and is checked by the receiving replica as usual: a hop proves
//! where a request came from, not who sent it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The header that marks a forwarded request.
pub const HOP_HEADER: &str = "x-crawlium-hop";
/// How far a hop's time may be from the receiver's clock (replicas' clocks drift a little;
/// a captured hop is useless after this).
pub const HOP_WINDOW: Duration = Duration::from_secs(60);

/// Why a hop was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    /// The header is not `TIME.MAC`.
    #[error("a malformed hop header")]
    Malformed,
    /// Signed too long ago, or in the future.
    #[error("a hop signed outside the {}-second window", HOP_WINDOW.as_secs())]
    Stale,
    /// Not signed with this cluster's secret (or for another request).
    #[error("a hop not signed with this cluster's secret")]
    Forged,
    /// Signed for another replica: the address it was sent to now belongs to a new process
    /// (a restarted replica on the same address), so the one it meant is gone.
    #[error("a hop meant for replica {0}, which is not this one")]
    Misdirected(String),
}

fn mac(
    secret: &str,
    at_ms: u64,
    target: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{at_ms}\n{target}\n{method}\n{path}\n").as_bytes());
    mac.update(&Sha256::digest(body));
    mac
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The hop header value for forwarding `method path` with `body` to replica `target` now.
pub fn sign(secret: &str, target: &str, method: &str, path: &str, body: &[u8]) -> String {
    let at = now_ms();
    let tag = mac(secret, at, target, method, path, body)
        .finalize()
        .into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("{at}.{target}.{hex}")
}

/// Checks a hop header against the request it came with, received by replica `me`.
pub fn verify(
    secret: &str,
    header: &str,
    me: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(), HopError> {
    let mut fields = header.splitn(3, '.');
    let (Some(at), Some(target), Some(hex)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(HopError::Malformed);
    };
    let at: u64 = at.parse().map_err(|_| HopError::Malformed)?;
    if hex.len() != 64 {
        return Err(HopError::Malformed);
    }
    let tag = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| HopError::Malformed)?;
    if now_ms().abs_diff(at) > HOP_WINDOW.as_millis() as u64 {
        return Err(HopError::Stale);
    }
    mac(secret, at, target, method, path, body)
        .verify_slice(&tag)
        .map_err(|_| HopError::Forged)?;
    if target != me {
        return Err(HopError::Misdirected(target.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_hop_checks_out_only_for_its_request_and_secret() {
        let hop = sign(SECRET, "r1", "POST", "/mcp", b"{}");
        assert_eq!(verify(SECRET, &hop, "r1", "POST", "/mcp", b"{}"), Ok(()));
        assert_eq!(
            verify(SECRET, &hop, "r1", "POST", "/mcp", b"{\"x\":1}"),
            Err(HopError::Forged)
        );
        assert_eq!(
            verify(SECRET, &hop, "r1", "POST", "/message", b"{}"),
            Err(HopError::Forged)
        );
        // Meant for another replica: a new process on the address the sender knew.
        assert_eq!(
            verify(SECRET, &hop, "r2", "POST", "/mcp", b"{}"),
            Err(HopError::Misdirected("r1".into()))
        );
        let retargeted = hop.replacen(".r1.", ".r2.", 1);
        assert_eq!(
            verify(SECRET, &retargeted, "r2", "POST", "/mcp", b"{}"),
            Err(HopError::Forged),
            "the target is signed"
        );
        assert_eq!(
            verify(
                "another-secret-of-32-characters!!",
                &hop,
                "r1",
                "POST",
                "/mcp",
                b"{}"
            ),
            Err(HopError::Forged)
        );
        assert_eq!(
            verify(SECRET, "nonsense", "r1", "POST", "/mcp", b""),
            Err(HopError::Malformed)
        );
        let old = format!("1000.r1.{}", "0".repeat(64));
        assert_eq!(
            verify(SECRET, &old, "r1", "POST", "/mcp", b""),
            Err(HopError::Stale)
        );
    }
}
