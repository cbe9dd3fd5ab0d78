//! The crawler: fetching, URL normalisation and scope, robots.txt, politeness, HTML
//! extraction, chunking, and two ways to run them: `page` (one page, inline) and `scheduler`
//! (a whole job: frontier in the store, adaptive concurrency, memory monitor).

pub mod chunk;
pub mod concurrency;
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
