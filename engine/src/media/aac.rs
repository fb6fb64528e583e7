//! AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) and the ADTS header MPEG-TS carries
//! AAC in.

use bytes::Bytes;

/// Sampling frequencies by index.
const RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// What an AAC decoder needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// Audio object type: 2 = AAC-LC, 5 = HE-AAC (SBR), 29 = HE-AACv2.
    pub object_type: u8,
    pub freq_index: u8,
    pub sample_rate: u32,
    pub channels: u8,
    /// The AudioSpecificConfig as sent (for the MP4 `esds` box).
    pub raw: Bytes,
}

/// Why an AudioSpecificConfig was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad AAC AudioSpecificConfig: {0}")]
pub struct BadAsc(pub &'static str);

impl AacConfig {
    pub fn parse(asc: &Bytes) -> Result<Self, BadAsc> {
        if asc.len() < 2 {
            return Err(BadAsc("shorter than 2 bytes"));
        }
        let mut object_type = asc[0] >> 3;
        let mut bit = 5usize;
        let read = |bit: &mut usize, n: usize| -> Result<u32, BadAsc> {
            let mut v = 0u32;
            for _ in 0..n {
                let byte = asc.get(*bit / 8).ok_or(BadAsc("truncated"))?;
                v = (v << 1) | u32::from((byte >> (7 - *bit % 8)) & 1);
                *bit += 1;
            }
            Ok(v)
        };
        if object_type == 31 {
            object_type = 32 + read(&mut bit, 6)? as u8;
        }
        let freq_index = read(&mut bit, 4)? as u8;
        let sample_rate = match freq_index {
            15 => read(&mut bit, 24)?,
            i => *RATES
                .get(usize::from(i))
                .ok_or(BadAsc("reserved sampling frequency index"))?,
        };
        let channels = read(&mut bit, 4)? as u8;
        if object_type == 0 {
            return Err(BadAsc("object type 0"));
        }
        if sample_rate == 0 {
            return Err(BadAsc("sampling frequency 0"));
        }
        Ok(Self {
            object_type,
            freq_index,
            sample_rate,
            channels,
            raw: asc.clone(),
        })
    }

    /// The 7-byte ADTS header for a raw frame of `payload_len` bytes. ADTS can only
    /// signal the first four object types; HE-AAC is signalled as AAC-LC (its SBR part is
    /// found implicitly by decoders), as every RTMP-to-HLS packager does.
    pub fn adts_header(&self, payload_len: usize) -> [u8; 7] {
        let profile = match self.object_type {
            1..=4 => self.object_type - 1,
            _ => 1,
        };
        let freq = if self.freq_index < 13 {
            self.freq_index
        } else {
            4
        };
        let ch = self.channels.min(7);
        let len = payload_len + 7;
        [
            0xFF,
            0xF1,
            (profile << 6) | (freq << 2) | (ch >> 2),
            ((ch & 3) << 6) | ((len >> 11) as u8 & 3),
            (len >> 3) as u8,
            (((len & 7) as u8) << 5) | 0x1F,
            0xFC,
        ]
    }

    /// Samples per AAC frame (1024; HE-AAC's output is 2048 at twice the rate, but its
    /// timestamps count the core's 1024).
    pub fn frame_samples(&self) -> u32 {
        1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lc_stereo_44k_and_writes_adts() {
        // AAC-LC, 44.1 kHz (index 4), 2 channels: 00010 0100 0010 000
        let c = AacConfig::parse(&Bytes::from_static(&[0x12, 0x10])).expect("valid");
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 44_100, 2));
        let h = c.adts_header(100);
        assert_eq!(&h[..2], &[0xFF, 0xF1]);
        // Frame length 107 spread over bytes 3..6.
        let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        assert_eq!(len, 107);
    }

    #[test]
    fn refuses_garbage() {
        assert!(AacConfig::parse(&Bytes::from_static(&[0x12])).is_err());
        assert!(AacConfig::parse(&Bytes::from_static(&[0x00, 0x00])).is_err());
        // Reserved frequency index 13.
        assert!(AacConfig::parse(&Bytes::from_static(&[0x16, 0x90])).is_err());
    }
}

/// One ADTS frame at the start of `data`: its AudioSpecificConfig (AAC-LC family, from
/// the header), the header's length and the whole frame's length. `None` if `data` does
/// not start with a whole ADTS frame.
pub fn adts_frame(data: &[u8]) -> Option<(Bytes, usize, usize)> {
    if data.len() < 7 || data[0] != 0xFF || data[1] & 0xF6 != 0xF0 {
        return None;
    }
    let header = if data[1] & 1 == 0 { 9 } else { 7 };
    let len =
        (usize::from(data[3] & 3) << 11) | (usize::from(data[4]) << 3) | usize::from(data[5] >> 5);
    if len <= header || len > data.len() {
        return None;
    }
    let object_type = (data[2] >> 6) + 1;
    let freq = (data[2] >> 2) & 0x0F;
    let ch = ((data[2] & 1) << 2) | (data[3] >> 6);
    let asc = Bytes::from(vec![
        (object_type << 3) | (freq >> 1),
        ((freq & 1) << 7) | (ch << 3),
    ]);
    Some((asc, header, len))
}

#[cfg(test)]
mod adts_tests {
    use super::*;

    #[test]
    fn an_adts_header_round_trips_to_its_config() {
        let cfg = AacConfig::parse(&Bytes::from_static(&[0x12, 0x10])).expect("44.1 kHz stereo LC");
        let mut frame = cfg.adts_header(3).to_vec();
        frame.extend_from_slice(&[1, 2, 3]);
        let (asc, header, len) = adts_frame(&frame).expect("a frame");
        assert_eq!((&asc[..], header, len), (&[0x12u8, 0x10][..], 7, 10));
        assert!(adts_frame(&frame[..9]).is_none());
        assert!(adts_frame(&[0, 1, 2, 3, 4, 5, 6]).is_none());
    }
}
