//! The crawler: fetching, URL normalisation and scope, robots.txt, politeness, sitemaps, HTML
//! extraction, markdown and chunks, and the ways to run them: `page` (one page, inline), `map`
//! (a site's URLs) and `scheduler` (a whole job: frontier in the store, adaptive concurrency,
//! memory monitor), all sharing one [`crawler::Crawler`].
//!
//! It imports `store` (where pages go), `net_policy` and `metrics`; it reaches a browser only
//! through its own [`render::Render`] trait, so it never imports `browser`.

pub mod chunk;
pub mod concurrency;
pub mod content;
pub mod crawler;
pub mod datetime;
pub mod extract;
pub mod fetch;
pub mod map;
pub mod markdown;
pub mod memory;
pub mod page;
pub mod politeness;
pub mod render;
pub mod report;
pub mod robots;
pub mod scheduler;
pub mod sitemap;
pub mod url;
