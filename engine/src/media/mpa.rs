//! Sans-IO framing of an Icecast source's MP3 or ADTS-AAC byte stream into frames on a
//! running sample clock, for what needs whole frames (the transcoder's radio ladder).
//!
//! Written by hand because it is a few header fields: the crates that frame MPEG audio are
//! whole demuxers (symphonia's readers want a seekable source to probe). A byte that does not
//! start a valid frame whose successor also starts one is skipped, so the framer resyncs
//! after garbage or a source change mid-frame.

use bytes::{Buf, Bytes, BytesMut};

use super::aac::AacConfig;
use super::flv::mp3_header;
use super::{AudioConfig, Frame, TIMESCALE, Track};

/// Buffered bytes beyond which the framer gives up on the data it holds (no sync found).
const MAX_BUFFER: usize = 64 * 1024;

/// The byte streams it frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mp3,
    Adts,
}

impl Kind {
    /// The framing for an Icecast `Content-Type`, if it is one of these.
    pub fn for_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next()?.trim() {
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => Some(Self::Mp3),
            "audio/aac" | "audio/aacp" | "audio/x-aac" => Some(Self::Adts),
            _ => None,
        }
    }
}

/// One frame's length in bytes and its configuration, if `b` starts one.
fn frame_at(kind: Kind, b: &[u8]) -> Option<(usize, AudioConfig, u32)> {
    match kind {
        Kind::Mp3 => {
            let h = b.get(..4)?;
            let (rate, channels, samples) = mp3_header(h)?;
            let version = (h[1] >> 3) & 3;
            let layer = (h[1] >> 1) & 3;
            if layer != 1 {
                return None; // Layer III only
            }
            let index = usize::from(h[2] >> 4);
            const V1: [u32; 15] = [
                0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ];
            const V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
            let kbps = *if version == 3 { &V1 } else { &V2 }.get(index)?;
            if kbps == 0 {
                return None; // free format: no length to find the next frame by
            }
            let padding = u32::from((h[2] >> 1) & 1);
            let coeff = if version == 3 { 144 } else { 72 };
            let len = (coeff * kbps * 1000 / rate + padding) as usize;
            Some((
                len,
                AudioConfig::Mp3 {
                    sample_rate: rate,
                    channels,
                },
                samples,
            ))
        }
        Kind::Adts => {
            let h = b.get(..7)?;
            if h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
                return None;
            }
            let profile = h[2] >> 6; // object type − 1
            let freq = (h[2] >> 2) & 0xF;
            let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
            let len =
                (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
            let blocks = u32::from(h[6] & 3) + 1;
            let header = if h[1] & 1 == 0 { 9 } else { 7 };
            if len <= header || freq > 12 || channels == 0 {
                return None;
            }
            // The AudioSpecificConfig this header implies.
            let object = profile + 1;
            let asc = [
                (object << 3) | (freq >> 1),
                ((freq & 1) << 7) | (channels << 3),
            ];
            let config = AacConfig::parse(&Bytes::copy_from_slice(&asc)).ok()?;
            Some((len, AudioConfig::Aac(config), 1024 * blocks))
        }
    }
}

/// Where to cut a raw MP3 or ADTS byte stream so that every chunk listeners get ends on a
/// frame boundary: a source that leaves (or is taken over) mid-frame then hands over
/// cleanly, instead of leaving listeners' decoders a broken frame. Bytes that are not frames
/// (an ID3 tag, garbage, a codec this does not know) pass through as they are.
#[derive(Debug, Clone, Copy)]
pub struct Cutter {
    kind: Kind,
}

impl Cutter {
    pub fn new(kind: Kind) -> Self {
        Self { kind }
    }

    /// Takes what can go out from the front of `buf`: whole frames, and whatever precedes
    /// the first recognisable frame, without ID3v2 tags (a tag in the middle of a stream,
    /// where a source's start lands after a handover, is junk to a listener's decoder). Only
    /// a frame cut off at the end stays in `buf`.
    pub fn take(&self, buf: &mut BytesMut) -> Bytes {
        let mut out = BytesMut::new();
        loop {
            let n = self.whole(buf);
            let head = buf.split_to(n);
            match self.tag_at(buf) {
                Some(len) => {
                    out.extend_from_slice(&head);
                    buf.advance(len);
                }
                None if out.is_empty() => return head.freeze(),
                None => {
                    out.extend_from_slice(&head);
                    return out.freeze();
                }
            }
        }
    }

    /// The length of a whole ID3v2 tag at the start of `b`.
    fn tag_at(&self, b: &[u8]) -> Option<usize> {
        id3_len(b).filter(|n| b.starts_with(b"ID3") && *n <= b.len() && *n <= MAX_ID3)
    }

    /// How many leading bytes of `buf` can go out before the next ID3 tag: whole frames, and
    /// whatever precedes the first recognisable frame. Only a frame cut off at the end is
    /// held back.
    pub fn whole(&self, buf: &[u8]) -> usize {
        let mut pos = 0;
        while pos < buf.len() {
            let rest = &buf[pos..];
            if rest.starts_with(b"ID3") {
                // A tag claiming more than MAX_ID3 is taken for garbage, not waited for.
                match id3_len(rest).filter(|n| *n <= MAX_ID3) {
                    // A whole tag: the caller drops it.
                    Some(n) if n <= rest.len() => return pos,
                    Some(_) => return pos,
                    None => {}
                }
            }
            match frame_at(self.kind, rest) {
                Some((len, ..)) if len <= rest.len() => pos += len,
                // A frame that is not all here yet; or too short a rest to tell.
                Some(_) => return pos,
                None if rest.len() < 9 => return pos,
                None => match self.next_sync(buf, pos + 1) {
                    Some(next) => pos = next,
                    // No frame anywhere: nothing to align on, it all goes.
                    None => return buf.len(),
                },
            }
        }
        pos
    }

    /// The next offset from `from` where a frame starts whose successor also starts one (or
    /// that runs to the end of `buf`).
    fn next_sync(&self, buf: &[u8], from: usize) -> Option<usize> {
        (from..buf.len().saturating_sub(8)).find(|&p| match frame_at(self.kind, &buf[p..]) {
            Some((len, ..)) => {
                p + len + 9 > buf.len() || frame_at(self.kind, &buf[p + len..]).is_some()
            }
            None => false,
        })
    }
}

/// The largest ID3 tag a source may send (cover art included): a claimed size above this
/// is not waited for, so a source cannot make the server hold back its audio.
pub(crate) const MAX_ID3: usize = 1024 * 1024;

/// The length of an ID3v2 tag at the start of `b` (header, syncsafe size, footer).
fn id3_len(b: &[u8]) -> Option<usize> {
    let h = b.get(..10)?;
    if h[6..10].iter().any(|x| x & 0x80 != 0) {
        return None;
    }
    let size = h[6..10]
        .iter()
        .fold(0usize, |acc, x| (acc << 7) | usize::from(*x));
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// Frames a byte stream; timestamps run on from one frame to the next (90 kHz).
#[derive(Debug)]
pub struct Framer {
    kind: Kind,
    buf: BytesMut,
    /// The running clock, in samples of the current rate, and that rate.
    samples: u64,
    rate: u32,
    /// 90 kHz time at which the current rate started.
    base: i64,
}

impl Framer {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            buf: BytesMut::new(),
            samples: 0,
            rate: 0,
            base: 0,
        }
    }

    /// Adds bytes; returns the whole frames they completed, each with its configuration.
    /// MP3 frames keep their header (a decoder wants it); ADTS frames are raw AAC.
    pub fn push(&mut self, data: &[u8]) -> Vec<(AudioConfig, Frame)> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let Some((len, config, samples)) = frame_at(self.kind, &self.buf) else {
                if self.buf.len() < 9 {
                    break;
                }
                // Not a frame start: look from the next byte.
                self.buf.advance(1);
                continue;
            };
            // Need the whole frame and the next header to trust this one (or give up on a
            // lone frame at the end for now).
            if self.buf.len() < len + 4 {
                if self.buf.len() > MAX_BUFFER {
                    self.buf.advance(1);
                    continue;
                }
                break;
            }
            if frame_at(self.kind, &self.buf[len..]).is_none() && self.buf.len() >= len + 9 {
                self.buf.advance(1);
                continue;
            }
            let frame = self.buf.split_to(len).freeze();
            let rate = config.sample_rate().max(1);
            if rate != self.rate {
                self.base = self.now();
                self.samples = 0;
                self.rate = rate;
            }
            let pts = self.now();
            self.samples += u64::from(samples);
            let data = match (self.kind, &config) {
                (Kind::Adts, _) => {
                    let header = if frame[1] & 1 == 0 { 9 } else { 7 };
                    frame.slice(header..)
                }
                (Kind::Mp3, _) => frame,
            };
            out.push((
                config,
                Frame {
                    track: Track::Audio,
                    dts: pts,
                    pts,
                    key: true,
                    data,
                },
            ));
        }
        if self.buf.len() > MAX_BUFFER {
            let keep = self.buf.len() - 8;
            self.buf.advance(keep);
        }
        out
    }

    fn now(&self) -> i64 {
        if self.rate == 0 {
            return self.base;
        }
        self.base + (self.samples as i64 * TIMESCALE) / i64::from(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPEG-1 Layer III frame header, 128 kbit/s, 44.1 kHz, stereo, no padding: 417 bytes.
    fn mp3_frame() -> Vec<u8> {
        let mut f = vec![0xFF, 0xFB, 0x90, 0x00];
        f.resize(417, 0x55);
        f
    }

    #[test]
    fn the_cutter_holds_back_only_a_partial_frame() {
        let cut = Cutter::new(Kind::Mp3);
        let mut stream = b"ID3\x03\x00\x00\x00\x00\x00\x05tags!".to_vec();
        let tag = stream.len();
        for _ in 0..3 {
            stream.extend(mp3_frame());
        }
        let whole = stream.len();
        stream.extend(&mp3_frame()[..100]);
        // The tag is dropped, the frames go, the partial frame stays.
        let mut buf = BytesMut::from(&stream[..]);
        let out = cut.take(&mut buf);
        assert_eq!(out.len(), whole - tag);
        assert!(out.starts_with(&[0xFF, 0xFB]));
        assert_eq!(buf.len(), 100);
        let mut buf = BytesMut::from(&stream[..tag + 417 + 50]);
        assert_eq!(cut.take(&mut buf).len(), 417);
        // Half a tag: nothing yet.
        let mut buf = BytesMut::from(&stream[..6]);
        assert!(cut.take(&mut buf).is_empty());
        assert_eq!(buf.len(), 6);
        // Garbage before the first frame goes out with it.
        let mut noisy = b"noise!!!!!!!".to_vec();
        noisy.extend(mp3_frame());
        noisy.extend(mp3_frame());
        assert_eq!(cut.whole(&noisy), noisy.len());
        // No frames at all (some other codec): all of it goes.
        assert_eq!(cut.whole(&[0x11; 5000]), 5000);
        // A "tag" claiming 256 MB is not waited for.
        let mut huge = b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f".to_vec();
        huge.extend(mp3_frame());
        huge.extend(mp3_frame());
        let mut buf = BytesMut::from(&huge[..]);
        assert_eq!(cut.take(&mut buf).len(), huge.len());
    }

    #[test]
    fn mp3_frames_are_found_across_chunks_and_after_garbage() {
        let mut stream = b"garbage\xFF\xFF".to_vec();
        for _ in 0..5 {
            stream.extend(mp3_frame());
        }
        let mut f = Framer::new(Kind::Mp3);
        let mut got = Vec::new();
        for chunk in stream.chunks(100) {
            got.extend(f.push(chunk));
        }
        // The last frame waits for the next header.
        assert_eq!(got.len(), 4);
        assert!(
            got.iter()
                .all(|(_, fr)| fr.data.len() == 417 && fr.data[0] == 0xFF)
        );
        assert_eq!(
            got[0].0,
            AudioConfig::Mp3 {
                sample_rate: 44_100,
                channels: 2
            }
        );
        // 1152 samples at 44.1 kHz apart.
        assert_eq!(got[1].1.pts - got[0].1.pts, 1152 * 90_000 / 44_100);
    }

    #[test]
    fn adts_frames_become_raw_aac_with_their_config() {
        let aac =
            AacConfig::parse(&Bytes::from_static(&[0x11, 0x90])).expect("AAC-LC 48 kHz stereo");
        let mut stream = Vec::new();
        for _ in 0..3 {
            stream.extend_from_slice(&aac.adts_header(100));
            stream.extend_from_slice(&[0x21; 100]);
        }
        let mut f = Framer::new(Kind::Adts);
        let got = f.push(&stream);
        assert_eq!(got.len(), 2);
        let AudioConfig::Aac(c) = &got[0].0 else {
            panic!("not AAC")
        };
        assert_eq!((c.sample_rate, c.channels, c.object_type), (48_000, 2, 2));
        assert_eq!(got[0].1.data.len(), 100);
        assert_eq!(got[1].1.pts - got[0].1.pts, 1024 * 90_000 / 48_000);
        assert_eq!(Kind::for_content_type("audio/aac"), Some(Kind::Adts));
        assert_eq!(Kind::for_content_type("application/ogg"), None);
    }
}
