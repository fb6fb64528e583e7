//! Publish target addresses as customers write them, and the presets for the big platforms.
//!
//! - `icecast://user:password@host:port/mount` (user `source` when left out, port 8000)
//! - `shoutcast://:password@host:port` (Shoutcast v1; the source connects to port + 1),
//!   `shoutcast://:password@host:port/2` (Shoutcast 2 DNAS, stream id 2)
//! - `rtmp://host[:port]/app` or `rtmps://…` with the stream key apart; a URL pasted with
//!   the key as its last path segment (`rtmp://host/live/KEY`) works too.

use super::{Error, Result};

/// A platform's ingest URL, offered as an editable default.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Preset {
    pub name: &'static str,
    pub label: &'static str,
    pub url: &'static str,
}

/// The platforms' primary ingest servers (each publishes its own list; these take any
/// region). Facebook accepts RTMPS only.
pub const PRESETS: [Preset; 3] = [
    Preset {
        name: "youtube",
        label: "YouTube Live",
        url: "rtmps://a.rtmps.youtube.com:443/live2",
    },
    Preset {
        name: "twitch",
        label: "Twitch",
        url: "rtmp://live.twitch.tv/app",
    },
    Preset {
        name: "facebook",
        label: "Facebook Live",
        url: "rtmps://live-api-s.facebook.com:443/rtmp",
    },
];

/// Where a target sends, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    /// Icecast: the mount (`/live.mp3`); Shoutcast: `/` or `/<sid>`; RTMP: the app (`/live2`).
    pub mount: String,
    pub user: String,
    /// The Icecast/Shoutcast password or the RTMP stream key.
    pub secret: String,
    pub tls: bool,
}

fn bad(why: &str) -> Error {
    Error::invalid(format!("url: {why}"))
}

fn parse_url(url: &str) -> Result<url::Url> {
    if url.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let u = url::Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("no query or fragment"));
    }
    Ok(u)
}

fn host(u: &url::Url) -> Result<String> {
    u.host_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| bad("no host"))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn password(u: &url::Url, example: &str) -> Result<String> {
    u.password()
        .map(percent_decode)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad(&format!("no password ({example})")))
}

pub fn icecast(url: &str) -> Result<Address> {
    let u = parse_url(url)?;
    if u.scheme() != "icecast" {
        return Err(bad("must be icecast://user:password@host:port/mount"));
    }
    let secret = password(&u, "icecast://source:PASSWORD@host:port/mount")?;
    let user = match percent_decode(u.username()) {
        s if s.is_empty() => "source".to_owned(),
        s => s,
    };
    let mount = u.path().to_owned();
    if mount.len() < 2 || mount.len() > 200 || mount.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("the mount must be a path like /live.mp3"));
    }
    Ok(Address {
        host: host(&u)?,
        port: u.port().unwrap_or(8000),
        mount,
        user,
        secret,
        tls: false,
    })
}

pub fn shoutcast(url: &str) -> Result<Address> {
    let u = parse_url(url)?;
    if u.scheme() != "shoutcast" {
        return Err(bad(
            "must be shoutcast://:password@host:port (v1) or shoutcast://:password@host:port/<stream id> (v2)",
        ));
    }
    let secret = password(&u, "shoutcast://:PASSWORD@host:port")?;
    let port = u.port().unwrap_or(8000);
    if port == u16::MAX {
        return Err(bad(
            "the source connects to port + 1: the port must be below 65535",
        ));
    }
    let sid = u.path().trim_matches('/');
    if !sid.is_empty() && !sid.parse::<u16>().is_ok_and(|n| n >= 1) {
        return Err(bad("the path is a Shoutcast 2 stream id: a number from 1"));
    }
    Ok(Address {
        host: host(&u)?,
        port,
        mount: format!("/{sid}"),
        user: String::new(),
        secret,
        tls: false,
    })
}

/// `key` apart, or the URL's last path segment when `key` is left out.
pub fn rtmp(url: &str, key: Option<&str>) -> Result<Address> {
    let u = parse_url(url)?;
    let tls = match u.scheme() {
        "rtmp" => false,
        "rtmps" => true,
        _ => return Err(bad("must be rtmp://host/app or rtmps://host/app")),
    };
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "no user or password in an RTMP URL: the stream key goes in \"key\"",
        ));
    }
    let path = u.path().trim_matches('/').to_owned();
    let (app, key) = match key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => (path, k.to_owned()),
        None => match path.rsplit_once('/') {
            Some((app, k)) if !app.is_empty() && !k.is_empty() => {
                (app.to_owned(), percent_decode(k))
            }
            _ => {
                return Err(Error::invalid(
                    "key: the stream key is missing (give \"key\", or the URL as rtmp://host/app/KEY)",
                ));
            }
        },
    };
    if app.is_empty() || app.len() > 200 || app.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("the application path is missing (rtmp://host/app)"));
    }
    if key.len() > 500 || key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "key: at most 500 characters, no control characters",
        ));
    }
    Ok(Address {
        host: host(&u)?,
        port: u.port().unwrap_or(if tls { 443 } else { 1935 }),
        mount: format!("/{app}"),
        user: String::new(),
        secret: key,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icecast_urls() {
        let p = icecast("icecast://source:p%40ss@radio.example:8010/live.mp3").expect("parse");
        assert_eq!(
            (
                p.host.as_str(),
                p.port,
                p.mount.as_str(),
                p.user.as_str(),
                p.secret.as_str()
            ),
            ("radio.example", 8010, "/live.mp3", "source", "p@ss")
        );
        let p = icecast("icecast://:secret@radio.example/live").expect("parse");
        assert_eq!((p.user.as_str(), p.port), ("source", 8000));
        for bad in [
            "http://source:x@radio.example/live",
            "icecast://source@radio.example/live",
            "icecast://source:x@radio.example/",
            "icecast://source:x@radio.example/live?x=1",
            "not a url",
        ] {
            assert!(icecast(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shoutcast_urls() {
        let p = shoutcast("shoutcast://:hack%20me@sc.example:8000").expect("v1");
        assert_eq!(
            (p.port, p.mount.as_str(), p.secret.as_str()),
            (8000, "/", "hack me")
        );
        let p = shoutcast("shoutcast://:pw@sc.example:9000/2").expect("v2");
        assert_eq!(p.mount, "/2");
        for bad in [
            "shoutcast://sc.example:8000",
            "shoutcast://:pw@sc.example:8000/zero",
            "shoutcast://:pw@sc.example:65535",
        ] {
            assert!(shoutcast(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rtmp_urls_and_keys() {
        let p = rtmp("rtmp://live.twitch.tv/app", Some("live_123_abc")).expect("key apart");
        assert_eq!(
            (p.port, p.mount.as_str(), p.secret.as_str(), p.tls),
            (1935, "/app", "live_123_abc", false)
        );
        let p = rtmp("rtmps://a.rtmps.youtube.com/live2/abcd-1234", None).expect("key in URL");
        assert_eq!(
            (p.port, p.mount.as_str(), p.secret.as_str(), p.tls),
            (443, "/live2", "abcd-1234", true)
        );
        let p = rtmp("rtmp://127.0.0.1:1936/live/nested/app", Some("k")).expect("nested app");
        assert_eq!(p.mount, "/live/nested/app");
        for (url, key) in [
            ("rtmp://host/app", None),
            ("rtmp://host/", Some("k")),
            ("http://host/app", Some("k")),
            ("rtmp://user:pw@host/app", Some("k")),
            ("rtmp://host/app", Some("a\nb")),
        ] {
            assert!(rtmp(url, key).is_err(), "{url} {key:?}");
        }
        for p in PRESETS {
            assert!(rtmp(p.url, Some("key")).is_ok(), "{}", p.name);
        }
    }
}
