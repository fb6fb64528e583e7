//! H.264 decoder configuration (the AVCDecoderConfigurationRecord RTMP sends as its video
//! sequence header), parsed with `h264-reader`, and the conversion of AVCC pictures to the
//! Annex-B form MPEG-TS carries.

use bytes::{BufMut, Bytes, BytesMut};
use h264_reader::avcc::AvcDecoderConfigurationRecord;
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal, RefNal};

/// What a decoder (and a playlist) needs to know about an H.264 stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AvcConfig {
    /// The record as sent (the MP4 `avcC` box body).
    pub record: Bytes,
    /// Bytes of each NAL unit's length prefix (1, 2 or 4).
    pub nal_length_size: usize,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    /// `avc1.PPCCLL` for the `CODECS` attribute.
    pub codec_string: String,
}

impl Eq for AvcConfig {}

impl AvcConfig {
    /// Whether `other` describes the same stream (the record is what matters; derived
    /// fields such as a frame rate may be NaN and never compare equal).
    pub fn same_as(&self, other: &AvcConfig) -> bool {
        self.record == other.record
    }
}

/// Why a sequence header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad H.264 sequence header: {0}")]
pub struct BadAvc(pub String);

/// Checks that every parameter set in the record is non-empty and within it. h264-reader
/// indexes into a zero-length SPS or PPS and panics (found by `fuzz/flv_tags`), so a
/// publisher's bytes are walked here first.
fn check_param_sets(record: &[u8]) -> Result<(), BadAvc> {
    let bad = |why: &str| BadAvc(why.to_owned());
    let mut at = 6;
    let sps = usize::from(record.get(5).ok_or_else(|| bad("record cut short"))? & 0x1F);
    let walk = |count: usize, at: &mut usize| -> Result<(), BadAvc> {
        for _ in 0..count {
            let len = record
                .get(*at..*at + 2)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                .ok_or_else(|| bad("parameter set length cut short"))?;
            if len == 0 {
                return Err(bad("an empty parameter set"));
            }
            *at += 2 + len;
            if *at > record.len() {
                return Err(bad("a parameter set longer than the record"));
            }
        }
        Ok(())
    };
    walk(sps, &mut at)?;
    let pps = usize::from(*record.get(at).ok_or_else(|| bad("no PPS count"))?);
    at += 1;
    walk(pps, &mut at)
}

impl AvcConfig {
    pub fn parse(record: &Bytes) -> Result<Self, BadAvc> {
        check_param_sets(record)?;
        let avcc = AvcDecoderConfigurationRecord::try_from(&record[..])
            .map_err(|e| BadAvc(format!("{e:?}")))?;
        let nal_length_size = usize::from(avcc.length_size_minus_one()) + 1;
        if nal_length_size == 3 {
            return Err(BadAvc("3-byte NAL lengths".into()));
        }
        let mut sps = Vec::new();
        for s in avcc.sequence_parameter_sets() {
            let s = s.map_err(|e| BadAvc(format!("{e:?}")))?;
            sps.push(record.slice_ref(s));
        }
        let mut pps = Vec::new();
        for p in avcc.picture_parameter_sets() {
            let p = p.map_err(|e| BadAvc(format!("{e:?}")))?;
            pps.push(record.slice_ref(p));
        }
        let first = sps.first().ok_or_else(|| BadAvc("no SPS".into()))?;
        if pps.is_empty() {
            return Err(BadAvc("no PPS".into()));
        }
        let parsed = SeqParameterSet::from_bits(RefNal::new(first, &[], true).rbsp_bits())
            .map_err(|e| BadAvc(format!("SPS: {e:?}")))?;
        let (width, height) = parsed
            .pixel_dimensions()
            .map_err(|e| BadAvc(format!("SPS dimensions: {e:?}")))?;
        let codec_string = format!(
            "avc1.{:02X}{:02X}{:02X}",
            first.get(1).copied().unwrap_or(0),
            first.get(2).copied().unwrap_or(0),
            first.get(3).copied().unwrap_or(0)
        );
        Ok(Self {
            record: record.clone(),
            nal_length_size,
            sps,
            pps,
            width,
            height,
            fps: parsed.fps(),
            codec_string,
        })
    }

    /// Splits an AVCC picture into its NAL units.
    pub fn nal_units<'a>(&self, picture: &'a [u8]) -> Result<Vec<&'a [u8]>, BadAvc> {
        let mut out = Vec::new();
        let mut rest = picture;
        let n = self.nal_length_size;
        while !rest.is_empty() {
            if rest.len() < n {
                return Err(BadAvc("a NAL length prefix cut short".into()));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[n..];
            if len > rest.len() {
                return Err(BadAvc("a NAL unit longer than its picture".into()));
            }
            if len > 0 {
                out.push(&rest[..len]);
            }
            rest = &rest[len..];
        }
        Ok(out)
    }

    /// The picture in Annex-B form for MPEG-TS: an access unit delimiter first, and the
    /// SPS/PPS before an IDR picture unless the picture carries its own.
    pub fn to_annex_b(&self, picture: &[u8], key: bool) -> Result<Bytes, BadAvc> {
        const START: [u8; 4] = [0, 0, 0, 1];
        let nals = self.nal_units(picture)?;
        let mut out = BytesMut::with_capacity(picture.len() + 64);
        out.put_slice(&[0, 0, 0, 1, 0x09, 0xF0]);
        let has_params = nals
            .iter()
            .any(|n| n.first().is_some_and(|h| h & 0x1F == 7));
        // Once, before the first slice: a multi-slice picture has several IDR slices.
        let mut params_due = key && !has_params;
        for nal in nals {
            let kind = nal[0] & 0x1F;
            // Its own AUD is replaced by ours.
            if kind == 9 {
                continue;
            }
            if params_due && (1..=5).contains(&kind) {
                params_due = false;
                for p in self.sps.iter().chain(&self.pps) {
                    out.put_slice(&START);
                    out.put_slice(p);
                }
            }
            out.put_slice(&START);
            out.put_slice(nal);
        }
        Ok(out.freeze())
    }
}

/// The NAL units of an Annex-B byte stream (start codes of 3 or 4 bytes), without the
/// start codes and without trailing zero bytes.
pub fn annex_b_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &from) in starts.iter().enumerate() {
        let mut to = starts.get(k + 1).map_or(stream.len(), |&next| next - 3);
        while to > from && stream[to - 1] == 0 {
            to -= 1;
        }
        if to > from {
            out.push(&stream[from..to]);
        }
    }
    out
}

/// An Annex-B access unit as AVCC (4-byte lengths), without parameter sets and delimiters
/// (the configuration carries those), as an encoder's output becomes a [`super::Frame`].
pub fn annex_b_to_avcc(stream: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(stream.len() + 16);
    for nal in annex_b_units(stream) {
        if matches!(nal[0] & 0x1F, 7..=9) {
            continue;
        }
        out.put_u32(nal.len() as u32);
        out.put_slice(nal);
    }
    out.freeze()
}

impl AvcConfig {
    /// The configuration of a stream whose SPS and PPS came as Annex-B (an encoder's global
    /// header): an AVCDecoderConfigurationRecord with 4-byte NAL lengths, parsed.
    pub fn from_annex_b(headers: &[u8]) -> Result<Self, BadAvc> {
        let units = annex_b_units(headers);
        let sps: Vec<&[u8]> = units.iter().copied().filter(|n| n[0] & 0x1F == 7).collect();
        let pps: Vec<&[u8]> = units.iter().copied().filter(|n| n[0] & 0x1F == 8).collect();
        let first = sps
            .first()
            .ok_or_else(|| BadAvc("no SPS in the encoder's headers".into()))?;
        if first.len() < 4 || sps.len() > 31 || pps.is_empty() || pps.len() > 255 {
            return Err(BadAvc(
                "unusable parameter sets in the encoder's headers".into(),
            ));
        }
        let mut r = BytesMut::new();
        r.put_slice(&[
            1,
            first[1],
            first[2],
            first[3],
            0xFF,
            0xE0 | sps.len() as u8,
        ]);
        for s in &sps {
            r.put_u16(s.len() as u16);
            r.put_slice(s);
        }
        r.put_u8(pps.len() as u8);
        for p in &pps {
            r.put_u16(p.len() as u16);
            r.put_slice(p);
        }
        // High profiles carry chroma format and bit depths after the PPS (ISO 14496-15).
        if matches!(first[1], 100 | 110 | 122 | 144) {
            r.put_slice(&[0xFC | 1, 0xF8, 0xF8, 0]);
        }
        Self::parse(&r.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_becomes_avcc_and_a_record() {
        // SPS of a 320x240 High profile stream (x264), a PPS, an AUD and an IDR slice.
        let sps = [
            0x67, 0x64, 0x00, 0x0D, 0xAC, 0xD9, 0x41, 0x41, 0xFB, 0x01, 0x10, 0x00, 0x00, 0x03,
            0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xC0, 0xF1, 0x42, 0x99, 0x60,
        ];
        let pps = [0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0];
        let mut stream = vec![0, 0, 0, 1];
        stream.extend_from_slice(&sps);
        stream.extend_from_slice(&[0, 0, 1]);
        stream.extend_from_slice(&pps);
        let headers = stream.clone();
        stream.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00]);
        let avcc = annex_b_to_avcc(&stream);
        // Only the slice is left, with a 4-byte length; its trailing zero is padding.
        assert_eq!(&avcc[..], &[0, 0, 0, 3, 0x65, 0x88, 0x84]);
        let config = AvcConfig::from_annex_b(&headers).expect("a record");
        assert_eq!((config.width, config.height), (320, 240));
        assert_eq!(config.codec_string, "avc1.64000D");
        assert_eq!(config.nal_length_size, 4);
        assert_eq!(
            config.nal_units(&avcc).expect("units"),
            [&[0x65, 0x88, 0x84][..]]
        );
        assert!(AvcConfig::from_annex_b(&[0, 0, 1, 0x68, 1]).is_err());
    }

    #[test]
    fn refuses_empty_parameter_sets() {
        // Found by fuzz/flv_tags (regressions/flv_tags/): a zero-length PPS, and SPS.
        let empty_pps = Bytes::from_static(&[0x07, 0, 0, 0, 0, 0x01, 0, 0, 0x48, 0x51, 0, 1, 0, 0]);
        assert!(AvcConfig::parse(&empty_pps).is_err());
        let empty_sps = Bytes::from_static(&[1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 0, 1, 0, 1, 0x68]);
        assert!(AvcConfig::parse(&empty_sps).is_err());
        assert!(AvcConfig::parse(&Bytes::from_static(&[1, 2, 3])).is_err());
    }

    #[test]
    fn refuses_the_fuzz_regressions_as_a_publisher_sends_them() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/flv_tags");
        for name in ["empty-pps-avcc.bin", "empty-sps-refnal.bin"] {
            let body = std::fs::read(dir.join(name)).expect("a regression input");
            let tag = crate::media::flv::parse_video(&Bytes::from(body)).expect("an FLV tag");
            let crate::media::flv::VideoTag::AvcSequenceHeader(record) = tag else {
                panic!("{name}: not a sequence header: {tag:?}");
            };
            assert_eq!(
                AvcConfig::parse(&record),
                Err(BadAvc("an empty parameter set".into())),
                "{name}"
            );
        }
    }
}
