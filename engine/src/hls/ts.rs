//! MPEG-TS muxing for HLS segments (ISO/IEC 13818-1), on the `mpeg2ts` crate's packets.
//!
//! One muxer lives as long as a publisher, so continuity counters run on across segments
//! (players check them); each segment starts with a PAT and a PMT so it decodes on its own.

use mpeg2ts::es::{StreamId, StreamType};
use mpeg2ts::pes::PesHeader;
use mpeg2ts::time::{ClockReference, Timestamp};
use mpeg2ts::ts::payload::{Bytes as TsBytes, Pat, Pes, Pmt};
use mpeg2ts::ts::{
    AdaptationField, ContinuityCounter, EsInfo, Pid, ProgramAssociation,
    TransportScramblingControl, TsHeader, TsPacket, TsPacketWriter, TsPayload, VersionNumber,
    WriteTsPacket,
};

use crate::media::Track;

const PMT_PID: u16 = 0x1000;
const VIDEO_PID: u16 = 0x100;
const AUDIO_PID: u16 = 0x101;
/// Timestamps start one second in, so a negative composition offset stays positive.
const OFFSET: i64 = 90_000;
/// PTS/DTS are 33-bit.
const WRAP: i64 = 1 << 33;
/// How far the PCR runs ahead of the decode times (100 ms at 90 kHz).
const PCR_LEAD: i64 = 9_000;

/// Why a frame could not be muxed (only out-of-range values; never expected).
#[derive(Debug, thiserror::Error)]
#[error("MPEG-TS muxing failed: {0}")]
pub struct MuxError(String);

impl From<mpeg2ts::Error> for MuxError {
    fn from(e: mpeg2ts::Error) -> Self {
        Self(e.to_string())
    }
}

/// The elementary streams of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub video: bool,
    /// `AdtsAac` or `Mpeg1Audio` (MP3).
    pub audio: Option<StreamType>,
}

#[derive(Debug)]
pub struct TsMuxer {
    program: Program,
    cc_pat: ContinuityCounter,
    cc_pmt: ContinuityCounter,
    cc_video: ContinuityCounter,
    cc_audio: ContinuityCounter,
    writer: TsPacketWriter<Vec<u8>>,
}

fn pid(n: u16) -> Result<Pid, MuxError> {
    Ok(Pid::new(n)?)
}

fn header(pid_n: u16, cc: &mut ContinuityCounter) -> Result<TsHeader, MuxError> {
    let h = TsHeader {
        transport_error_indicator: false,
        transport_priority: false,
        pid: pid(pid_n)?,
        transport_scrambling_control: TransportScramblingControl::NotScrambled,
        continuity_counter: *cc,
    };
    cc.increment();
    Ok(h)
}

fn ts90(t: i64) -> Result<Timestamp, MuxError> {
    Ok(Timestamp::new((t + OFFSET).rem_euclid(WRAP) as u64)?)
}

impl TsMuxer {
    pub fn new(program: Program) -> Self {
        Self {
            program,
            cc_pat: ContinuityCounter::new(),
            cc_pmt: ContinuityCounter::new(),
            cc_video: ContinuityCounter::new(),
            cc_audio: ContinuityCounter::new(),
            writer: TsPacketWriter::new(Vec::with_capacity(256 * 1024)),
        }
    }

    pub fn program(&self) -> Program {
        self.program
    }

    /// PAT and PMT: the start of every segment.
    pub fn write_tables(&mut self) -> Result<(), MuxError> {
        let pat = TsPacket {
            header: header(0, &mut self.cc_pat)?,
            adaptation_field: None,
            payload: Some(TsPayload::Pat(Pat {
                transport_stream_id: 1,
                version_number: VersionNumber::new(),
                table: vec![ProgramAssociation {
                    program_num: 1,
                    program_map_pid: pid(PMT_PID)?,
                }],
            })),
        };
        self.writer.write_ts_packet(&pat)?;
        let mut es_info = Vec::new();
        if self.program.video {
            es_info.push(EsInfo {
                stream_type: StreamType::H264,
                elementary_pid: pid(VIDEO_PID)?,
                descriptors: vec![],
            });
        }
        if let Some(t) = self.program.audio {
            es_info.push(EsInfo {
                stream_type: t,
                elementary_pid: pid(AUDIO_PID)?,
                descriptors: vec![],
            });
        }
        let pcr_pid = if self.program.video {
            VIDEO_PID
        } else {
            AUDIO_PID
        };
        let pmt = TsPacket {
            header: header(PMT_PID, &mut self.cc_pmt)?,
            adaptation_field: None,
            payload: Some(TsPayload::Pmt(Pmt {
                program_num: 1,
                pcr_pid: Some(pid(pcr_pid)?),
                version_number: VersionNumber::new(),
                program_info: vec![],
                es_info,
            })),
        };
        self.writer.write_ts_packet(&pmt)?;
        Ok(())
    }

    /// One access unit as a PES packet (Annex-B video with its AUD, or ADTS/MP3 audio).
    pub fn write_pes(
        &mut self,
        track: Track,
        dts: i64,
        pts: i64,
        key: bool,
        data: &[u8],
    ) -> Result<(), MuxError> {
        let (pid_n, stream_id) = match track {
            Track::Video => (VIDEO_PID, StreamId::new(StreamId::VIDEO_MIN)),
            Track::Audio => (AUDIO_PID, StreamId::new(StreamId::AUDIO_MIN)),
        };
        // The PCR rides on every PES of the video (or, without video, the audio) stream:
        // at 25+ frames a second that keeps it well inside the 100 ms the spec allows.
        let carries_pcr = match track {
            Track::Video => true,
            Track::Audio => !self.program.video,
        };
        let pes_header = PesHeader {
            stream_id,
            priority: false,
            data_alignment_indicator: true,
            copyright: false,
            original_or_copy: false,
            pts: Some(ts90(pts)?),
            dts: if dts != pts { Some(ts90(dts)?) } else { None },
            escr: None,
        };
        let opt_len = 3 + 5 + if pes_header.dts.is_some() { 5 } else { 0 };
        let pes_len = if track == Track::Video {
            0 // unbounded: allowed for video, and needed for large pictures
        } else if opt_len + data.len() > 0xFFFF {
            return Err(MuxError("an audio frame over 64 KB".into()));
        } else {
            (opt_len + data.len()) as u16
        };
        let adaptation_field =
            (carries_pcr || (key && track == Track::Video)).then(|| AdaptationField {
                discontinuity_indicator: false,
                random_access_indicator: key,
                es_priority_indicator: false,
                pcr: None,
                opcr: None,
                splice_countdown: None,
                transport_private_data: vec![],
                extension: None,
            });
        let mut adaptation_field = adaptation_field;
        let mut af_len = 0;
        if let Some(af) = adaptation_field.as_mut() {
            af_len = 2;
            if carries_pcr {
                // A little before the decode time, so the decoder has the frame in time.
                let pcr = ((dts + OFFSET - PCR_LEAD).rem_euclid(WRAP) as u64) * 300;
                af.pcr = Some(ClockReference::new(pcr)?);
                af_len += 6;
            }
        }
        let cc = match track {
            Track::Video => &mut self.cc_video,
            Track::Audio => &mut self.cc_audio,
        };
        let first = (184 - af_len - (6 + opt_len)).min(data.len());
        self.writer.write_ts_packet(&TsPacket {
            header: header(pid_n, cc)?,
            adaptation_field,
            payload: Some(TsPayload::PesStart(Pes {
                header: pes_header,
                pes_packet_len: pes_len,
                data: TsBytes::new(&data[..first])?,
            })),
        })?;
        for chunk in data[first..].chunks(184) {
            self.writer.write_ts_packet(&TsPacket {
                header: header(pid_n, cc)?,
                adaptation_field: None,
                payload: Some(TsPayload::PesContinuation(TsBytes::new(chunk)?)),
            })?;
        }
        Ok(())
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> bytes::Bytes {
        // The next segment is likely the size of this one: start there, so the buffer does
        // not double its way up and hand the window a segment with half its memory unused.
        let last = self.writer.stream().len();
        let full = std::mem::replace(
            &mut self.writer,
            TsPacketWriter::new(Vec::with_capacity((last + last / 8).max(64 * 1024))),
        );
        let mut data = full.into_stream();
        if data.capacity() > data.len() + data.len() / 8 {
            data.shrink_to_fit();
        }
        bytes::Bytes::from(data)
    }

    /// Bytes written since the last [`TsMuxer::take`].
    pub fn pending(&self) -> usize {
        self.writer.stream().len()
    }
}

#[cfg(test)]
mod tests {
    //! The muxer's bytes for fixed input, against golden files (`engine/tests/golden/ts/`),
    //! and read back packet by packet for what players check: continuity counters running on
    //! across segments, PAT/PMT first, the PCR ahead of the decode times by [`PCR_LEAD`],
    //! random access marked on IDR pictures.

    use std::collections::HashMap;

    use mpeg2ts::ts::{ReadTsPacket, TsPacketReader};

    use super::*;
    use crate::hls::testing::{aac, aac_frames, avc, check_golden, interleave};
    use crate::media::Frame;
    use crate::media::fixtures::{self as fx, FRAME_TICKS};

    /// Writes `segments` (each a list of frames) the way the packager does: tables first,
    /// pictures in Annex-B, AAC behind ADTS headers. Returns each segment's bytes.
    fn mux(program: Program, segments: &[Vec<Frame>]) -> Vec<bytes::Bytes> {
        let (avc, aac) = (avc(), aac());
        let mut m = TsMuxer::new(program);
        segments
            .iter()
            .map(|frames| {
                m.write_tables().expect("tables");
                for f in frames {
                    let data = match f.track {
                        Track::Video => avc.to_annex_b(&f.data, f.key).expect("AVCC"),
                        Track::Audio => {
                            let mut adts = aac.adts_header(f.data.len()).to_vec();
                            adts.extend_from_slice(&f.data);
                            adts.into()
                        }
                    };
                    m.write_pes(f.track, f.dts, f.pts, f.key, &data)
                        .expect("PES");
                }
                assert_eq!(m.pending() % 188, 0);
                m.take()
            })
            .collect()
    }

    /// What a reader sees in one segment.
    #[derive(Debug, Default)]
    struct Seen {
        /// PIDs in packet order.
        pids: Vec<u16>,
        /// (PID, continuity counter) of every packet.
        counters: Vec<(u16, u8)>,
        /// (PCR in 90 kHz units, the DTS (or PTS) of the PES it rides with).
        pcrs: Vec<(u64, u64)>,
        /// PIDs of PES starts marked as random access points.
        random_access: Vec<u16>,
    }

    fn read_back(segment: &[u8]) -> Seen {
        let mut r = TsPacketReader::new(segment);
        let mut seen = Seen::default();
        while let Some(p) = r.read_ts_packet().expect("a valid TS packet") {
            let pid = p.header.pid.as_u16();
            seen.pids.push(pid);
            seen.counters
                .push((pid, p.header.continuity_counter.as_u8()));
            if let Some(TsPayload::PesStart(pes)) = &p.payload {
                let af = p.adaptation_field.as_ref();
                if af.is_some_and(|a| a.random_access_indicator) {
                    seen.random_access.push(pid);
                }
                if let Some(pcr) = af.and_then(|a| a.pcr) {
                    let t = pes.header.dts.or(pes.header.pts).expect("a timestamp");
                    seen.pcrs.push((pcr.as_u64() / 300, t.as_u64()));
                }
            }
        }
        seen
    }

    /// Each PID's counter goes up by one per packet, modulo 16, across all `segments`.
    fn assert_continuous(segments: &[bytes::Bytes]) {
        let mut last: HashMap<u16, u8> = HashMap::new();
        for (i, s) in segments.iter().enumerate() {
            for (pid, cc) in read_back(s).counters {
                if let Some(prev) = last.insert(pid, cc) {
                    assert_eq!(
                        cc,
                        (prev + 1) % 16,
                        "segment {i}: PID {pid:#x} skipped a count"
                    );
                }
            }
        }
    }

    #[test]
    fn video_and_aac_in_two_segments() {
        let pictures = fx::two_gops(0);
        let gop = 3 * FRAME_TICKS;
        let segments: Vec<Vec<Frame>> = pictures
            .chunks(3)
            .zip([0, gop])
            .map(|(p, start)| interleave(p, aac_frames(start, start + gop)))
            .collect();
        let out = mux(
            Program {
                video: true,
                audio: Some(StreamType::AdtsAac),
            },
            &segments,
        );
        check_golden("ts/video_aac.ts", &out.concat());

        assert_continuous(&out);
        for s in &out {
            let seen = read_back(s);
            // PAT, PMT, then the IDR picture, which a player may start on.
            assert_eq!(seen.pids[..3], [0, PMT_PID, VIDEO_PID]);
            assert_eq!(seen.random_access, [VIDEO_PID]);
            // The PCR rides on the video only, 100 ms ahead of each decode time.
            assert_eq!(seen.pcrs.len(), 3);
            for (pcr, dts) in seen.pcrs {
                assert_eq!(pcr + PCR_LEAD as u64, dts);
            }
        }
        // The 258-byte IDR slice continues in a second packet.
        let video_packets = read_back(&out[0])
            .pids
            .iter()
            .filter(|&&p| p == VIDEO_PID)
            .count();
        assert_eq!(video_packets, 4);
    }

    #[test]
    fn audio_only_carries_the_pcr_on_the_audio() {
        let segments = [
            aac_frames(0, 6 * fx::AAC_TICKS),
            aac_frames(6 * fx::AAC_TICKS, 9 * fx::AAC_TICKS),
        ];
        let out = mux(
            Program {
                video: false,
                audio: Some(StreamType::AdtsAac),
            },
            &segments,
        );
        check_golden("ts/aac_only.ts", &out.concat());

        assert_continuous(&out);
        let seen = read_back(&out[1]);
        assert_eq!(seen.pids, [0, PMT_PID, AUDIO_PID, AUDIO_PID, AUDIO_PID]);
        assert_eq!(seen.pcrs.len(), 3);
        // Every audio frame is a random access point.
        assert_eq!(seen.random_access, [AUDIO_PID; 3]);
    }

    #[test]
    fn timestamps_wrap_at_33_bits() {
        // 26.5 hours into a stream the 33-bit clock wraps: the PTS starts again from zero
        // while the PCR, 100 ms earlier, has not wrapped yet. Neither is an error.
        let dts = (1 << 33) - OFFSET;
        let mut m = TsMuxer::new(Program {
            video: false,
            audio: Some(StreamType::AdtsAac),
        });
        m.write_tables().expect("tables");
        m.write_pes(Track::Audio, dts + 90, dts + 90, true, &[0xFF; 8])
            .expect("wraps");
        let seen = read_back(&m.take());
        assert_eq!(seen.pcrs, [((1 << 33) + 90 - PCR_LEAD as u64, 90)]);
    }

    #[test]
    fn an_audio_frame_over_64_kb_is_refused() {
        let mut m = TsMuxer::new(Program {
            video: false,
            audio: Some(StreamType::Mpeg1Audio),
        });
        assert!(m.write_pes(Track::Audio, 0, 0, true, &[0; 70_000]).is_err());
    }
}
