//! Reading a browser tool's answer: its snapshot text and the refs in it.

/// The snapshot text of a browser tool's structured answer ("" without one).
pub fn text_of(answer: &serde_json::Value) -> &str {
    answer["snapshot"].as_str().unwrap_or_default()
}

/// The ref on the snapshot line that contains `needle`.
pub fn ref_of(snapshot: &str, needle: &str) -> String {
    let line = snapshot
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{snapshot}"));
    let start = line.find("[ref=").expect("a ref") + 5;
    line[start..].split(']').next().unwrap().to_string()
}
