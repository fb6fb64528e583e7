//! The web UI and the HTML5 audio and video players, built from `web/` by `build.rs`
//! (npm packages bundled by esbuild) and embedded here, so the binary serves them with no
//! network at run time. `control` serves them under `/assets/<VERSION>/<name>`.

/// One built file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped at build time (browsers that take gzip get these).
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets/assets.rs"));

/// The built file called `name` (`ui.js`, `player.css`, `hls.js`…).
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundle_is_built() {
        for name in ["ui.js", "ui.css", "player.js", "player.css", "hls.js"] {
            let a = asset(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(a.body.len() > 100, "{name} is empty");
            assert!(a.gzip.len() < a.body.len(), "{name} did not compress");
        }
        assert_eq!(VERSION.len(), 12);
    }
}
