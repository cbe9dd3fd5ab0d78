//! The crawler: fetching, URL normalisation, HTML extraction, chunking, markdown to plain text,
//! and `page` which runs one page through all of them.

pub mod chunk;
pub mod extract;
pub mod fetch;
pub mod markdown;
pub mod page;
pub mod url;
