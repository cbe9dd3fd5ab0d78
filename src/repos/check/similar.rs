//! Name similarity, for the "did you mean …?" suggestions of a finding.
//!
//! Two names are compared case- and separator-insensitively (`fetchAll` ~ `fetch_all`) by
//! the better of a normalised Levenshtein distance and the Jaro-Winkler similarity, with a
//! bonus for the words (snake_case and camelCase parts) the two names share.

use std::collections::HashSet;

/// The least similarity a name needs to be suggested.
pub(crate) const THRESHOLD: f64 = 0.72;

/// How many suggestions a finding carries at most.
const MAX_SUGGESTIONS: usize = 3;

/// Names longer than this are compared by their first characters only (bounds the cost).
const MAX_COMPARED_CHARS: usize = 64;

/// How similar two names are, from 0 (nothing alike) to 1 (the same name).
pub(crate) fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let left = squash(a);
    let right = squash(b);
    if left.is_empty() || right.is_empty() {
        return 0.0;
    }
    if left == right {
        // Differs only in case or separators: `fetchAll` for `fetch_all`.
        return 0.95;
    }
    let longest = left.len().max(right.len()) as f64;
    let edit = 1.0 - levenshtein(&left, &right) as f64 / longest;
    let spelling = edit.max(jaro_winkler(&left, &right));
    (0.85 * spelling + 0.15 * word_overlap(a, b)).clamp(0.0, 1.0)
}

/// Up to three of `candidates` most similar to `name` (best first, ties by name), each at
/// least [`THRESHOLD`] similar. The name itself, duplicates and, unless `name` is one too,
/// dunder (`__x__`) and private (`_x`, `#x`) names are left out.
pub(crate) fn suggest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Vec<String> {
    let private = is_private(name);
    let mut seen = HashSet::new();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter(|candidate| *candidate != name && (private || !is_private(candidate)))
        .filter(|candidate| seen.insert(*candidate))
        .map(|candidate| (similarity(name, candidate), candidate))
        .filter(|(score, _)| *score >= THRESHOLD)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, candidate)| candidate.to_string())
        .collect()
}

/// Whether a name is private or special by convention (`_x`, `__x__`, `#x`).
fn is_private(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('#')
}

/// The name lowercased, without `_`, `-` and `$`, as characters.
fn squash(name: &str) -> Vec<char> {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '$'))
        .flat_map(char::to_lowercase)
        .take(MAX_COMPARED_CHARS)
        .collect()
}

/// The lowercase words of a snake_case, kebab-case or camelCase name.
fn words(name: &str) -> HashSet<String> {
    let mut words = HashSet::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars().take(MAX_COMPARED_CHARS) {
        if !c.is_alphanumeric() {
            previous_lower = false;
            if !current.is_empty() {
                words.insert(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.insert(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.insert(current);
    }
    words
}

/// The share of words two names have in common (Jaccard index of their word sets).
fn word_overlap(a: &str, b: &str) -> f64 {
    let left = words(a);
    let right = words(b);
    let union = left.union(&right).count();
    if union == 0 {
        return 0.0;
    }
    left.intersection(&right).count() as f64 / union as f64
}

/// The edit distance (insertions, deletions, substitutions) between two strings.
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The Jaro-Winkler similarity (prefix scale 0.1, prefix up to 4 characters).
fn jaro_winkler(a: &[char], b: &[char]) -> f64 {
    let jaro = jaro(a, b);
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// The Jaro similarity of two strings.
fn jaro(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut b_matched = vec![false; b.len()];
    let mut a_matches = Vec::new();
    for (i, ca) in a.iter().enumerate() {
        let start = i.saturating_sub(window);
        let end = (i + window + 1).min(b.len());
        for j in start..end {
            if !b_matched[j] && b[j] == *ca {
                b_matched[j] = true;
                a_matches.push(*ca);
                break;
            }
        }
    }
    if a_matches.is_empty() {
        return 0.0;
    }
    let b_matches = b
        .iter()
        .zip(&b_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| *c);
    let transpositions = a_matches
        .iter()
        .zip(b_matches)
        .filter(|(x, y)| **x != *y)
        .count()
        / 2;
    let m = a_matches.len() as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions as f64) / m) / 3.0
}
