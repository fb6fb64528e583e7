//! An HLS relay: the playlist (a master playlist's highest variant) is reloaded every half
//! target duration and each new MPEG-TS segment fetched and turned into tags, starting three
//! segments from the live edge.
//!
//! The playlist is read by hand rather than with hls_m3u8: that crate refuses playlists
//! real servers publish (segments over the target duration, attributes it does not know),
//! and a relay must take what is out there; it needs five tags.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::http::{HttpUrl, fetch};
use super::ts::TsToTags;
use super::{Pulled, RelayError};
use crate::dial::Dialer;

const MAX_PLAYLIST: usize = 1 << 20;
const MAX_SEGMENT: usize = 64 << 20;

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Media {
    pub(crate) target: f64,
    sequence: u64,
    pub(crate) segments: Vec<String>,
    ended: bool,
    fmp4: bool,
}

/// The variant with the highest `BANDWIDTH` of a master playlist (`None`: a media playlist).
pub(crate) fn best_variant(text: &str) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            let bw = attrs
                .split(',')
                .find_map(|a| a.trim().strip_prefix("BANDWIDTH="))
                .and_then(|b| b.parse().ok())
                .unwrap_or(0);
            if let Some(uri) = lines
                .by_ref()
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                && best.as_ref().is_none_or(|(b, _)| bw > *b)
            {
                best = Some((bw, uri.to_owned()));
            }
        }
    }
    best.map(|(_, uri)| uri)
}

pub(crate) fn media(text: &str) -> Result<Media, RelayError> {
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err(RelayError::NotPlaylist);
    }
    let mut m = Media {
        target: 6.0,
        ..Media::default()
    };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            m.target = v
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0)
                .unwrap_or(6.0);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            m.sequence = v.parse().unwrap_or(0);
        } else if line.starts_with("#EXT-X-ENDLIST") {
            m.ended = true;
        } else if line.starts_with("#EXT-X-MAP") {
            m.fmp4 = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            m.segments.push(line.to_owned());
        }
    }
    Ok(m)
}

pub async fn run(
    dialer: &dyn Dialer,
    url: &HttpUrl,
    tx: mpsc::Sender<Pulled>,
) -> Result<(), RelayError> {
    let text = fetch(dialer, url, MAX_PLAYLIST).await?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let (url, mut text) = match best_variant(&text) {
        Some(uri) => {
            let u = url.join(&uri)?;
            let t = fetch(dialer, &u, MAX_PLAYLIST).await?;
            (u, String::from_utf8_lossy(&t).into_owned())
        }
        None => (url.clone(), text),
    };
    let mut demux = TsToTags::default();
    let mut next: Option<u64> = None;
    let mut last_new = Instant::now();
    let mut announced = false;
    loop {
        let m = media(&text)?;
        if m.fmp4 {
            return Err(RelayError::Fmp4);
        }
        let start = next.unwrap_or_else(|| {
            m.sequence
                .saturating_add(m.segments.len().saturating_sub(3) as u64)
        });
        for (i, uri) in m.segments.iter().enumerate() {
            let seq = m.sequence.saturating_add(i as u64);
            if seq < start {
                continue;
            }
            let seg_url = url.join(uri)?;
            let data = fetch(dialer, &seg_url, MAX_SEGMENT).await?;
            if !announced {
                // The first segment's server stands for the source in session lists.
                announced = true;
                let addr = dialer
                    .resolve(&seg_url.host, seg_url.port)
                    .await?
                    .first()
                    .copied()
                    .ok_or(crate::dial::DialError::NoAddress)?;
                if tx.send(Pulled::Connected(addr)).await.is_err() {
                    return Ok(());
                }
            }
            for tag in demux.segment(&data)? {
                if tx.send(Pulled::Tag(tag)).await.is_err() {
                    return Ok(());
                }
            }
            next = Some(seq.saturating_add(1));
            last_new = Instant::now();
        }
        let end = m.sequence.saturating_add(m.segments.len() as u64);
        if m.ended && next.unwrap_or(end) >= end {
            return Err(RelayError::PlaylistEnded);
        }
        // A sequence that went backwards (the origin restarted): start again at the edge.
        if next.is_some_and(|n| n > end.saturating_add(10)) {
            next = None;
        }
        let stall = Duration::from_secs_f64(m.target.clamp(1.0, 30.0) * 3.0 + 10.0);
        if last_new.elapsed() > stall {
            return Err(RelayError::NoNewSegment(stall));
        }
        tokio::time::sleep(Duration::from_secs_f64((m.target / 2.0).clamp(0.5, 5.0))).await;
        let t = fetch(dialer, &url, MAX_PLAYLIST).await?;
        text = String::from_utf8_lossy(&t).into_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_read_leniently() {
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow/index.m3u8\n\
                      #EXT-X-STREAM-INF:BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\"\nhigh/index.m3u8\n";
        assert_eq!(best_variant(master).as_deref(), Some("high/index.m3u8"));
        let m = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:2.5,\na.ts\n#EXTINF:2.0,\nb.ts\n")
            .expect("media");
        assert_eq!(
            (m.target, m.sequence, m.segments.len(), m.ended),
            (2.0, 41, 2, false)
        );
        assert_eq!(best_variant("#EXTM3U\n#EXTINF:2,\na.ts\n"), None);
        assert!(media("<html>").is_err());
        let odd = media("#EXTM3U\n#EXT-X-TARGETDURATION:NaN\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\na.ts\n")
            .expect("odd");
        assert_eq!(odd.target, 6.0);
        assert!(
            media("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n")
                .expect("fmp4")
                .fmp4
        );
    }
}
