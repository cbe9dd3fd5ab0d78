//! Fuzz targets: the parsers that read what the web, a client or a browser sends, each taking
//! arbitrary bytes. A target must never panic, hang or blow up, and checks what must hold
//! whatever the input (a normalised URL normalises to itself, chunks keep their size limit, a
//! link-local address is never public, …).
//!
//! `tools/fuzz.sh` runs them with cargo-fuzz (`fuzz/`, nightly) where the machine has a nightly
//! toolchain, else as property tests on stable ([`stable`]: seeds mutated at random for a
//! given time). Inputs that once failed live in `fuzz/regressions/{target}/` and are replayed by
//! the ordinary test suite.
//!
//! Test support: compiled for tests and with the `fuzzing` feature only. It imports `crawl`,
//! `browser` and `net_policy`.

use std::{net::IpAddr, sync::OnceLock, time::Duration};

use url::Url;

use crate::{
    browser::{proxy, snapshot},
    crawl::{
        chunk::chunk_markdown,
        extract::extract,
        robots::Robots,
        sitemap::{SitemapLimits, parse_body},
        url::normalise,
    },
    net_policy::{NetPolicy, is_link_local, is_public},
};

/// A fuzz target: it takes any bytes and panics on what must not happen.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: [(&str, Target); 9] = [
    ("sitemap", sitemap),
    ("robots", robots),
    ("url", url),
    ("net_policy", net_policy),
    ("extract", extract_html),
    ("chunk", chunk),
    ("snapshot", snapshot_tree),
    ("socks", socks),
    ("sse_message", sse_message),
];

/// Runs the target called `name` (the cargo-fuzz binaries' way in); unknown names panic.
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target '{name}'"));
    target(data);
}

/// A runtime for the async parsers, one per thread.
fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for the fuzz targets: {e}"));
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn base() -> &'static Url {
    static BASE: OnceLock<Url> = OnceLock::new();
    BASE.get_or_init(|| {
        Url::parse("https://example.com/dir/page.html").unwrap_or_else(|_| unreachable!())
    })
}

/// A sitemap body (gzip or XML, as read from the web).
pub fn sitemap(data: &[u8]) {
    let limits = SitemapLimits {
        max_urls: 1_000,
        max_bytes: 1024 * 1024,
        max_duration: Duration::from_secs(10),
        max_total_urls: 1_000,
        max_depth: 2,
    };
    let body = bytes::Bytes::copy_from_slice(data);
    if let Ok(sitemap) = block_on(parse_body(base(), body, &limits)) {
        assert!(sitemap.entries.len() <= limits.max_urls);
    }
}

/// A robots.txt body, then questions about it.
pub fn robots(data: &[u8]) {
    let robots = Robots::parse(data);
    for path in ["/", "/private/x", "/a?b=c", "/%E2%82%AC"] {
        let url = base().join(path).unwrap_or_else(|_| base().clone());
        let _ = robots.allowed(&url);
    }
    let _ = (
        robots.crawl_delay(),
        robots.sitemaps().len(),
        robots.refusal(),
    );
}

/// URL normalisation: what it makes of any text normalises to itself, and passes the network
/// policy's checks without a panic.
pub fn url(data: &[u8]) {
    let Ok(once) = normalise(&text(data)) else {
        return;
    };
    let twice = normalise(once.as_str()).unwrap_or_else(|e| panic!("{once} no longer parses: {e}"));
    assert_eq!(once, twice, "normalising is not idempotent");
    let _ = NetPolicy::default().check_url(&once);
}

/// Hosts and addresses under every policy: whatever the spelling, an address's class is the
/// same by name and by number.
pub fn net_policy(data: &[u8]) {
    let policies = [
        NetPolicy::default(),
        NetPolicy {
            allow_private: true,
            deny_hosts: vec!["example.com".into()],
            ..Default::default()
        },
        NetPolicy {
            allow_private: true,
            allow_link_local: true,
            allow_hosts: vec!["example.org".into()],
            ..Default::default()
        },
    ];
    let host = text(data);
    if let Ok(url) = Url::parse(&format!("http://{}/", host.trim())) {
        for policy in &policies {
            let _ = policy.check_url(&url);
        }
    }
    let ip: Option<IpAddr> = match data.len() {
        4 => Some(
            <[u8; 4]>::try_from(data)
                .map(IpAddr::from)
                .unwrap_or_else(|_| unreachable!()),
        ),
        16 => Some(
            <[u8; 16]>::try_from(data)
                .map(IpAddr::from)
                .unwrap_or_else(|_| unreachable!()),
        ),
        _ => None,
    };
    if let Some(ip) = ip {
        assert!(
            !(is_link_local(ip) && is_public(ip)),
            "{ip} is link-local and public"
        );
        let strict = policies[0].check_addr(ip);
        assert_eq!(strict.is_ok(), is_public(ip), "{ip}");
        let by_name = Url::parse(&format!(
            "http://{}/",
            match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            }
        ));
        if let Ok(url) = by_name {
            assert_eq!(policies[0].check_url(&url).is_ok(), strict.is_ok(), "{url}");
        }
    }
}

/// A page through extraction (the nesting cap, the parse deadline) and into chunks.
pub fn extract_html(data: &[u8]) {
    let extracted = extract(&text(data), base(), 500);
    drop(extracted);
}

/// Markdown into chunks: each within the limit unless it holds a fenced block or is one heading
/// line longer than the limit.
pub fn chunk(data: &[u8]) {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(limit).max(1) * 8;
    for chunk in chunk_markdown(&text(rest), max) {
        let size = chunk.text.chars().count();
        let fenced = ["```", "~~~"].iter().any(|f| chunk.text.contains(f));
        let heading = !chunk.text.contains('\n') && chunk.text.trim_start().starts_with('#');
        assert!(
            size <= max || fenced || heading,
            "a chunk of {size} > {max}: {:?}",
            chunk.text
        );
        assert!(!chunk.text.trim().is_empty(), "a blank chunk");
    }
}

/// An accessibility tree: as JSON when it is JSON, else a graph the bytes describe (childIds
/// that point anywhere, in circles too).
pub fn snapshot_tree(data: &[u8]) {
    let nodes: Vec<serde_json::Value> = match serde_json::from_slice(data) {
        Ok(serde_json::Value::Array(nodes)) => nodes,
        _ => {
            let roles = [
                "RootWebArea",
                "generic",
                "link",
                "StaticText",
                "list",
                "none",
                "button",
            ];
            data.chunks(3)
                .enumerate()
                .map(|(i, c)| {
                    let children: Vec<String> =
                        c.iter().skip(1).map(|b| (b % 64).to_string()).collect();
                    serde_json::json!({
                        "nodeId": i.to_string(),
                        "role": {"value": roles[usize::from(c[0]) % roles.len()]},
                        "name": {"value": format!("n{i}")},
                        "childIds": children,
                        "backendDOMNodeId": i,
                        "ignored": c[0] > 240,
                    })
                })
                .collect()
        }
    };
    let outline = snapshot::render(&nodes, 0, |b| format!("e{b}"));
    assert!(outline.text.lines().count() <= nodes.len().max(1) * 513);
    let _ = snapshot::title(&nodes);
}

/// What a client of the browser's egress proxy sends.
pub fn socks(data: &[u8]) {
    if let Ok((host, _port)) = block_on(proxy::handshake_of(data)) {
        assert!(host.len() <= 255 || host.parse::<IpAddr>().is_ok());
    }
}

/// A legacy SSE client's message body, read as the transport reads it.
pub fn sse_message(data: &[u8]) {
    let _ = serde_json::from_slice::<rmcp::model::ClientJsonRpcMessage>(data);
    let _ = serde_json::from_slice::<serde_json::Value>(data);
}

/// The targets as property tests on stable: seeds mutated at random.
pub mod stable {
    use std::time::Instant;

    /// The seeds of a target (`fuzz/seeds/{target}/`): small valid inputs to mutate from.
    pub fn seeds(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .collect();
        if seeds.is_empty() {
            seeds.push(Vec::new());
        }
        seeds
    }

    /// A small, fast generator (xorshift64*), seeded: runs can be replayed.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n.max(1) as u64) as usize
        }
    }

    /// `input` changed in a few random ways: bytes flipped, set to edge values, inserted,
    /// removed, ranges duplicated, another seed spliced in.
    pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
        const EDGES: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'<', b'>', b'"', b'\n', b'['];
        for _ in 0..=rng.below(4) {
            let len = input.len();
            match rng.below(7) {
                0 if len > 0 => {
                    let at = rng.below(len);
                    input[at] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let at = rng.below(len);
                    input[at] = EDGES[rng.below(EDGES.len())];
                }
                2 => {
                    let at = rng.below(len + 1);
                    input.insert(at, rng.next_u64() as u8);
                }
                3 if len > 0 => {
                    let at = rng.below(len);
                    let end = (at + 1 + rng.below(16)).min(len);
                    input.drain(at..end);
                }
                4 if len > 0 && len < 64 * 1024 => {
                    let at = rng.below(len);
                    let end = (at + 1 + rng.below(64)).min(len);
                    let piece = input[at..end].to_vec();
                    for _ in 0..=rng.below(8) {
                        let to = rng.below(input.len() + 1);
                        input.splice(to..to, piece.iter().copied());
                    }
                }
                5 if !others.is_empty() => {
                    let other = &others[rng.below(others.len())];
                    let at = rng.below(len + 1);
                    let from = rng.below(other.len() + 1);
                    input.truncate(at);
                    input.extend_from_slice(&other[from..]);
                }
                _ => {
                    let at = rng.below(len + 1);
                    input.truncate(at);
                }
            }
        }
    }

    /// Runs `target` on mutated seeds for `budget`; returns how many inputs ran. A failing
    /// input panics, after it was printed (hex) and written to `save_to` if given.
    pub fn run(
        name: &str,
        target: super::Target,
        budget: std::time::Duration,
        seed: u64,
        save_to: Option<&std::path::Path>,
    ) -> u64 {
        let seeds = seeds(name);
        let mut rng = Rng::new(seed);
        let started = Instant::now();
        let mut runs = 0;
        let mut pool = seeds.clone();
        while started.elapsed() < budget {
            let mut input = pool[rng.below(pool.len())].clone();
            mutate(&mut rng, &mut input, &seeds);
            let outcome = std::panic::catch_unwind(|| target(&input));
            if let Err(panic) = outcome {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                if let Some(dir) = save_to {
                    let _ = std::fs::create_dir_all(dir);
                    let _ = std::fs::write(dir.join(format!("crash-{runs}")), &input);
                }
                std::panic::resume_unwind(Box::new(format!(
                    "{name}: input {hex} failed: {:?}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or(panic.downcast_ref::<&str>().copied())
                )));
            }
            runs += 1;
            // Keep some inputs to mutate further (a crude corpus).
            if pool.len() < 256 && rng.below(16) == 0 {
                pool.push(input);
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Inputs that once failed a target, replayed on every run.
    #[test]
    fn regressions_stay_fixed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        for (name, target) in TARGETS {
            let Ok(entries) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            for entry in entries.flatten() {
                let input = std::fs::read(entry.path()).unwrap();
                target(&input);
            }
        }
    }

    /// Every target, briefly, on mutated seeds: the ordinary suite's share of fuzzing.
    #[test]
    fn every_target_survives_a_moment_of_mutations() {
        for (name, target) in TARGETS {
            let runs = stable::run(name, target, Duration::from_millis(300), 7, None);
            assert!(runs > 0, "{name} ran nothing");
        }
    }

    /// `tools/fuzz.sh` on stable: FUZZ_TARGET (or every target), FUZZ_SECONDS each.
    #[test]
    #[ignore = "long: run by tools/fuzz.sh"]
    fn stable_fuzzing() {
        let only = std::env::var("FUZZ_TARGET").ok().filter(|t| !t.is_empty());
        let seconds: u64 = std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/artifacts");
        for (name, target) in TARGETS {
            if only.as_deref().is_some_and(|t| t != name) {
                continue;
            }
            let runs = stable::run(
                name,
                target,
                Duration::from_secs(seconds),
                seed,
                Some(&root.join(name)),
            );
            println!("fuzz {name}: {runs} runs in {seconds} s (seed {seed}), no failure");
        }
    }
}
