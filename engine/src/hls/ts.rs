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
