//! What stored text may hold. An address has one form, so that `é` typed
//! as one code point and as `e` with a combining accent is one address; and
//! text meant to be one line of visible characters (a name) holds no line
//! break, no control, nothing that reorders the text around it and nothing
//! that renders as nothing: those exist to make one text look like another.

use unicode_normalization::UnicodeNormalization;

/// The form in which addresses are stored and compared: Unicode NFC,
/// lower-cased, and NFC again, since lower-casing a composed text can leave
/// one that composes further (`J` with a caron has no composed capital, its
/// small letter `ǰ` is one code point).
pub fn fold(text: &str) -> String {
    text.nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

/// What `c` is, if it has no place in one line of visible text.
pub fn out_of_line(c: char) -> Option<&'static str> {
    match c {
        '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
            Some("a line break")
        }
        _ if c.is_control() => Some("a control character"),
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some("a bidirectional control"),
        '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}' => Some("an invisible character"),
        _ => None,
    }
}

/// Variation selectors: invisible, but they choose how the character before
/// them looks (`❤️` is U+2764 U+FE0F; Japanese names pick a kanji's form).
fn is_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Joiners: invisible, but they join what is on either side (a family emoji
/// is people joined by U+200D; Persian writes U+200C inside words).
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// A character that shows, of a script or symbol set that selectors and
/// joiners shape. Next to ASCII a selector or a joiner only hides.
fn shapeable(c: char) -> bool {
    !c.is_ascii() && !c.is_whitespace() && out_of_line(c).is_none()
}

/// The first character of `text` that has no place in one line of visible
/// text, and what it is. A selector right after a character it shapes, and
/// a joiner between two (or after a selected one), are part of the text.
pub fn stray_in_line(text: &str) -> Option<(char, &'static str)> {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let Some(what) = out_of_line(c) else {
            continue;
        };
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        let shapes = if is_selector(c) {
            before.is_some_and(shapeable)
        } else if is_joiner(c) {
            before.is_some_and(|b| shapeable(b) || is_selector(b)) && after.is_some_and(shapeable)
        } else {
            false
        };
        if !shapes {
            return Some((c, what));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::is_nfc;

    #[test]
    fn one_address_has_one_form() {
        assert_eq!(fold("Zoe\u{0308}@Example.com"), fold("zoë@example.com"));
        assert_eq!(fold("ZOË@EXAMPLE.COM"), "zoë@example.com");
        // NFC, lower-case, NFC: the second pass composes what lower-casing made.
        for (capital, small) in [("J\u{030C}", "\u{01F0}"), ("T\u{0308}", "\u{1E97}")] {
            assert!(is_nfc(capital), "{capital:?} is NFC already");
            assert!(!is_nfc(&capital.to_lowercase()));
            assert_eq!(fold(capital), small);
        }
        // Canonical order: İ lower-cases to i + U+0307, then a mark below
        // sorts before it.
        let dotted = fold("\u{0130}\u{0316}");
        assert_eq!(dotted, "i\u{0316}\u{0307}");
        for text in ["J\u{030C}", "\u{0130}\u{0316}", "ΟΔΥΣΣΕΥΣ", "\u{212A}", "Ǆ"] {
            let folded = fold(text);
            assert!(is_nfc(&folded), "{text:?}");
            assert_eq!(fold(&folded), folded, "folding again changes nothing");
        }
    }

    #[test]
    fn one_line_of_visible_text() {
        for (text, c, what) in [
            ("Ada\nLovelace", '\n', "a line break"),
            ("Ada\r", '\r', "a line break"),
            ("Ada\u{2028}L", '\u{2028}', "a line break"),
            ("Ada\tL", '\t', "a control character"),
            ("evil\u{202E}txt.exe", '\u{202E}', "a bidirectional control"),
            ("Ad\u{200B}min", '\u{200B}', "an invisible character"),
            ("Ad\u{200D}min", '\u{200D}', "an invisible character"),
            ("admin\u{FE0F}", '\u{FE0F}', "an invisible character"),
            ("\u{FE0F}", '\u{FE0F}', "an invisible character"),
            ("❤\u{FE0F}\u{FE0F}", '\u{FE0F}', "an invisible character"),
            ("🙂\u{200D}", '\u{200D}', "an invisible character"),
            (
                "\u{1F3F4}\u{E0067}\u{E0062}",
                '\u{E0067}',
                "an invisible character",
            ),
        ] {
            assert_eq!(stray_in_line(text), Some((c, what)), "{text:?}");
        }
        for fine in [
            "Zoë Ångström-Çelik",
            "José 🎉",
            "❤\u{FE0F} Ada",
            "\u{1F469}\u{200D}\u{1F4BB} Grace",
            "\u{1F441}\u{FE0F}\u{200D}\u{1F5E8}\u{FE0F}",
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
            "\u{845B}\u{E0100}\u{98FE}",
        ] {
            assert_eq!(stray_in_line(fine), None, "{fine:?}");
        }
    }
}
