//! Text from AWS or from a file, made safe for a terminal: C0 and C1 control characters (and
//! DEL) are written as escapes, so a stored value cannot move the cursor, erase a line or
//! retitle the window to hide what it says. Newlines stay in multi-line text; a tab stays.

use std::borrow::Cow;

/// `text` with every control character but newline and tab escaped (`\r`, `\u{1b}`).
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// One line: a newline is escaped too (a name, an image, a holder).
pub fn printable_line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !(c == '\t' || (keep_newlines && c == '\n'));
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("api:1\r\u{1b}[2Kfine"), r"api:1\r\u{1b}[2Kfine");
        assert_eq!(printable("a\u{9b}31mred\u{7f}"), r"a\u{9b}31mred\u{7f}");
        assert_eq!(printable("two\nlines\tand a tab"), "two\nlines\tand a tab");
        assert_eq!(printable_line("one\nline"), r"one\nline");
        assert!(matches!(printable("plain ünïcode ✓"), Cow::Borrowed(_)));
    }
}
