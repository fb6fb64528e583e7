//! Sans-IO WebM (Matroska/EBML) framing, so WebM sources can be joined mid-stream.
//!
//! A WebM stream starts with an EBML header, a Segment of unknown size, and the Segment's
//! Info and Tracks (codec private data: Opus/Vorbis headers). A listener who joins later
//! needs all of that first, and its data must start at a Cluster. The source code feeds
//! bytes into [`ClusterReader`]; it returns the header once it is complete (at the first
//! Cluster) and then each Cluster whole, so every chunk a listener can start at is a
//! Cluster boundary (Icecast's `format_ebml` does the same).
//!
//! Written here rather than with an EBML crate: the crates we looked at (ebml-iterable,
//! matroska-demuxer) pull from a blocking `Read` and parse every element, while this needs
//! only the top-level framing (element IDs and sizes) pushed from an async socket.
//!
//! Clusters of known size are cut by their size; a Cluster of unknown size (GStreamer and
//! other live muxers write them) ends where the next top-level element begins.

use bytes::{Bytes, BytesMut};

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;
/// The Segment's children: an unknown-size Cluster ends where one of these begins.
const TOP_LEVEL: &[u32] = &[
    CLUSTER,
    0x114D_9B74, // SeekHead
    0x1549_A966, // Info
    0x1654_AE6B, // Tracks
    0x1C53_BB6B, // Cues
    0x1941_A469, // Attachments
    0x1043_A770, // Chapters
    0x1254_C367, // Tags
];
/// The header (EBML header + everything before the first Cluster) may not grow past this.
const MAX_HEADER: usize = 1 << 20;
/// A Cluster is sent whole; one this large is not a live stream.
const MAX_CLUSTER: usize = 4 << 20;

/// Why the input is not a WebM stream we can relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a live WebM stream: {0}")]
pub struct NotWebm(pub &'static str);

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// The header of a new stream: every listener needs it before any Cluster.
    Header(Bytes),
    /// A whole Cluster: a point where a listener can start.
    Cluster(Bytes),
    /// Another top-level element between Clusters (Cues, Tags): relayed as it is.
    Other(Bytes),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Expecting the EBML header of a (new) stream.
    #[default]
    Start,
    /// Inside the Segment, collecting the header up to the first Cluster.
    Header,
    /// Inside the Segment, after the header.
    Clusters,
}

/// Cuts a byte stream into a WebM header and Clusters.
#[derive(Debug, Default)]
pub struct ClusterReader {
    buf: BytesMut,
    phase: Phase,
    header: BytesMut,
    /// Bytes of an unknown-size Cluster already taken from `buf` (its header and children).
    open_cluster: Option<BytesMut>,
}

/// An element's ID, and its size (`None`: unknown), and the length of both fields.
struct ElementHead {
    id: u32,
    size: Option<u64>,
    len: usize,
}

impl ClusterReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next unit, `Ok(None)` if more bytes are needed.
    pub fn next_unit(&mut self) -> Result<Option<Unit>, NotWebm> {
        loop {
            let Some(head) = read_head(&self.buf)? else {
                return Ok(None);
            };
            if let Some(open) = self.open_cluster.as_mut() {
                // Inside a Cluster of unknown size: it ends where a top-level element (or a
                // new stream) begins.
                if head.id == EBML || TOP_LEVEL.contains(&head.id) {
                    let cluster = self.open_cluster.take().unwrap_or_default();
                    return Ok(Some(Unit::Cluster(cluster.freeze())));
                }
                let Some(whole) = element_len(&head, self.buf.len())? else {
                    return Ok(None);
                };
                if open.len() + whole > MAX_CLUSTER {
                    return Err(NotWebm("a Cluster over 4 MB"));
                }
                open.extend_from_slice(&self.buf.split_to(whole));
                continue;
            }
            match (self.phase, head.id) {
                (_, EBML) => {
                    let Some(whole) = element_len(&head, self.buf.len())? else {
                        return Ok(None);
                    };
                    self.header.clear();
                    self.header.extend_from_slice(&self.buf.split_to(whole));
                    self.phase = Phase::Start;
                }
                (Phase::Start, SEGMENT) if !self.header.is_empty() => {
                    // The Segment's own size is ignored: live streams leave it unknown, and
                    // its children are read one by one either way.
                    self.header.extend_from_slice(&self.buf.split_to(head.len));
                    self.phase = Phase::Header;
                }
                (Phase::Start, _) => return Err(NotWebm("missing EBML header and Segment")),
                (Phase::Header | Phase::Clusters, CLUSTER) => {
                    if self.phase == Phase::Header {
                        self.phase = Phase::Clusters;
                        return Ok(Some(Unit::Header(self.header.split().freeze())));
                    }
                    match head.size {
                        None => {
                            let mut open = BytesMut::new();
                            open.extend_from_slice(&self.buf.split_to(head.len));
                            self.open_cluster = Some(open);
                        }
                        Some(_) => {
                            let Some(whole) = element_len(&head, self.buf.len())? else {
                                return Ok(None);
                            };
                            if whole > MAX_CLUSTER {
                                return Err(NotWebm("a Cluster over 4 MB"));
                            }
                            return Ok(Some(Unit::Cluster(self.buf.split_to(whole).freeze())));
                        }
                    }
                }
                (Phase::Header, _) => {
                    let Some(whole) = element_len(&head, self.buf.len())? else {
                        return Ok(None);
                    };
                    if self.header.len() + whole > MAX_HEADER {
                        return Err(NotWebm("a header over 1 MB before the first Cluster"));
                    }
                    self.header.extend_from_slice(&self.buf.split_to(whole));
                }
                (Phase::Clusters, _) => {
                    let Some(whole) = element_len(&head, self.buf.len())? else {
                        return Ok(None);
                    };
                    if whole > MAX_CLUSTER {
                        return Err(NotWebm("an element over 4 MB between Clusters"));
                    }
                    return Ok(Some(Unit::Other(self.buf.split_to(whole).freeze())));
                }
            }
        }
    }

    /// Bytes waiting for the rest of their element.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.open_cluster.as_ref().map_or(0, BytesMut::len)
    }
}

/// The whole length of an element (head and body) if all of it is buffered.
fn element_len(head: &ElementHead, buffered: usize) -> Result<Option<usize>, NotWebm> {
    let size = head
        .size
        .ok_or(NotWebm("an element of unknown size where a size is needed"))?;
    let whole = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_add(head.len))
        .filter(|w| *w <= MAX_CLUSTER.max(MAX_HEADER))
        .ok_or(NotWebm("an element too large for a live stream"))?;
    Ok((buffered >= whole).then_some(whole))
}

/// Reads an element's ID and size (EBML variable-length integers, RFC 8794 §4).
fn read_head(buf: &[u8]) -> Result<Option<ElementHead>, NotWebm> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 {
        return Err(NotWebm("an invalid element ID"));
    }
    let Some(size_first) = buf.get(id_len).copied() else {
        return Ok(None);
    };
    let size_len = size_first.leading_zeros() as usize + 1;
    if size_len > 8 {
        return Err(NotWebm("an invalid element size"));
    }
    if buf.len() < id_len + size_len {
        return Ok(None);
    }
    // IDs keep their length marker; sizes drop it.
    let id = buf[..id_len]
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let mask = if size_len == 8 { 0 } else { 0xFFu8 >> size_len };
    let mut size = u64::from(size_first & mask);
    for &b in &buf[id_len + 1..id_len + size_len] {
        size = (size << 8) | u64::from(b);
    }
    // All value bits set: unknown size.
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    Ok(Some(ElementHead {
        id,
        size: (!unknown).then_some(size),
        len: id_len + size_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: u32, body: &[u8]) -> Vec<u8> {
        let mut v = id
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<_>>();
        // An 8-byte size, as muxers often write.
        v.push(0x01);
        v.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    fn unknown_size(id: u32) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        v
    }

    fn stream(clusters_known: bool) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
        let mut header = element(EBML, b"webm-doctype");
        header.extend(unknown_size(SEGMENT));
        header.extend(element(0x1549_A966, b"info"));
        header.extend(element(0x1654_AE6B, b"tracks: opus head"));
        let clusters: Vec<Vec<u8>> = (0..3u8)
            .map(|i| {
                let mut body = element(0xE7, &[i]); // Timecode
                body.extend(element(0xA3, &[i; 300])); // SimpleBlock
                if clusters_known {
                    element(CLUSTER, &body)
                } else {
                    let mut c = unknown_size(CLUSTER);
                    c.extend(body);
                    c
                }
            })
            .collect();
        let mut all = header.clone();
        for c in &clusters {
            all.extend(c);
        }
        (all, header, clusters)
    }

    fn read_all(bytes: &[u8], step: usize) -> Vec<Unit> {
        let mut r = ClusterReader::default();
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            r.push(piece);
            while let Some(u) = r.next_unit().expect("valid WebM") {
                out.push(u);
            }
        }
        out
    }

    #[test]
    fn header_then_whole_clusters_in_any_read_size() {
        for known in [true, false] {
            let (all, header, clusters) = stream(known);
            for step in [1, 7, 100, 4096] {
                let units = read_all(&all, step);
                assert_eq!(units[0], Unit::Header(Bytes::from(header.clone())));
                // With unknown sizes the last Cluster ends only when something follows it.
                let expect = if known { 3 } else { 2 };
                assert_eq!(units.len(), 1 + expect, "known sizes: {known}, step {step}");
                for (u, c) in units[1..].iter().zip(&clusters) {
                    assert_eq!(*u, Unit::Cluster(Bytes::from(c.clone())));
                }
            }
        }
    }

    #[test]
    fn a_new_stream_starts_a_new_header() {
        let (mut all, _, _) = stream(true);
        let (again, header, _) = stream(true);
        all.extend(&again);
        let units = read_all(&all, 64);
        let headers: Vec<_> = units
            .iter()
            .filter(|u| matches!(u, Unit::Header(_)))
            .collect();
        assert_eq!(headers.len(), 2);
        assert_eq!(*headers[1], Unit::Header(Bytes::from(header)));
    }

    #[test]
    fn refuses_what_is_not_webm() {
        let mut r = ClusterReader::default();
        r.push(b"ID3\x04\0\0\0\0\0\0 mp3 data");
        assert!(r.next_unit().is_err());
        let mut r = ClusterReader::default();
        r.push(&[0x00, 0x00, 0x00, 0x00, 0x00]);
        assert!(r.next_unit().is_err());
    }
}
