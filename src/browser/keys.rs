//! Key names (as Playwright and the DOM's `KeyboardEvent.key` spell them) and what CDP's
//! `Input.dispatchKeyEvent` needs to press them: key, code, Windows key code and text.

/// Modifier bits of `Input.dispatchKeyEvent`.
pub const ALT: u32 = 1;
/// Control.
pub const CONTROL: u32 = 2;
/// Meta (Command, Windows key).
pub const META: u32 = 4;
/// Shift.
pub const SHIFT: u32 = 8;

/// One key as CDP presses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key {
    /// `KeyboardEvent.key`, such as `Enter` or `a`.
    pub key: String,
    /// `KeyboardEvent.code`, such as `Enter` or `KeyA` (empty when there is none).
    pub code: String,
    /// Windows virtual key code.
    pub key_code: u32,
    /// The text the key types, if it types any.
    pub text: Option<String>,
    /// Its modifier bit, for Shift, Control, Alt and Meta.
    pub modifier_bit: u32,
}

impl Key {
    /// The same key typing no text (a shortcut such as Control+a).
    pub fn without_text(&self) -> Key {
        Key {
            text: None,
            ..self.clone()
        }
    }
}

fn key(key: &str, code: &str, key_code: u32, text: Option<&str>) -> Key {
    Key {
        key: key.into(),
        code: code.into(),
        key_code,
        text: text.map(str::to_string),
        modifier_bit: 0,
    }
}

/// A named key (`Enter`, `Tab`, `ArrowDown`, `F5`, `Shift`, ...), case-insensitively.
pub fn named(name: &str) -> Option<Key> {
    let lower = name.to_ascii_lowercase();
    let found = match lower.as_str() {
        "enter" | "return" => key("Enter", "Enter", 13, Some("\r")),
        "tab" => key("Tab", "Tab", 9, None),
        "escape" | "esc" => key("Escape", "Escape", 27, None),
        "backspace" => key("Backspace", "Backspace", 8, None),
        "delete" | "del" => key("Delete", "Delete", 46, None),
        "insert" => key("Insert", "Insert", 45, None),
        "space" | " " => key(" ", "Space", 32, Some(" ")),
        "arrowleft" | "left" => key("ArrowLeft", "ArrowLeft", 37, None),
        "arrowup" | "up" => key("ArrowUp", "ArrowUp", 38, None),
        "arrowright" | "right" => key("ArrowRight", "ArrowRight", 39, None),
        "arrowdown" | "down" => key("ArrowDown", "ArrowDown", 40, None),
        "home" => key("Home", "Home", 36, None),
        "end" => key("End", "End", 35, None),
        "pageup" => key("PageUp", "PageUp", 33, None),
        "pagedown" => key("PageDown", "PageDown", 34, None),
        "shift" => Key {
            modifier_bit: SHIFT,
            ..key("Shift", "ShiftLeft", 16, None)
        },
        "control" | "ctrl" => Key {
            modifier_bit: CONTROL,
            ..key("Control", "ControlLeft", 17, None)
        },
        "alt" | "option" => Key {
            modifier_bit: ALT,
            ..key("Alt", "AltLeft", 18, None)
        },
        "meta" | "command" | "cmd" => Key {
            modifier_bit: META,
            ..key("Meta", "MetaLeft", 91, None)
        },
        _ => {
            let n: u32 = lower.strip_prefix('f')?.parse().ok()?;
            if !(1..=12).contains(&n) {
                return None;
            }
            let name = format!("F{n}");
            key(&name, &name, 111 + n, None)
        }
    };
    Some(found)
}

/// The key that types `ch` (letters and digits with their codes; other characters as text).
pub fn of_char(ch: char) -> Key {
    if ch == '\n' || ch == '\r' {
        return named("Enter").unwrap_or_default();
    }
    let text = ch.to_string();
    let upper = ch.to_ascii_uppercase();
    let (code, key_code) = if ch.is_ascii_alphabetic() {
        (format!("Key{upper}"), upper as u32)
    } else if ch.is_ascii_digit() {
        (format!("Digit{ch}"), ch as u32)
    } else if ch == ' ' {
        ("Space".into(), 32)
    } else {
        (String::new(), 0)
    };
    Key {
        key: text.clone(),
        code,
        key_code,
        text: Some(text),
        modifier_bit: 0,
    }
}

/// Parses `Enter`, `a`, `Control+a`, `Shift+Tab`, `Control+Shift+ArrowLeft`: the modifiers
/// and the key. The error says what is wrong.
pub fn parse(combination: &str) -> Result<(Vec<Key>, Key), String> {
    let invalid = |why: &str| {
        format!(
            "invalid key '{combination}': {why}; use a key name such as Enter, Tab, Escape, \
             ArrowDown, Backspace, F5 or a single character, optionally with modifiers joined \
             by + (Control+a, Shift+Tab)"
        )
    };
    if combination.is_empty() {
        return Err(invalid("it is empty"));
    }
    // "+" alone, or as the last part ("Control++"), is the plus key.
    let (head, last) = match combination.strip_suffix("++") {
        Some(head) => (Some(head), "+"),
        None if combination == "+" => (None, "+"),
        None => match combination.rsplit_once('+') {
            Some((head, last)) => (Some(head), last),
            None => (None, combination),
        },
    };
    let mut modifiers = Vec::new();
    for part in head.into_iter().flat_map(|h| h.split('+')) {
        match named(part.trim()) {
            Some(key) if key.modifier_bit != 0 => modifiers.push(key),
            _ => return Err(invalid(&format!("'{part}' is not a modifier"))),
        }
    }
    let mut chars = last.chars();
    let key = match (chars.next(), chars.next()) {
        (Some(ch), None) if ch != ' ' => of_char(ch),
        _ => named(last.trim()).ok_or_else(|| invalid(&format!("unknown key '{last}'")))?,
    };
    Ok((modifiers, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_characters_and_combinations_parse() {
        let (mods, enter) = parse("Enter").unwrap();
        assert!(mods.is_empty());
        assert_eq!((enter.key.as_str(), enter.key_code), ("Enter", 13));
        assert_eq!(enter.text.as_deref(), Some("\r"));

        let (mods, a) = parse("Control+a").unwrap();
        assert_eq!(mods.len(), 1);
        assert_eq!(mods[0].modifier_bit, CONTROL);
        assert_eq!(
            (a.key.as_str(), a.code.as_str(), a.key_code),
            ("a", "KeyA", 65)
        );

        let (mods, tab) = parse("shift+tab").unwrap();
        assert_eq!((mods[0].modifier_bit, tab.key.as_str()), (SHIFT, "Tab"));
        assert_eq!(parse("F5").unwrap().1.key_code, 116);
        assert_eq!(parse("Control++").unwrap().1.key, "+");
        assert_eq!(parse("7").unwrap().1.code, "Digit7");
    }

    #[test]
    fn bad_keys_say_what_is_wrong() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(
            parse("Hyper+a")
                .unwrap_err()
                .contains("'Hyper' is not a modifier")
        );
        assert!(parse("Tab+a").unwrap_err().contains("not a modifier"));
        assert!(
            parse("Enterr")
                .unwrap_err()
                .contains("unknown key 'Enterr'")
        );
        assert!(parse("F13").is_err());
    }
}
