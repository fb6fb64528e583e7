//! Why a relay URL is refused, and why a relay's pull failed or ended. Their `Display` is
//! what the API answers ("url: …") and what a relay's status shows as its last error
//! (never credentials or a stream name).

use std::time::Duration;

use crate::dial::DialError;
use crate::hls::live::AlreadyLive;
use crate::ingest::publisher::StreamError;
use crate::rtmp::client::ClientError;
use crate::transcode::TranscodeError;

use super::http::HttpError;

/// Why a relay URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL")]
    NotUrl,
    /// What FFmpeg (and others) would read differently, so the host checked might not be
    /// the host connected to.
    #[error("the address is ambiguous (?, # or \\ before the path, two @, or text after [host])")]
    Ambiguous,
    #[error("an unclosed [ in the host")]
    UnclosedBracket,
    #[error("no host")]
    NoHost,
    #[error("{0:?} is not a host name or an address (an IPv6 address goes in [brackets])")]
    BadHost(String),
    #[error("{0:?} is not a port")]
    BadPort(String),
    #[error("spaces or control characters in the URL")]
    Spaces,
    #[error("spaces or control characters in a URI")]
    SpacesInUri,
    #[error("at most 2000 characters")]
    TooLong,
    #[error("no user or password in an RTMP URL")]
    RtmpCredentials,
    #[error("an RTMP URL names the application and the stream: rtmp://host/app/stream")]
    RtmpPath,
    #[error("not an http:// or https:// URL")]
    NotHttp,
    #[error(
        "{0}:// is not a relay source: rtmp://, rtsp://, http(s)://….m3u8 or an http(s):// Icecast/Shoutcast stream"
    )]
    Scheme(String),
}

/// Why a relay's pull failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error(transparent)]
    Rtmp(#[from] ClientError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Url(#[from] UrlError),
    /// Admission refused it (the control plane's words: a plan without relays, a
    /// suspension).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    #[error(transparent)]
    Taken(#[from] AlreadyLive),
    #[error("the source sent media we cannot use: {0}")]
    BadMedia(#[source] StreamError),
    #[error("dropped by the control plane")]
    Dropped,
    #[error("no media within {} s", .0.as_secs())]
    NoFirstMedia(Duration),
    #[error("no media for {} s", .0.as_secs())]
    NoMedia(Duration),
    #[error("no media for {} s (is the remote stream live?)", .0.as_secs())]
    RemoteSilent(Duration),
    #[error("the source ended")]
    Ended,
    #[error("the relay's reader stopped: {0}")]
    Reader(#[source] tokio::task::JoinError),
    /// A pull of the other kind was asked of this source (the caller picks by kind).
    #[error("not a {0} source")]
    WrongKind(&'static str),

    // RTSP: FFmpeg reads the camera through a loopback proxy.
    #[error("this server runs without FFmpeg: RTSP relays need it")]
    NoFfmpeg,
    #[error(transparent)]
    Transcode(#[from] TranscodeError),
    #[error("cannot open a local port for the camera: {0}")]
    ProxyPort(#[source] std::io::Error),
    #[error("the RTSP reader did not connect")]
    ReaderAbsent,
    #[error("the RTSP reader did not connect: {0}")]
    ReaderConnect(#[source] std::io::Error),
    #[error("a connection from outside reached the camera proxy")]
    Outsider,
    #[error("the camera connection was lost: {0}")]
    CameraLost(#[source] std::io::Error),
    #[error(
        "the camera redirects to another address; relays do not follow RTSP redirects (give its final address)"
    )]
    Redirected,
    #[error("the RTSP reader stopped: {0}")]
    ReaderStopped(#[source] std::io::Error),
    #[error("the RTSP reader stopped: {0}")]
    ReaderTask(#[source] tokio::task::JoinError),
    #[error("the camera closed the connection")]
    CameraClosed,

    // HLS.
    #[error("the URL is not an HLS playlist (no #EXTM3U)")]
    NotPlaylist,
    #[error("the HLS source is fMP4 (CMAF); relays take MPEG-TS HLS")]
    Fmp4,
    #[error("the HLS source ended (#EXT-X-ENDLIST)")]
    PlaylistEnded,
    #[error("no new segment for {} s", .0.as_secs())]
    NoNewSegment(Duration),
    /// The MPEG-TS reader's words.
    #[error("a segment is not valid MPEG-TS: {0}")]
    BadSegment(String),

    // Icecast and Shoutcast.
    #[error("{url} sends {content_type:?}, not a stream a radio mount takes (MP3, AAC, Ogg, WebM)")]
    NotRadio { url: String, content_type: String },
    #[error("the remote sends its stream chunked, which relays do not take")]
    Chunked,
    /// The mount's refusal, as a pushed source would read it.
    #[error("the mount refused the relay: {0}")]
    MountRefused(String),
    #[error("{0} stopped sending")]
    StoppedSending(String),
}
