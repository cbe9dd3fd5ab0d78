//! robots.txt: fetched once per origin, cached, and asked before every request of a crawl.
//!
//! The rules follow RFC 9309 as search engines apply it: only the first 500 KiB are read; a
//! 4xx answer (no robots.txt) allows everything; a 5xx answer, 429, or no answer at all
//! disallows everything for now (the site may be in trouble), and that verdict is cached only
//! briefly so a crawl tries again later. Good answers are cached for 24 hours. `Crawl-delay`
//! and `Sitemap:` lines are kept for the scheduler and the sitemap reader.
//!
//! In a cluster the answers are shared too ([`SharedRobots`], Redis): a replica asks the
//! cluster before the site, and what it fetches is there for the others until it expires.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use texting_robots::Robot;
use tokio::sync::OnceCell;
use url::Url;

use super::fetch::Fetcher;

/// Most bytes of a robots.txt that are read (RFC 9309 asks for at least 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;
/// How long good rules are kept.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long "unreachable, so disallow" is kept before trying again.
const ERROR_TTL: Duration = Duration::from_secs(5 * 60);
/// The product token matched against `User-agent:` lines.
pub const AGENT: &str = "Crawlium";

/// A robots.txt answer as the cluster shares it: what the site said, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotsAnswer {
    /// No robots.txt (4xx).
    Missing,
    /// Could not be read, and why.
    Unavailable(String),
    /// The file (its first 500 KiB).
    Body(Vec<u8>),
}

impl RobotsAnswer {
    /// The rules it gives.
    fn rules(&self) -> Robots {
        match self {
            RobotsAnswer::Missing => Robots::AllowAll,
            RobotsAnswer::Unavailable(why) => Robots::Unavailable(why.clone()),
            RobotsAnswer::Body(body) => Robots::parse(body),
        }
    }

    /// How long it is good for.
    pub fn ttl(&self) -> Duration {
        match self {
            RobotsAnswer::Unavailable(_) => ERROR_TTL,
            _ => TTL,
        }
    }
}

/// robots.txt answers kept outside this process, for a cluster whose replicas crawl the same
/// sites (implemented on Redis by `coord`). Origins are `scheme://host[:port]`.
pub trait SharedRobots: Send + Sync {
    /// The answer someone fetched for `origin`, with the time it is still good for.
    fn get<'a>(&'a self, origin: &'a str) -> BoxFuture<'a, Option<(RobotsAnswer, Duration)>>;
    /// Shares the answer fetched for `origin` for `ttl`.
    fn put<'a>(
        &'a self,
        origin: &'a str,
        answer: &'a RobotsAnswer,
        ttl: Duration,
    ) -> BoxFuture<'a, ()>;
}

/// What one origin's robots.txt allows.
pub enum Robots {
    /// No robots.txt (4xx): everything is allowed.
    AllowAll,
    /// robots.txt could not be read (5xx, 429, network error): nothing is allowed for now.
    Unavailable(String),
    /// Parsed rules.
    Rules {
        /// The parsed file.
        robot: Box<Robot>,
        /// `Sitemap:` lines, as URLs.
        sitemaps: Vec<Url>,
    },
}

impl Robots {
    /// Parses a robots.txt body (an unparsable one allows everything, as crawlers do).
    pub fn parse(body: &[u8]) -> Robots {
        match Robot::new(AGENT, body) {
            Ok(robot) => {
                let sitemaps = robot
                    .sitemaps
                    .iter()
                    .filter_map(|s| super::url::normalise(s).ok())
                    .collect();
                Robots::Rules {
                    robot: Box::new(robot),
                    sitemaps,
                }
            }
            Err(_) => Robots::AllowAll,
        }
    }

    /// True when `url` may be fetched.
    pub fn allowed(&self, url: &Url) -> bool {
        match self {
            Robots::AllowAll => true,
            Robots::Unavailable(_) => false,
            Robots::Rules { robot, .. } => robot.allowed(url.as_str()),
        }
    }

    /// Why `url` is not allowed (for the skip reason).
    pub fn refusal(&self) -> String {
        match self {
            Robots::Unavailable(why) => format!("robots.txt unavailable ({why})"),
            _ => "disallowed by robots.txt".into(),
        }
    }

    /// The `Crawl-delay` for this crawler, if one is set.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Robots::Rules { robot, .. } => robot
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d.min(60.0))),
            _ => None,
        }
    }

    /// The sitemaps it lists.
    pub fn sitemaps(&self) -> &[Url] {
        match self {
            Robots::Rules { sitemaps, .. } => sitemaps,
            _ => &[],
        }
    }
}

struct Entry {
    cell: Arc<OnceCell<(Arc<Robots>, Instant, Duration)>>,
}

/// robots.txt per origin, fetched once even when many tasks ask at the same time.
pub struct RobotsCache {
    fetcher: Fetcher,
    shared: Option<Arc<dyn SharedRobots>>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl RobotsCache {
    /// An empty cache fetching with `fetcher`.
    pub fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            shared: None,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// An empty cache that asks `shared` before the site and shares what it fetches.
    pub fn shared(fetcher: Fetcher, shared: Arc<dyn SharedRobots>) -> Self {
        Self {
            shared: Some(shared),
            ..Self::new(fetcher)
        }
    }

    /// The rules for `url`'s origin.
    pub async fn get(&self, url: &Url) -> Arc<Robots> {
        let origin = url.origin().ascii_serialization();
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let expired = entries.get(&origin).is_some_and(|entry| {
                entry
                    .cell
                    .get()
                    .is_some_and(|(_, at, ttl)| at.elapsed() >= *ttl)
            });
            if expired {
                entries.remove(&origin);
            }
            entries
                .entry(origin.clone())
                .or_insert_with(|| Entry {
                    cell: Arc::new(OnceCell::new()),
                })
                .cell
                .clone()
        };
        let (robots, _, _) = cell
            .get_or_init(|| async {
                let (answer, ttl) = self.answer(&origin).await;
                (Arc::new(answer.rules()), Instant::now(), ttl)
            })
            .await;
        robots.clone()
    }

    /// The cluster's answer for `origin` if it has one; else the site's, shared.
    async fn answer(&self, origin: &str) -> (RobotsAnswer, Duration) {
        if let Some(shared) = &self.shared
            && let Some(known) = shared.get(origin).await
        {
            return known;
        }
        let answer = self.fetch(origin).await;
        let ttl = answer.ttl();
        if let Some(shared) = &self.shared {
            shared.put(origin, &answer, ttl).await;
        }
        (answer, ttl)
    }

    async fn fetch(&self, origin: &str) -> RobotsAnswer {
        let Ok(url) = Url::parse(&format!("{origin}/robots.txt")) else {
            return RobotsAnswer::Missing;
        };
        let mut opened = match self.fetcher.open(&url, usize::MAX).await {
            Ok(opened) => opened,
            Err(e) => return RobotsAnswer::Unavailable(e.to_string()),
        };
        match opened.status {
            429 => return RobotsAnswer::Unavailable("HTTP 429".into()),
            400..=499 => return RobotsAnswer::Missing,
            500..=599 => return RobotsAnswer::Unavailable(format!("HTTP {}", opened.status)),
            200..=299 => {}
            other => return RobotsAnswer::Unavailable(format!("HTTP {other}")),
        }
        let mut body = Vec::new();
        loop {
            match opened.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_ROBOTS_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_ROBOTS_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return RobotsAnswer::Unavailable(e.to_string()),
            }
        }
        RobotsAnswer::Body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn rules_delay_and_sitemaps() {
        let robots = Robots::parse(
            b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n\
              Sitemap: https://example.com/sitemap.xml\n\n\
              User-agent: OtherBot\nDisallow: /\n",
        );
        assert!(robots.allowed(&url("https://example.com/public/page")));
        assert!(!robots.allowed(&url("https://example.com/private/x")));
        assert_eq!(robots.crawl_delay(), Some(Duration::from_secs(2)));
        assert_eq!(robots.sitemaps(), &[url("https://example.com/sitemap.xml")]);
    }

    #[test]
    fn our_own_group_wins_over_the_wildcard() {
        let robots =
            Robots::parse(b"User-agent: *\nDisallow: /\n\nUser-agent: crawlium\nAllow: /\n");
        assert!(robots.allowed(&url("https://example.com/anything")));
    }

    #[test]
    fn unavailable_disallows_and_says_why() {
        let robots = Robots::Unavailable("HTTP 503".into());
        assert!(!robots.allowed(&url("https://example.com/")));
        assert!(robots.refusal().contains("HTTP 503"));
        assert!(Robots::AllowAll.allowed(&url("https://example.com/x")));
    }
}
