//! Field rules of the domain. Each error is `Error::Invalid` and names the field.

use super::{Error, Result};

pub fn username(v: &str) -> Result<()> {
    let ok_len = (3..=64).contains(&v.chars().count());
    let ok_chars = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
    let ok_start = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(Error::invalid(
            "username must be 3-64 characters: letters, digits, '_', '.', '-', '@', starting with a letter or digit",
        ))
    }
}

pub fn password(v: &str) -> Result<()> {
    let n = v.chars().count();
    if n < 8 {
        return Err(Error::invalid("password must be at least 8 characters"));
    }
    if n > 1024 {
        return Err(Error::invalid("password must be at most 1024 characters"));
    }
    Ok(())
}

pub fn email(v: &str) -> Result<()> {
    let ok = v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("email is not a valid address"))
    }
}

/// A display name (service, plan, playlist, API key, site): 1-100 characters after
/// trimming, nothing hidden (see [`hidden`]).
pub fn name(field: &str, v: &str) -> Result<String> {
    text(field, v, 100)
}

/// A line of text shown to others (a name or title): 1-`max` characters after trimming,
/// without control characters or invisible format characters that make it display other
/// than it reads.
pub fn text(field: &str, v: &str, max: usize) -> Result<String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(Error::invalid(format!(
            "{field} must be 1-{max} characters"
        )));
    }
    if let Some(c) = t.chars().find(|c| hidden(*c)) {
        return Err(Error::invalid(format!(
            "{field} contains U+{:04X}, an invisible control or formatting character (such as a right-to-left override) that would make it display differently from what it is; remove it",
            u32::from(c)
        )));
    }
    Ok(t.to_owned())
}

/// Characters a name may not hold: controls (Unicode Cc), line and paragraph separators
/// (Zl, Zp), and format characters (Cf) — among them the bidi embeddings, overrides and
/// isolates U+202A–U+202E and U+2066–U+2069 that can make "evil<U+202E>gpj.exe"
/// display as "evilexe.jpg", the marks U+200E/U+200F, zero-width spaces and the BOM. The zero-width
/// joiner and non-joiner (U+200C, U+200D) stay allowed: emoji sequences and Persian or
/// Indic writing need them.
pub fn hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    if matches!(c, '\u{200C}' | '\u{200D}') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Slugs name mounts (`/<slug>` on the Icecast port) and HLS paths (`/hls/<slug>/…`), so
/// they are lowercase letters, digits and inner hyphens, and avoid names the servers use.
pub fn slug(v: &str) -> Result<()> {
    let ok = (2..=63).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if !ok {
        return Err(Error::invalid(
            "slug must be 2-63 characters of lowercase letters, digits and inner hyphens",
        ));
    }
    if RESERVED_SLUGS.contains(&v) {
        return Err(Error::invalid(format!("slug {v:?} is reserved")));
    }
    Ok(())
}

/// Paths the HTTP and Icecast servers use themselves.
const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "assets", "embed", "healthz", "hls", "live", "login", "logout", "metrics",
    "player", "public", "static", "status", "vod", "web",
];

/// A slug made from a name: "Jazz FM — Late Night" → "jazz-fm-late-night".
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(40).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// An integer within a range.
pub fn range(field: &str, v: i64, min: i64, max: i64) -> Result<i64> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::invalid(format!(
            "{field} must be between {min} and {max}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Jazz FM — Late Night!"), "jazz-fm-late-night");
        assert_eq!(slugify("  ###  "), "");
        assert!(slug("jazz-fm").is_ok());
        assert!(
            slug("Jazz").is_err()
                && slug("-a").is_err()
                && slug("a").is_err()
                && slug("hls").is_err()
        );
        assert!(slug("a/b").is_err() && slug("a.mp3").is_err());
    }

    #[test]
    fn fields() {
        assert!(
            username("bob").is_ok() && username("b").is_err() && username("bob smith").is_err()
        );
        assert!(username(&"x".repeat(65)).is_err());
        assert!(email("a@b.co").is_ok() && email("nope").is_err() && email("a b@c.d").is_err());
        assert!(password("12345678").is_ok() && password("1234567").is_err());
        assert_eq!(name("name", "  Jazz  ").ok().as_deref(), Some("Jazz"));
        assert!(name("name", "").is_err() && name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn names_hide_nothing() {
        for bad in [
            "evil\u{202E}gpj.exe",
            "a\u{202A}b",
            "a\u{202B}b",
            "a\u{202C}b",
            "a\u{202D}b",
            "a\u{2066}b",
            "a\u{2067}b",
            "a\u{2068}b",
            "a\u{2069}b",
            "a\u{200E}b",
            "a\u{200F}b",
            "a\u{200B}b",
            "a\u{FEFF}b",
            "a\u{2028}b",
            "a\u{0085}b",
            "a\u{061C}b",
        ] {
            let err = name("name", bad).expect_err(bad);
            assert!(err.to_string().contains("U+"), "{err}");
        }
        for good in [
            "Jazz FM",
            "Ràdio Ñandú",
            "راديو",
            "\u{1F468}\u{200D}\u{1F469} Family",
            "می\u{200C}خواهم",
        ] {
            assert_eq!(name("name", good).ok().as_deref(), Some(good));
        }
    }
}
