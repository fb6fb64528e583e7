//! Sans-IO Ogg page framing, so Ogg sources (Vorbis, Opus, FLAC in Ogg) can be joined
//! mid-stream.
//!
//! An Ogg stream starts with header pages (identification, comments, setup) that a decoder
//! needs before any audio page. A listener who joins later must get those headers first,
//! and its audio must start on a page boundary. The source code feeds bytes into
//! [`PageReader`], publishes whole pages, and records the header pages of the current chain;
//! a new beginning-of-stream page (a chained stream: a new track or a new source) starts a
//! new set of headers.

use bytes::{Bytes, BytesMut};

/// The fixed part of a page header (RFC 3533 §6).
const FIXED: usize = 27;
/// The largest possible page: header with 255 segments of 255 bytes.
const MAX_PAGE: usize = FIXED + 255 + 255 * 255;

/// One Ogg page, as it came from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub data: Bytes,
    /// Beginning of a logical stream: headers follow.
    pub bos: bool,
    /// The granule position; 0 on header pages of Vorbis and Opus.
    pub granule: u64,
}

/// Why the input is not Ogg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Ogg stream: {0}")]
pub struct NotOgg(pub &'static str);

/// Cuts a byte stream into Ogg pages.
#[derive(Debug, Default)]
pub struct PageReader {
    buf: BytesMut,
}

impl PageReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole page, `Ok(None)` if more bytes are needed.
    pub fn next_page(&mut self) -> Result<Option<Page>, NotOgg> {
        if self.buf.len() < FIXED {
            return Ok(None);
        }
        if &self.buf[..4] != b"OggS" {
            return Err(NotOgg("missing OggS capture pattern"));
        }
        if self.buf[4] != 0 {
            return Err(NotOgg("unknown Ogg version"));
        }
        let segments = usize::from(self.buf[26]);
        if self.buf.len() < FIXED + segments {
            return Ok(None);
        }
        let body: usize = self.buf[FIXED..FIXED + segments]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        let len = FIXED + segments + body;
        debug_assert!(len <= MAX_PAGE);
        if self.buf.len() < len {
            return Ok(None);
        }
        let bos = self.buf[5] & 0x02 != 0;
        let mut g = [0u8; 8];
        g.copy_from_slice(&self.buf[6..14]);
        let granule = u64::from_le_bytes(g);
        Ok(Some(Page {
            data: self.buf.split_to(len).freeze(),
            bos,
            granule,
        }))
    }

    /// Bytes waiting for the rest of their page.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Follows which pages are headers: the beginning-of-stream pages and the pages after them
/// whose granule position is 0, up to the first audio page.
#[derive(Debug, Default)]
pub struct HeaderTracker {
    headers: Vec<Bytes>,
    in_headers: bool,
}

/// What a page means for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// The first page of a new chain: earlier headers no longer apply.
    ChainStart,
    Header,
    /// The first audio page: the headers are complete.
    FirstAudio,
    Audio,
}

impl HeaderTracker {
    pub fn observe(&mut self, page: &Page) -> PageKind {
        if page.bos {
            if !self.in_headers {
                self.headers.clear();
            }
            self.in_headers = true;
            self.headers.push(page.data.clone());
            return if self.headers.len() == 1 {
                PageKind::ChainStart
            } else {
                PageKind::Header
            };
        }
        if self.in_headers {
            // Granule -1 (all ones): no packet ends on this page — the middle of a header
            // packet that spans pages (a large comment header with cover art).
            if page.granule == 0 || page.granule == u64::MAX {
                self.headers.push(page.data.clone());
                return PageKind::Header;
            }
            self.in_headers = false;
            return PageKind::FirstAudio;
        }
        PageKind::Audio
    }

    /// The header pages of the current chain.
    pub fn headers(&self) -> &[Bytes] {
        &self.headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with one packet of `len` bytes.
    fn page(bos: bool, granule: u64, len: u8) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(if bos { 2 } else { 0 });
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // serial, sequence, crc
        p.push(1);
        p.push(len);
        p.extend(std::iter::repeat_n(0xAB, usize::from(len)));
        p
    }

    #[test]
    fn frames_pages_across_reads_and_tracks_headers() {
        let mut stream = page(true, 0, 19);
        stream.extend(page(false, 0, 40));
        stream.extend(page(false, 960, 100));
        stream.extend(page(false, 1920, 100));
        let mut r = PageReader::default();
        let mut t = HeaderTracker::default();
        let mut kinds = Vec::new();
        for chunk in stream.chunks(7) {
            r.push(chunk);
            while let Some(p) = r.next_page().expect("valid") {
                kinds.push(t.observe(&p));
            }
        }
        assert_eq!(
            kinds,
            [
                PageKind::ChainStart,
                PageKind::Header,
                PageKind::FirstAudio,
                PageKind::Audio
            ]
        );
        assert_eq!(t.headers().len(), 2);
        assert_eq!(r.pending(), 0);
        // A chained stream replaces the headers.
        r.push(&page(true, 0, 19));
        let p = r.next_page().expect("valid").expect("page");
        assert_eq!(t.observe(&p), PageKind::ChainStart);
        assert_eq!(t.headers().len(), 1);
    }

    #[test]
    fn refuses_what_is_not_ogg() {
        let mut r = PageReader::default();
        r.push(b"ID3\x04\x00\x00\x00\x00\x00\x00garbage garbage garbage");
        assert!(r.next_page().is_err());
    }
}
