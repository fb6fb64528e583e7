//! The master playlist of a VOD ladder, written from what the transcoder measured.

use std::fmt::Write;

use tidecast_engine::transcode::VodReport;

/// `index.m3u8` over the rungs of `report`, highest first (players start at the first).
pub fn playlist(report: &VodReport) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let mut rungs: Vec<_> = report.renditions.iter().collect();
    rungs.sort_by_key(|r| std::cmp::Reverse(r.average_bps));
    for r in rungs {
        let _ = writeln!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\"\n{}/index.m3u8",
            r.peak_bps, r.average_bps, r.width, r.height, r.codecs, r.name
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidecast_engine::transcode::VodRendition;

    #[test]
    fn highest_rung_first_with_its_measures() {
        let rung = |name: &str, height, bps| VodRendition {
            name: name.into(),
            width: height * 16 / 9,
            height,
            peak_bps: bps * 3 / 2,
            average_bps: bps,
            codecs: "avc1.64001f,mp4a.40.2".into(),
        };
        let text = playlist(&VodReport {
            renditions: vec![rung("360p", 360, 800_000), rung("720p", 720, 3_000_000)],
            duration_s: 10.0,
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[3],
            "#EXT-X-STREAM-INF:BANDWIDTH=4500000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\""
        );
        assert_eq!(lines[4], "720p/index.m3u8");
        assert_eq!(lines[6], "360p/index.m3u8");
    }
}
