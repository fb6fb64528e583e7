//! Fragmented MP4 (CMAF) for HLS: an init segment (`ftyp` + `moov` with the codec
//! configuration) and media fragments (`moof` + `mdat`), built with the `mp4-atom` crate.
//!
//! Track 1 is H.264 at 90 kHz (the engine's timeline, so decode times are copied as they
//! are); track 2 is the audio at its sample rate. H.264 samples go into `mdat` exactly as
//! RTMP delivered them (AVCC is MP4's own sample format).

use bytes::Bytes;
use mp4_atom::{
    Atom, Audio, Avc1, Avcc, Dinf, Dref, Encode, Esds, Ftyp, Hdlr, Matrix, Mdhd, Mdia, Mfhd, Minf,
    Moof, Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Styp, Tfdt, Tfhd, Tkhd,
    Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url, Visual, Vmhd, esds,
};

use crate::media::{AudioConfig, StreamConfig, TIMESCALE};

pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;
/// Sample flags: a sync sample (depends on nothing), and a non-sync one.
const SYNC: u32 = 0x0200_0000;
const NON_SYNC: u32 = 0x0101_0000;

/// Why an MP4 box could not be written (only out-of-range values; never expected).
#[derive(Debug, thiserror::Error)]
#[error("fMP4 muxing failed: {0}")]
pub struct Fmp4Error(String);

impl From<mp4_atom::Error> for Fmp4Error {
    fn from(e: mp4_atom::Error) -> Self {
        Self(e.to_string())
    }
}

/// One sample of a fragment, in its track's timescale.
#[derive(Debug, Clone)]
pub struct Sample {
    pub duration: u32,
    /// Presentation minus decode time.
    pub cts_offset: i32,
    pub key: bool,
    pub data: Bytes,
}

/// One track's run of samples in a fragment.
#[derive(Debug, Clone)]
pub struct Run {
    pub track_id: u32,
    /// The first sample's decode time, in the track's timescale.
    pub base_decode_time: u64,
    pub samples: Vec<Sample>,
}

fn unity() -> Matrix {
    Matrix {
        a: 65536,
        b: 0,
        u: 0,
        c: 0,
        d: 65536,
        v: 0,
        x: 0,
        y: 0,
        w: 1_073_741_824,
    }
}

fn empty_stbl(codec: mp4_atom::Codec) -> Stbl {
    Stbl {
        stsd: Stsd {
            codecs: vec![codec],
        },
        stts: Stts::default(),
        stsc: Stsc::default(),
        stsz: Stsz::default(),
        stco: Some(Stco::default()),
        ..Default::default()
    }
}

/// The audio track's timescale: its sample rate.
pub fn audio_timescale(config: &StreamConfig) -> u32 {
    config
        .audio
        .as_ref()
        .map_or(48_000, AudioConfig::sample_rate)
}

/// The init segment for a stream's configuration.
pub fn init_segment(config: &StreamConfig) -> Result<Bytes, Fmp4Error> {
    let mut traks = Vec::new();
    let mut trex = Vec::new();
    if let Some(avc) = &config.video {
        let avcc = Avcc::decode_body(&mut &avc.record[..])?;
        let (w, h) = (
            u16::try_from(avc.width).unwrap_or(u16::MAX),
            u16::try_from(avc.height).unwrap_or(u16::MAX),
        );
        traks.push(Trak {
            tkhd: Tkhd {
                track_id: VIDEO_TRACK,
                enabled: true,
                in_movie: true,
                matrix: unity(),
                width: w.into(),
                height: h.into(),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale: TIMESCALE as u32,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: b"vide".into(),
                    name: "Tidecast video".into(),
                },
                minf: Minf {
                    vmhd: Some(Vmhd::default()),
                    dinf: Dinf {
                        dref: Dref {
                            entries: vec![Url::default().into()],
                        },
                    },
                    stbl: empty_stbl(
                        Avc1 {
                            visual: Visual {
                                data_reference_index: 1,
                                width: w,
                                height: h,
                                horizresolution: 72.into(),
                                vertresolution: 72.into(),
                                frame_count: 1,
                                compressor: "".into(),
                                depth: 24,
                            },
                            avcc,
                            ..Default::default()
                        }
                        .into(),
                    ),
                    ..Default::default()
                },
            },
            ..Default::default()
        });
        trex.push(Trex {
            track_id: VIDEO_TRACK,
            default_sample_description_index: 1,
            ..Default::default()
        });
    }
    if let Some(audio) = &config.audio {
        let rate = audio.sample_rate();
        let (object_type_indication, dec_specific, channels) = match audio {
            AudioConfig::Aac(aac) => (
                0x40,
                Some(esds::DecoderSpecific {
                    profile: aac.object_type,
                    freq_index: aac.freq_index,
                    chan_conf: aac.channels,
                    raw: aac.raw.to_vec(),
                }),
                aac.channels,
            ),
            AudioConfig::Mp3 { channels, .. } => (0x6B, None, *channels),
        };
        traks.push(Trak {
            tkhd: Tkhd {
                track_id: AUDIO_TRACK,
                enabled: true,
                in_movie: true,
                alternate_group: 1,
                volume: 1.into(),
                matrix: unity(),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale: rate,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: b"soun".into(),
                    name: "Tidecast audio".into(),
                },
                minf: Minf {
                    smhd: Some(Smhd::default()),
                    dinf: Dinf {
                        dref: Dref {
                            entries: vec![Url::default().into()],
                        },
                    },
                    stbl: empty_stbl(
                        Mp4a {
                            audio: Audio {
                                data_reference_index: 1,
                                channel_count: u16::from(channels.max(1)),
                                sample_size: 16,
                                sample_rate: u16::try_from(rate).unwrap_or(0).into(),
                            },
                            esds: Esds {
                                es_desc: esds::EsDescriptor {
                                    es_id: 2,
                                    dec_config: esds::DecoderConfig {
                                        object_type_indication,
                                        stream_type: 5,
                                        dec_specific,
                                        ..Default::default()
                                    },
                                    ..Default::default()
                                },
                            },
                            btrt: None,
                            taic: None,
                        }
                        .into(),
                    ),
                    ..Default::default()
                },
            },
            ..Default::default()
        });
        trex.push(Trex {
            track_id: AUDIO_TRACK,
            default_sample_description_index: 1,
            ..Default::default()
        });
    }
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: 1.into(),
            volume: 1.into(),
            matrix: unity(),
            next_track_id: AUDIO_TRACK + 1,
            ..Default::default()
        },
        mvex: Some(Mvex { mehd: None, trex }),
        trak: traks,
        ..Default::default()
    };
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"mp41".into()],
    }
    .encode(&mut out)?;
    moov.encode(&mut out)?;
    Ok(Bytes::from(out))
}

/// A media fragment: `styp`, `moof` (one `traf` per run), `mdat` with the runs' samples
/// in order.
pub fn fragment(sequence: u32, runs: &[Run]) -> Result<Bytes, Fmp4Error> {
    let build = |offsets: &[i32]| Moof {
        mfhd: Mfhd {
            sequence_number: sequence,
        },
        traf: runs
            .iter()
            .zip(offsets)
            .map(|(run, &offset)| Traf {
                tfhd: Tfhd {
                    track_id: run.track_id,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: run.base_decode_time,
                }),
                trun: vec![Trun {
                    data_offset: Some(offset),
                    samples: TrunSamples::Explicit(
                        run.samples
                            .iter()
                            .map(|s| TrunEntry {
                                duration: Some(s.duration),
                                size: Some(s.data.len() as u32),
                                flags: Some(if s.key { SYNC } else { NON_SYNC }),
                                cts: Some(i64::from(s.cts_offset)),
                            })
                            .collect(),
                    ),
                }],
                ..Default::default()
            })
            .collect(),
    };
    // Encode once to learn the moof's size, then again with the data offsets (from the
    // start of the moof to each run's first byte in the mdat).
    let mut probe: Vec<u8> = Vec::new();
    build(&vec![0; runs.len()]).encode(&mut probe)?;
    let mut offsets = Vec::with_capacity(runs.len());
    let mut at = probe.len() + 8;
    for run in runs {
        offsets.push(i32::try_from(at).map_err(|_| Fmp4Error("fragment too large".into()))?);
        at += run.samples.iter().map(|s| s.data.len()).sum::<usize>();
    }
    let data_len: usize = runs
        .iter()
        .flat_map(|r| &r.samples)
        .map(|s| s.data.len())
        .sum();
    let mut out: Vec<u8> = Vec::with_capacity(probe.len() + data_len + 64);
    Styp {
        major_brand: b"msdh".into(),
        minor_version: 0,
        compatible_brands: vec![b"msdh".into(), b"msix".into(), b"cmfs".into()],
    }
    .encode(&mut out)?;
    build(&offsets).encode(&mut out)?;
    // The mdat is written by hand: mp4-atom's `Mdat` wants one owned buffer, and the
    // samples are already separate `Bytes`.
    let mdat_len = u32::try_from(data_len + 8).map_err(|_| Fmp4Error("mdat over 4 GB".into()))?;
    out.extend_from_slice(&mdat_len.to_be_bytes());
    out.extend_from_slice(b"mdat");
    for s in runs.iter().flat_map(|r| &r.samples) {
        out.extend_from_slice(&s.data);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    //! Init segments and fragments for fixed input, against golden files
    //! (`engine/tests/golden/fmp4/`), and read back box by box for what players rely on:
    //! `tfdt` at each run's first decode time, sample flags, composition offsets, and data
    //! offsets that land on each run's bytes in the `mdat`.

    use mp4_atom::{Decode, Moof, Styp};

    use super::*;
    use crate::hls::testing::{aac_config, aac_frames, av_config, check_golden, video};
    use crate::media::TIMESCALE;
    use crate::media::fixtures::{self as fx, FRAME_TICKS};

    /// The runs of one GOP (three pictures from `start`) and its audio.
    fn gop_runs(pictures: &[fx::Picture], start: i64) -> Vec<Run> {
        let end = start + 3 * FRAME_TICKS;
        let video = Run {
            track_id: VIDEO_TRACK,
            base_decode_time: start as u64,
            samples: pictures
                .iter()
                .map(|p| {
                    let f = video(p);
                    Sample {
                        duration: FRAME_TICKS as u32,
                        cts_offset: (f.pts - f.dts) as i32,
                        key: f.key,
                        data: f.data,
                    }
                })
                .collect(),
        };
        let audio_frames = aac_frames(start, end);
        let audio = Run {
            track_id: AUDIO_TRACK,
            base_decode_time: (audio_frames[0].dts * 48_000 / TIMESCALE) as u64,
            samples: audio_frames
                .into_iter()
                .map(|f| Sample {
                    duration: 1024,
                    cts_offset: 0,
                    key: true,
                    data: f.data,
                })
                .collect(),
        };
        vec![video, audio]
    }

    #[test]
    fn init_segments() {
        let av = init_segment(&av_config()).expect("init");
        check_golden("fmp4/init_video_aac.mp4", &av);
        let audio = init_segment(&aac_config()).expect("init");
        check_golden("fmp4/init_aac.mp4", &audio);
        // The avcC box carries the record exactly as the publisher sent it.
        let record = fx::avc_record();
        assert!(av.windows(record.len()).any(|w| w == record), "avcC");
        assert_eq!(audio_timescale(&aac_config()), 48_000);
    }

    #[test]
    fn two_fragments_of_video_and_aac() {
        let pictures = fx::two_gops(0);
        let gop = 3 * FRAME_TICKS;
        let runs: Vec<Vec<Run>> = pictures
            .chunks(3)
            .zip([0, gop])
            .map(|(p, start)| gop_runs(p, start))
            .collect();
        let out: Vec<Bytes> = runs
            .iter()
            .zip(1..)
            .map(|(r, seq)| fragment(seq, r).expect("fragment"))
            .collect();
        check_golden("fmp4/video_aac_1.m4s", &out[0]);
        check_golden("fmp4/video_aac_2.m4s", &out[1]);

        for ((data, runs), seq) in out.iter().zip(&runs).zip(1..) {
            let mut buf = &data[..];
            Styp::decode(&mut buf).expect("styp");
            let moof_start = data.len() - buf.len();
            let moof = Moof::decode(&mut buf).expect("moof");
            assert_eq!(moof.mfhd.sequence_number, seq);
            assert_eq!(&buf[4..8], b"mdat");
            assert_eq!(moof.traf.len(), 2);
            for (traf, run) in moof.traf.iter().zip(runs) {
                assert_eq!(traf.tfhd.track_id, run.track_id);
                let tfdt = traf.tfdt.as_ref().expect("tfdt");
                assert_eq!(tfdt.base_media_decode_time, run.base_decode_time);
                let trun = &traf.trun[0];
                // The data offset counts from the moof's first byte.
                let at = moof_start + trun.data_offset.expect("data offset") as usize;
                let bytes: Vec<u8> = run.samples.iter().flat_map(|s| s.data.to_vec()).collect();
                assert_eq!(
                    data[at..at + bytes.len()],
                    bytes[..],
                    "track {}",
                    run.track_id
                );
                let entries: Vec<_> = (0..trun.samples.len())
                    .map(|i| trun.samples.get(i).expect("entry"))
                    .collect();
                for (e, s) in entries.iter().zip(&run.samples) {
                    assert_eq!(e.flags, Some(if s.key { SYNC } else { NON_SYNC }));
                    assert_eq!(e.cts, Some(i64::from(s.cts_offset)));
                    assert_eq!(e.duration, Some(s.duration));
                }
            }
        }
        // The video run: IDR (sync, shown a frame late), P, then B (shown at once).
        let video_cts: Vec<i32> = runs[0][0].samples.iter().map(|s| s.cts_offset).collect();
        assert_eq!(video_cts, [3600, 7200, 0]);
        // The second fragment's audio continues where the first one's ended (6 frames).
        assert_eq!(runs[1][1].base_decode_time, 6 * 1024);
    }
}
