//! The crawler. So far: URL normalisation (which also keys stored pages) and markdown to
//! plain text.

pub mod markdown;
pub mod url;
