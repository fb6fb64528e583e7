//! CSV files of the statistics reports, safe to open in a spreadsheet.
//!
//! Quoting is the `csv` crate's (RFC 4180). On top of it, a text cell that a spreadsheet
//! would read as a formula (`=`, `+`, `-`, `@`, tab or carriage return first: a track
//! titled `=HYPERLINK(…)` sent by a DJ's software) gets a `'` in front, as OWASP advises, so
//! it shows as text and never runs.

fn starter(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// A text cell with formula starters escaped with a `'`: at its start, and after any
/// separator a spreadsheet might split the cell on (`;` in many locales, `,`, tab, line
/// breaks), so `x;=HYPERLINK(…)` cannot become a formula cell either.
pub fn text(s: &str) -> std::borrow::Cow<'_, str> {
    let mut after_separator = true;
    let mut out: Option<String> = None;
    for (i, c) in s.char_indices() {
        if after_separator && starter(c) {
            out.get_or_insert_with(|| s[..i].to_owned()).push('\'');
        }
        if let Some(o) = out.as_mut() {
            o.push(c);
        }
        after_separator =
            matches!(c, ';' | ',' | '\t' | '\n' | '\r') || (after_separator && c == ' ');
    }
    match out {
        Some(o) => o.into(),
        None => s.into(),
    }
}

/// A CSV document: a header and rows of cells (texts already passed through [`text`]).
pub fn document(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a row of the wrong length is a bug caught in tests.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

/// Unix seconds as an ISO 8601 UTC time (`2026-11-29T10:00:00Z`).
pub fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_text_and_quoting_is_rfc4180() {
        assert_eq!(
            text("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(text("-1+2"), "'-1+2");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("Artist - Title"), "Artist - Title");
        assert_eq!(text("x;=HYPERLINK(A1)"), "x;'=HYPERLINK(A1)");
        assert_eq!(text("a, -1"), "a, '-1");
        assert_eq!(text("VLC/3.0 LibVLC/3.0"), "VLC/3.0 LibVLC/3.0");
        let doc = document(
            &["title", "plays"],
            [vec![text("=1+1, \"quoted\"").into_owned(), "3".into()]],
        );
        assert_eq!(
            String::from_utf8(doc).expect("utf-8"),
            "title,plays\r\n\"'=1+1, \"\"quoted\"\"\",3\r\n"
        );
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
    }
}
