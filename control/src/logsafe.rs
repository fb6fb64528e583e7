//! User input made safe to log: what a request carries (usernames, slugs, titles, file
//! names) may hold newlines and other control characters that would forge log lines in the
//! text format or move a terminal's cursor. [`Escaped`] writes them as Rust escapes
//! (`\n`, `\u{1b}`); everything else, non-ASCII letters included, is written as it is.

use std::fmt::{self, Write as _};

/// Displays a string with its control characters escaped: `tracing::warn!(user = %Escaped(name))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            // Bidi overrides and other invisible format characters are not control
            // characters but can make a line read differently than it is.
            if c.is_control() || is_bidi_control(c) {
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let shown = Escaped("x\nFAKE LINE\r\t\u{1b}[2J").to_string();
        assert_eq!(shown, "x\\nFAKE LINE\\r\\t\\u{1b}[2J");
        assert!(!shown.contains('\n'));
        assert_eq!(Escaped("Zoë ☕ radio").to_string(), "Zoë ☕ radio");
        assert_eq!(Escaped("a\u{202e}b").to_string(), "a\\u{202e}b");
    }
}
