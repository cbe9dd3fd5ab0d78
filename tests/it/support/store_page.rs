//! Pages written straight into the store, for the store tests and for seeding a server's
//! database.

/// Builds a page of `chunks` chunks about `topic` for store tests.
pub fn page(url: &str, topic: &str, chunks: usize) -> crawlium::store::NewPage {
    use crawlium::store::{NewChunk, NewCodeBlock, NewPage};
    NewPage {
        url: url.to_string(),
        final_url: url.to_string(),
        status: 200,
        title: Some(format!("All about {topic}")),
        description: Some(format!("A page about {topic}")),
        language: Some("en".into()),
        published: Some("2026-11-30T09:00:00Z".into()),
        author: Some(format!("{topic} writer")),
        markdown: (0..chunks)
            .map(|i| format!("## Part {i}\n\n{topic} paragraph {i}.\n"))
            .collect(),
        chunks: (0..chunks)
            .map(|i| NewChunk {
                heading_path: format!("All about {topic} > Part {i}"),
                text: format!("{topic} paragraph {i}."),
            })
            .collect(),
        code_blocks: vec![NewCodeBlock {
            language: Some("rust".into()),
            code: format!("fn {}() {{}}", topic.replace(' ', "_")),
            context: format!("Example for {topic}"),
        }],
        ..Default::default()
    }
}
