//! Which URLs Crawlium may fetch or navigate to: the guard against server-side request
//! forgery (SSRF).
//!
//! Two checks, both needed: [`NetPolicy::check_url`] before a request (scheme, credentials,
//! host lists, IP literals — every spelling of an IPv4 address, `2130706433`, `0177.0.0.1`,
//! `0x7f.1`, is normalised by the WHATWG parser first), and [`NetPolicy::check_addr`] on every
//! address a host name resolves to, at connect time, so DNS answers that change between check
//! and connect (rebinding) are caught too. Callers run both on every redirect hop.
//! The crawler uses it in `crawl::fetch`; the browser checks navigations with it
//! (`browser::handles`) and every request of its tabs (`browser::guard`).
//!
//! Link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata endpoints
//! (169.254.169.254, fd00:ec2::254, 100.100.100.200, `metadata.google.internal` and the like)
//! are refused even when private networks are allowed: one prompt injection there reads a
//! cloud VM's credentials. Only their own setting, `CRAWLIUM_ALLOW_LINK_LOCAL`, opens them.
//!
//! Plain rules and checks at the bottom of the crate: it imports nothing else of it; `config`
//! builds one from the settings.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a URL or address may not be fetched. Messages say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// Only http and https are fetched.
    #[error("'{0}' URLs are not fetched; use http or https")]
    Scheme(String),
    /// URLs carrying a user name or password.
    #[error("URLs with credentials (user:password@) are not fetched")]
    Credentials,
    /// An address in a private, loopback, link-local or otherwise non-public range.
    #[error(
        "{0} is not a public address; set CRAWLIUM_ALLOW_PRIVATE_NETWORKS=true to fetch from \
         private networks and this machine"
    )]
    PrivateAddress(IpAddr),
    /// A link-local address: where cloud metadata services answer.
    #[error(
        "{0} is link-local, where cloud metadata services answer (instance credentials); set \
         CRAWLIUM_ALLOW_LINK_LOCAL=true to fetch from link-local addresses"
    )]
    LinkLocal(IpAddr),
    /// A cloud metadata host name.
    #[error(
        "{0} is a cloud metadata service (instance credentials); set \
         CRAWLIUM_ALLOW_LINK_LOCAL=true to fetch it"
    )]
    MetadataHost(String),
    /// A host on the deny list.
    #[error("the host {0} is on the deny list")]
    DeniedHost(String),
    /// A host not on the allow list (when one is set).
    #[error("the host {0} is not on the allow list")]
    NotAllowedHost(String),
}

/// The fetch policy of one server.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// Fetch from private networks and loopback too (local development).
    pub allow_private: bool,
    /// Fetch from link-local addresses and cloud metadata hosts too.
    pub allow_link_local: bool,
    /// Hosts (and their subdomains) never fetched.
    pub deny_hosts: Vec<String>,
    /// When not empty, only these hosts (and their subdomains) are fetched.
    pub allow_hosts: Vec<String>,
}

impl NetPolicy {
    /// Checks a URL before it is requested (and again for each redirect target).
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked::Scheme(url.scheme().to_string()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Blocked::Credentials);
        }
        let host = match url.host() {
            Some(Host::Domain(domain)) => domain.trim_end_matches('.').to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => {
                return self
                    .check_addr(IpAddr::V4(ip))
                    .and(self.check_host(&ip.to_string()));
            }
            Some(Host::Ipv6(ip)) => {
                return self
                    .check_addr(IpAddr::V6(ip))
                    .and(self.check_host(&ip.to_string()));
            }
            None => return Err(Blocked::Scheme(url.scheme().to_string())),
        };
        if !self.allow_private && (host == "localhost" || host.ends_with(".localhost")) {
            return Err(Blocked::PrivateAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if !self.allow_link_local && is_metadata_host(&host) {
            return Err(Blocked::MetadataHost(host));
        }
        self.check_host(&host)
    }

    /// Checks an address a host resolved to, right before connecting.
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), Blocked> {
        if is_link_local(ip) {
            return if self.allow_link_local {
                Ok(())
            } else {
                Err(Blocked::LinkLocal(ip))
            };
        }
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(Blocked::PrivateAddress(ip))
        }
    }

    /// True when some addresses are refused, so every address a host name resolves to must
    /// be checked ([`NetPolicy::check_addr`]) before connecting.
    pub fn checks_addresses(&self) -> bool {
        !(self.allow_private && self.allow_link_local)
    }

    fn check_host(&self, host: &str) -> Result<(), Blocked> {
        let matches = |rule: &String| {
            let rule = rule.trim().trim_end_matches('.').to_ascii_lowercase();
            host == rule || host.ends_with(&format!(".{rule}"))
        };
        if self.deny_hosts.iter().any(matches) {
            return Err(Blocked::DeniedHost(host.to_string()));
        }
        if !self.allow_hosts.is_empty() && !self.allow_hosts.iter().any(matches) {
            return Err(Blocked::NotAllowedHost(host.to_string()));
        }
        Ok(())
    }
}

/// Host names of cloud metadata services (a name also covers its subdomains); names that
/// resolve to a link-local address are refused at connect time as well.
const METADATA_HOSTS: [&str; 6] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "metadata.azure.com",
    "instance-data",
    "instance-data.ec2.internal",
];

fn is_metadata_host(host: &str) -> bool {
    METADATA_HOSTS
        .iter()
        .any(|name| host == *name || host.ends_with(&format!(".{name}")))
}

/// True for link-local addresses (169.254.0.0/16, fe80::/10, also inside IPv6 forms of IPv4)
/// and the metadata endpoints outside them (AWS's fd00:ec2::254, Alibaba's 100.100.100.200).
pub fn is_link_local(ip: IpAddr) -> bool {
    const ALIBABA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);
    const AWS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    let v4 = |v4: Ipv4Addr| v4.is_link_local() || v4 == ALIBABA;
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(inner) => v4(inner),
            None => (ip.segments()[0] & 0xffc0) == 0xfe80 || ip == AWS_V6,
        },
    }
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || a == 0 // 0.0.0.0/8 "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15 benchmarking
        || ip.is_multicast()
        || a >= 240) // 240/4 reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (first & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (first & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x0100) // 100::/64 discard
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4); // ::ffff:a.b.c.d
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail()); // ::a.b.c.d (deprecated IPv4-compatible)
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail()); // 64:ff9b::/96 NAT64
    }
    if s[0] == 0x2002 {
        // 2002:AABB:CCDD::/48 6to4
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &NetPolicy, url: &str) -> Result<(), Blocked> {
        policy.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn every_spelling_of_loopback_and_metadata_is_blocked() {
        let policy = NetPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://localhost:8080/",
            "http://app.localhost/",
            "http://evil.example@127.0.0.1/",
        ] {
            assert!(check(&policy, url).is_err(), "{url} must be blocked");
        }
    }

    #[test]
    fn public_hosts_pass_and_other_schemes_and_credentials_do_not() {
        let policy = NetPolicy::default();
        assert_eq!(check(&policy, "https://example.com/a?b=c"), Ok(()));
        assert_eq!(check(&policy, "http://93.184.216.34/"), Ok(()));
        assert_eq!(check(&policy, "http://[2606:2800:220:1::1]/"), Ok(()));
        assert!(matches!(
            check(&policy, "file:///etc/passwd"),
            Err(Blocked::Scheme(_))
        ));
        assert!(matches!(
            check(&policy, "gopher://example.com/"),
            Err(Blocked::Scheme(_))
        ));
        assert_eq!(
            check(&policy, "https://user:pw@example.com/"),
            Err(Blocked::Credentials)
        );
    }

    #[test]
    fn private_networks_when_allowed() {
        let policy = NetPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert_eq!(check(&policy, "http://127.0.0.1:3000/"), Ok(()));
        assert_eq!(check(&policy, "http://localhost/"), Ok(()));
        assert_eq!(policy.check_addr("10.0.0.1".parse().unwrap()), Ok(()));
    }

    #[test]
    fn cloud_metadata_stays_refused_with_private_networks_allowed() {
        let policy = NetPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(policy.checks_addresses());
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.170.2/v2/credentials",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://metadata/computeMetadata/v1/",
            "http://metadata.azure.com/",
            "http://instance-data.ec2.internal/",
        ] {
            let refused = check(&policy, url).unwrap_err();
            assert!(
                matches!(refused, Blocked::LinkLocal(_) | Blocked::MetadataHost(_)),
                "{url}: {refused:?}"
            );
            assert!(
                refused
                    .to_string()
                    .contains("CRAWLIUM_ALLOW_LINK_LOCAL=true"),
                "{url}: {refused}"
            );
        }
        // A name that resolves there is refused at connect time.
        assert!(matches!(
            policy.check_addr("169.254.169.254".parse().unwrap()),
            Err(Blocked::LinkLocal(_))
        ));
        // Its own setting opens it; private networks stay as they are set.
        let open = NetPolicy {
            allow_link_local: true,
            ..Default::default()
        };
        assert_eq!(check(&open, "http://169.254.169.254/"), Ok(()));
        assert_eq!(check(&open, "http://metadata.google.internal/"), Ok(()));
        assert!(check(&open, "http://10.0.0.1/").is_err());
        assert!(open.checks_addresses());
        let everything = NetPolicy {
            allow_private: true,
            allow_link_local: true,
            ..Default::default()
        };
        assert!(!everything.checks_addresses());
        assert_eq!(check(&everything, "http://[fe80::1]/"), Ok(()));
    }

    #[test]
    fn resolved_addresses_are_checked_too() {
        let policy = NetPolicy::default();
        assert!(policy.check_addr("192.168.0.10".parse().unwrap()).is_err());
        assert!(
            policy
                .check_addr("::ffff:10.0.0.1".parse().unwrap())
                .is_err()
        );
        assert!(policy.check_addr("8.8.8.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn host_lists_cover_subdomains() {
        let policy = NetPolicy {
            deny_hosts: vec!["Ads.Example".into()],
            allow_hosts: vec!["example".into()],
            ..Default::default()
        };
        assert!(matches!(
            check(&policy, "https://ads.example/"),
            Err(Blocked::DeniedHost(_))
        ));
        assert!(matches!(
            check(&policy, "https://x.ads.example./"),
            Err(Blocked::DeniedHost(_))
        ));
        assert_eq!(check(&policy, "https://docs.example/"), Ok(()));
        assert!(matches!(
            check(&policy, "https://other.org/"),
            Err(Blocked::NotAllowedHost(_))
        ));
        assert!(matches!(
            check(&policy, "https://notexample/"),
            Err(Blocked::NotAllowedHost(_))
        ));
    }

    #[test]
    fn error_messages_say_what_to_change() {
        let err = check(&NetPolicy::default(), "http://10.0.0.1/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("CRAWLIUM_ALLOW_PRIVATE_NETWORKS"), "{err}");
    }
}
