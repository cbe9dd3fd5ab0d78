//! What a keyword search relaxes to when no chunk has every word of a question: any of its
//! words, stop words left out, still in web-search syntax (exclusions kept).

/// English words too common to be worth matching alone (PostgreSQL's english stop list,
/// less the negations, which can carry meaning).
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The query relaxed to any of its words, or `None` when relaxing cannot find more (fewer
/// than two words worth searching).
pub fn any_word(query: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut excluded: Vec<&str> = Vec::new();
    for token in query.split_whitespace() {
        if token.len() > 1 && token.starts_with('-') {
            excluded.push(token);
            continue;
        }
        for word in token.split(|c: char| !c.is_alphanumeric() && c != '_') {
            let lower = word.to_lowercase();
            if lower.is_empty() || STOP_WORDS.contains(&lower.as_str()) || words.contains(&lower) {
                continue;
            }
            words.push(lower);
        }
    }
    // `or` would read as the operator; it is a stop word anyway.
    if words.len() < 2 {
        return None;
    }
    let mut relaxed = words.join(" OR ");
    for word in excluded {
        relaxed.push(' ');
        relaxed.push_str(word);
    }
    Some(relaxed)
}

#[cfg(test)]
mod tests {
    use super::any_word;

    #[test]
    fn keeps_the_words_that_matter() {
        assert_eq!(
            any_word("pick a random element from a list").unwrap(),
            "pick OR random OR element OR list"
        );
        assert_eq!(
            any_word("\"async runtime\" -blocking OR spawn").unwrap(),
            "async OR runtime OR spawn -blocking"
        );
        assert_eq!(any_word("how to tokio"), None);
        assert_eq!(any_word("the of and"), None);
    }
}
