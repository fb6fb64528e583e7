//! MPEG-TS (an HLS relay's segments) → FLV tags: H.264 access units become AVCC pictures
//! with a sequence header from their in-band SPS/PPS, ADTS frames become raw AAC with an
//! AudioSpecificConfig, timestamps become milliseconds. The `mpeg2ts` crate reads the TS
//! and PES layers.

use bytes::Bytes;
use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
use mpeg2ts::ts::TsPacketReader;

use crate::media::aac::adts_frame;
use crate::media::avc::{AvcConfig, annex_b_to_avcc, annex_b_units};
use crate::media::flv::Tag;
use crate::media::flv::build;

/// Carries the decoder configurations across segments, so headers are sent only when new.
#[derive(Debug, Default)]
pub struct TsToTags {
    avc: Option<Bytes>,
    asc: Option<Bytes>,
}

fn ms(ts90: u64) -> u32 {
    (ts90 / 90) as u32
}

impl TsToTags {
    /// The tags of one whole segment, in the order its PES packets came.
    pub fn segment(&mut self, data: &[u8]) -> Result<Vec<Tag>, super::RelayError> {
        let mut reader = PesPacketReader::new(TsPacketReader::new(data));
        let mut out = Vec::new();
        loop {
            let pes = match reader.read_pes_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => return Err(super::RelayError::BadSegment(e.to_string())),
            };
            let Some(pts) = pes.header.pts.map(|t| t.as_u64()) else {
                continue;
            };
            let dts = pes.header.dts.map_or(pts, |t| t.as_u64());
            if pes.header.stream_id.is_video() {
                self.video(&pes.data, pts, dts, &mut out);
            } else if pes.header.stream_id.is_audio() {
                self.audio(&pes.data, pts, &mut out);
            }
        }
        Ok(out)
    }

    fn video(&mut self, au: &[u8], pts: u64, dts: u64, out: &mut Vec<Tag>) {
        let units = annex_b_units(au);
        let has = |t: u8| units.iter().any(|n| n[0] & 0x1F == t);
        if has(7)
            && has(8)
            && let Ok(cfg) = AvcConfig::from_annex_b(au)
            && self.avc.as_ref() != Some(&cfg.record)
        {
            out.push(Tag {
                video: true,
                ts: ms(dts),
                data: build::avc_header(&cfg.record),
            });
            self.avc = Some(cfg.record);
        }
        if self.avc.is_none() {
            return; // pictures before the first parameter sets cannot be decoded
        }
        let avcc = annex_b_to_avcc(au);
        if avcc.is_empty() {
            return;
        }
        let cts = (pts.wrapping_sub(dts) as i64 / 90) as i32;
        out.push(Tag {
            video: true,
            ts: ms(dts),
            data: build::avc_picture(has(5), cts, &avcc),
        });
    }

    fn audio(&mut self, mut data: &[u8], pts: u64, out: &mut Vec<Tag>) {
        let mut samples: u64 = 0;
        while let Some((asc, header, len)) = adts_frame(data) {
            let rate = crate::media::aac::AacConfig::parse(&asc)
                .map(|c| u64::from(c.sample_rate))
                .unwrap_or(44_100)
                .max(1);
            if self.asc.as_ref() != Some(&asc) {
                out.push(Tag {
                    video: false,
                    ts: ms(pts),
                    data: build::aac_header(&asc),
                });
                self.asc = Some(asc);
            }
            out.push(Tag {
                video: false,
                ts: ms(pts + samples * 90_000 / rate),
                data: build::aac_frame(&data[header..len]),
            });
            samples += 1024;
            data = &data[len..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_or_nothing_never_a_panic() {
        let mut d = TsToTags::default();
        assert!(
            d.segment(b"<html>not a segment</html>")
                .map_or(true, |t| t.is_empty())
        );
        // 188-byte packets with the sync byte but nonsense inside.
        let mut junk = Vec::new();
        for i in 0..20u8 {
            let mut p = vec![0x47u8; 188];
            p[1] = i;
            p[3] = 0x1F ^ i;
            junk.extend_from_slice(&p);
        }
        assert!(d.segment(&junk).map_or(true, |t| t.is_empty()));
        assert!(d.segment(&[]).map_or(true, |t| t.is_empty()));
    }
}
