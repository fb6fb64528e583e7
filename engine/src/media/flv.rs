//! FLV tag bodies as RTMP carries them (`VIDEODATA` / `AUDIODATA`, FLV spec v10.1 §E.4.3).
//!
//! rml_rtmp hands over each message's payload untouched; this module says what it is.

use bytes::Bytes;

/// One FLV tag body (VIDEODATA or AUDIODATA) and its RTMP timestamp: what every source kind
/// hands to the publisher (an RTMP push or pull, an RTSP camera through the transcoder, an
/// HLS relay's MPEG-TS) and what restream targets send on.
#[derive(Debug, Clone)]
pub struct Tag {
    pub video: bool,
    /// Milliseconds, as the publisher sent it (a target rebases it).
    pub ts: u32,
    pub data: Bytes,
}

impl Tag {
    /// A tag at time 0 with these bytes (tests build their streams from these).
    #[cfg(test)]
    pub(crate) fn test(video: bool, data: &'static [u8]) -> Self {
        Self {
            video,
            ts: 0,
            data: Bytes::from_static(data),
        }
    }

    /// A video keyframe (a target starts and resumes on one).
    pub fn is_keyframe(&self) -> bool {
        self.video && self.data.first().is_some_and(|b| b >> 4 == 1) && !self.is_header()
    }

    /// An AVC or AAC sequence header (decoder configuration).
    pub fn is_header(&self) -> bool {
        match (self.video, self.data.first(), self.data.get(1)) {
            (true, Some(b), Some(0)) => b & 0x0f == 7,
            (false, Some(b), Some(0)) => b >> 4 == 10,
            _ => false,
        }
    }
}

/// What a video message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoTag {
    /// The AVCDecoderConfigurationRecord (sent first, and again on a change).
    AvcSequenceHeader(Bytes),
    /// One AVCC picture and its composition time offset (PTS − DTS) in milliseconds.
    AvcPicture {
        key: bool,
        cts_ms: i32,
        data: Bytes,
    },
    AvcEndOfSequence,
    /// Video info / command frames (frame type 5): nothing to package.
    Command,
    /// A codec we do not package (Sorenson, VP6, enhanced-RTMP FourCCs, …).
    Unsupported(String),
}

/// What an audio message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTag {
    /// The AAC AudioSpecificConfig.
    AacSequenceHeader(Bytes),
    AacRaw(Bytes),
    /// One or more MP3 frames.
    Mp3(Bytes),
    Unsupported(String),
}

/// Why a tag body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed FLV {0} tag: {1}")]
pub struct BadTag(pub &'static str, pub &'static str);

pub fn parse_video(body: &Bytes) -> Result<VideoTag, BadTag> {
    let first = *body.first().ok_or(BadTag("video", "empty"))?;
    if first & 0x80 != 0 {
        // Enhanced RTMP: a FourCC follows (HEVC, AV1, VP9).
        let fourcc = body
            .get(1..5)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default();
        return Ok(VideoTag::Unsupported(format!("enhanced RTMP {fourcc:?}")));
    }
    let frame_type = first >> 4;
    let codec = first & 0x0F;
    if frame_type == 5 {
        return Ok(VideoTag::Command);
    }
    if codec != 7 {
        let name = match codec {
            2 => "Sorenson H.263",
            3 => "Screen video",
            4 | 5 => "On2 VP6",
            6 => "Screen video v2",
            12 => "HEVC (legacy codec id 12)",
            _ => "unknown video codec",
        };
        return Ok(VideoTag::Unsupported(name.to_owned()));
    }
    if body.len() < 5 {
        return Err(BadTag("video", "AVC header cut short"));
    }
    let cts_ms = i32::from_be_bytes([body[2], body[3], body[4], 0]) >> 8;
    match body[1] {
        0 => Ok(VideoTag::AvcSequenceHeader(body.slice(5..))),
        1 => Ok(VideoTag::AvcPicture {
            key: frame_type == 1,
            cts_ms,
            data: body.slice(5..),
        }),
        2 => Ok(VideoTag::AvcEndOfSequence),
        _ => Err(BadTag("video", "unknown AVC packet type")),
    }
}

pub fn parse_audio(body: &Bytes) -> Result<AudioTag, BadTag> {
    let first = *body.first().ok_or(BadTag("audio", "empty"))?;
    match first >> 4 {
        10 => match body.get(1) {
            Some(0) => Ok(AudioTag::AacSequenceHeader(body.slice(2..))),
            Some(1) => Ok(AudioTag::AacRaw(body.slice(2..))),
            Some(_) => Err(BadTag("audio", "unknown AAC packet type")),
            None => Err(BadTag("audio", "AAC header cut short")),
        },
        2 | 14 => Ok(AudioTag::Mp3(body.slice(1..))),
        other => Ok(AudioTag::Unsupported(
            match other {
                0 | 3 => "PCM",
                1 => "ADPCM",
                4..=6 => "Nellymoser",
                7 | 8 => "G.711",
                11 => "Speex",
                _ => "unknown audio codec",
            }
            .to_owned(),
        )),
    }
}

/// Sample rate and channels from an MP3 frame header, and the samples per frame.
pub fn mp3_header(frame: &[u8]) -> Option<(u32, u8, u32)> {
    let h = frame.get(..4)?;
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let layer = (h[1] >> 1) & 3; // 1: Layer III
    let index = usize::from((h[2] >> 2) & 3);
    let base = [44_100, 48_000, 32_000].get(index)?;
    let rate = match version {
        3 => *base,
        2 => base / 2,
        0 => base / 4,
        _ => return None,
    };
    let channels = if h[3] >> 6 == 3 { 1 } else { 2 };
    let samples = match (version, layer) {
        (3, 1) => 1152,
        (_, 1) => 576,
        (_, 2) => 1152,
        (_, 3) => 384,
        _ => return None,
    };
    Some((rate, channels, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_and_headers_are_told_apart() {
        assert!(Tag::test(true, &[0x17, 1, 0, 0, 0]).is_keyframe());
        assert!(!Tag::test(true, &[0x17, 0, 0, 0, 0]).is_keyframe());
        assert!(Tag::test(false, &[0xAF, 0, 0x12]).is_header());
        assert!(!Tag::test(false, &[0x2F, 0, 0x12]).is_header());
        assert!(!Tag::test(true, &[]).is_header());
    }

    #[test]
    fn video_tags() {
        let seq = Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x64]);
        assert_eq!(
            parse_video(&seq),
            Ok(VideoTag::AvcSequenceHeader(Bytes::from_static(&[1, 0x64])))
        );
        // An inter picture with a composition offset of 66 ms.
        let pic = Bytes::from_static(&[0x27, 1, 0, 0, 66, 0, 0, 0, 1, 0x41]);
        match parse_video(&pic) {
            Ok(VideoTag::AvcPicture { key, cts_ms, data }) => {
                assert!(!key);
                assert_eq!(cts_ms, 66);
                assert_eq!(data.len(), 5);
            }
            other => panic!("{other:?}"),
        }
        // A negative composition offset (SI24).
        let neg = Bytes::from_static(&[0x17, 1, 0xFF, 0xFF, 0xDE, 0, 0, 0, 0]);
        assert!(matches!(
            parse_video(&neg),
            Ok(VideoTag::AvcPicture { cts_ms: -34, .. })
        ));
        assert!(parse_video(&Bytes::new()).is_err());
        assert!(parse_video(&Bytes::from_static(&[0x17, 1])).is_err());
        assert!(matches!(
            parse_video(&Bytes::from_static(&[0x12, 0])),
            Ok(VideoTag::Unsupported(_))
        ));
    }

    #[test]
    fn audio_tags() {
        assert_eq!(
            parse_audio(&Bytes::from_static(&[0xAF, 0, 0x12, 0x10])),
            Ok(AudioTag::AacSequenceHeader(Bytes::from_static(&[
                0x12, 0x10
            ])))
        );
        assert!(matches!(
            parse_audio(&Bytes::from_static(&[0xAF, 1, 1, 2])),
            Ok(AudioTag::AacRaw(_))
        ));
        assert!(parse_audio(&Bytes::from_static(&[0xAF])).is_err());
        assert_eq!(
            mp3_header(&[0xFF, 0xFB, 0x90, 0x44]),
            Some((44_100, 2, 1152))
        );
    }
}

/// Building tag bodies, for sources that do not arrive as FLV (relays pulling RTSP or
/// HLS, encoders) but go on as if they had: to the publisher and to RTMP targets.
pub mod build {
    use bytes::{BufMut, Bytes, BytesMut};

    fn with_head(head: &[u8], body: &[u8]) -> Bytes {
        let mut b = BytesMut::with_capacity(head.len() + body.len());
        b.put_slice(head);
        b.put_slice(body);
        b.freeze()
    }

    /// The AVCDecoderConfigurationRecord as a sequence header.
    pub fn avc_header(record: &[u8]) -> Bytes {
        with_head(&[0x17, 0, 0, 0, 0], record)
    }

    /// An AVCC picture; `cts_ms` is PTS − DTS.
    pub fn avc_picture(key: bool, cts_ms: i32, avcc: &[u8]) -> Bytes {
        let c = cts_ms.clamp(-(1 << 23), (1 << 23) - 1) as u32;
        with_head(
            &[
                if key { 0x17 } else { 0x27 },
                1,
                (c >> 16) as u8,
                (c >> 8) as u8,
                c as u8,
            ],
            avcc,
        )
    }

    /// The AudioSpecificConfig as a sequence header (AAC, 44.1 kHz stereo flags as FLV
    /// requires for AAC; the ASC says the truth).
    pub fn aac_header(asc: &[u8]) -> Bytes {
        with_head(&[0xAF, 0], asc)
    }

    /// One raw AAC frame.
    pub fn aac_frame(raw: &[u8]) -> Bytes {
        with_head(&[0xAF, 1], raw)
    }
}

#[cfg(test)]
mod build_tests {
    use super::*;

    #[test]
    fn built_tags_parse_back() {
        let pic = build::avc_picture(true, 40, &[0, 0, 0, 1, 0x65]);
        match parse_video(&pic).expect("parses") {
            VideoTag::AvcPicture { key, cts_ms, data } => {
                assert!(key);
                assert_eq!(cts_ms, 40);
                assert_eq!(&data[..], &[0, 0, 0, 1, 0x65]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_audio(&build::aac_header(&[0x12, 0x10])),
            Ok(AudioTag::AacSequenceHeader(_))
        ));
        assert!(matches!(
            parse_audio(&build::aac_frame(&[1, 2, 3])),
            Ok(AudioTag::AacRaw(_))
        ));
    }
}
