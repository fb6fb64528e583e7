//! Sans-IO ICY (SHOUTcast/Icecast in-band) metadata.
//!
//! A listener that asks with `Icy-MetaData: 1` gets `icy-metaint: N` in the response and a
//! metadata block after every N bytes of audio: one length byte L, then 16·L bytes of
//! `StreamTitle='…';` padded with zeros. L = 0 means "no change". This module cuts a stream
//! of audio chunks at those points; the listener task writes what it returns.

use bytes::Bytes;

/// Icecast's default interval between metadata blocks.
pub const DEFAULT_METAINT: usize = 16_000;

/// The metadata block for a title: `StreamTitle='…';`, padded to a multiple of 16 bytes,
/// and cut so the block stays within the 255 × 16 bytes the length byte can express.
///
/// Neither Icecast nor SHOUTcast escape anything here, and players (ffmpeg, VLC, mpv) read
/// a value up to the first `';`. A lone `'` is harmless and kept ("Don't Go"), but a title
/// holding `';` would end the value early and let the rest of it forge fields such as
/// `StreamUrl='…'`: [`safe_title`] breaks that sequence.
pub fn block(title: &str) -> Bytes {
    let mut text = format!("StreamTitle='{}';", safe_title(title));
    let max = 255 * 16;
    if text.len() > max {
        let mut cut = max - 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("';");
    }
    let blocks = text.len().div_ceil(16);
    let mut out = Vec::with_capacity(1 + blocks * 16);
    out.push(blocks as u8);
    out.extend_from_slice(text.as_bytes());
    out.resize(1 + blocks * 16, 0);
    Bytes::from(out)
}

/// A title as it may stand between `StreamTitle='` and `';`: a quote followed by `;` becomes
/// the typographic apostrophe (U+2019), and control characters (a NUL ends the block for C
/// parsers) are dropped.
pub fn safe_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut chars = title.chars().filter(|c| !c.is_control()).peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.peek() == Some(&';') {
            out.push('\u{2019}');
        } else {
            out.push(c);
        }
    }
    out
}

/// The "no change" block.
pub fn empty_block() -> Bytes {
    Bytes::from_static(&[0])
}

/// Where a listener is between two metadata blocks.
#[derive(Debug, Clone)]
pub struct Interleaver {
    metaint: usize,
    /// Audio bytes left before the next block.
    until_block: usize,
}

/// One piece to write: audio, or the moment a metadata block is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Audio(Bytes),
    MetadataDue,
}

impl Interleaver {
    pub fn new(metaint: usize) -> Self {
        Self {
            metaint,
            until_block: metaint,
        }
    }

    /// Cuts `chunk` at metadata points. Slicing `Bytes` shares the buffer: no copies.
    pub fn split(&mut self, chunk: Bytes, out: &mut Vec<Piece>) {
        self.split_with(chunk, |p| out.push(p));
    }

    /// Like [`Interleaver::split`], handing each piece to `f` as it is cut.
    pub fn split_with(&mut self, mut chunk: Bytes, mut f: impl FnMut(Piece)) {
        while !chunk.is_empty() {
            let take = self.until_block.min(chunk.len());
            f(Piece::Audio(chunk.split_to(take)));
            self.until_block -= take;
            if self.until_block == 0 {
                f(Piece::MetadataDue);
                self.until_block = self.metaint;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let b = block("Miles Davis - So What");
        // "StreamTitle='Miles Davis - So What';" is 36 bytes → 3 blocks of 16.
        assert_eq!(b[0], 3);
        assert_eq!(b.len(), 49);
        assert_eq!(&b[1..37], b"StreamTitle='Miles Davis - So What';");
        assert!(b[37..].iter().all(|&x| x == 0));
        let long = block(&"é".repeat(4000));
        assert_eq!(long[0], 255);
        assert!(
            std::str::from_utf8(&long[1..])
                .expect("valid UTF-8")
                .trim_end_matches('\0')
                .ends_with("';")
        );
        assert_eq!(&empty_block()[..], &[0]);
    }

    #[test]
    fn titles_cannot_forge_fields() {
        for (title, shown) in [
            ("Yazoo - Don't Go", "Yazoo - Don't Go"),
            (
                "x';StreamUrl='http://evil.example/';",
                "x\u{2019};StreamUrl='http://evil.example/\u{2019};",
            ),
            ("ends with a quote'", "ends with a quote'"),
            ("a\0b\r\nc", "abc"),
            ("'';;", "'\u{2019};;"),
        ] {
            let b = block(title);
            let text = std::str::from_utf8(&b[1..]).expect("UTF-8");
            let text = text.trim_end_matches('\0');
            assert_eq!(text, format!("StreamTitle='{shown}';"), "{title:?}");
            // Players end a value at the first `';`: it must be the block's last.
            assert_eq!(text.matches("';").count(), 1, "{text:?}");
        }
    }

    #[test]
    fn interleaving() {
        let mut il = Interleaver::new(4);
        let mut out = Vec::new();
        il.split(Bytes::from_static(b"abcdef"), &mut out);
        il.split(Bytes::from_static(b"gh"), &mut out);
        let a = |s: &'static [u8]| Piece::Audio(Bytes::from_static(s));
        assert_eq!(
            out,
            vec![
                a(b"abcd"),
                Piece::MetadataDue,
                a(b"ef"),
                a(b"gh"),
                Piece::MetadataDue
            ]
        );
    }
}
