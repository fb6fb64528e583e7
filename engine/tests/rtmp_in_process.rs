//! An RTMP publisher against the engine in this process: rml_rtmp's client session pushes
//! FLV tags (AVC and AAC sequence headers, pictures with an IDR every second, AAC frames)
//! faster than real time; the stream's HLS window lists segments cut at the 2 s target, the
//! last one when the publisher leaves, then ends. The on-air changes and an HLS viewer's
//! session reach the control plane's [`Events`](tidecast_engine::events::Events).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::media::{self as fx, AAC_ASC, AAC_SILENT, FRAME_TICKS};
use common::{LABEL, Running, SERVICE, STREAM, STREAM_KEY, eventually};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tidecast_engine::SessionRole;
use tidecast_engine::hls::viewers::ViewerKey;
use tidecast_engine::media::flv::build;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// An accepted publisher: the connection and its session.
struct Publishing {
    sock: TcpStream,
    session: ClientSession,
}

/// Writes the session's outbound packets; returns the events it raised.
async fn send(sock: &mut TcpStream, results: Vec<ClientSessionResult>) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => sock.write_all(&p.bytes).await.unwrap(),
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

/// Handshake, `connect` to `live`, `publish` `key`. `Err` when the server refuses (it says
/// why in a status message, then closes the connection).
async fn publish(addr: SocketAddr, key: &str) -> Result<Publishing, String> {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut hs = Handshake::new(PeerType::Client);
    sock.write_all(&hs.generate_outbound_p0_and_p1().unwrap())
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let leftover = loop {
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        match hs.process_bytes(&buf[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                sock.write_all(&response_bytes).await.unwrap();
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                sock.write_all(&response_bytes).await.unwrap();
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    send(&mut sock, initial).await;
    let mut events = send(&mut sock, session.handle_input(&leftover).unwrap()).await;
    let connect = session.request_connection("live".to_owned()).unwrap();
    events.extend(send(&mut sock, vec![connect]).await);
    loop {
        for e in events.drain(..) {
            match e {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let r = session
                        .request_publishing(key.to_owned(), PublishRequestType::Live)
                        .unwrap();
                    send(&mut sock, vec![r]).await;
                }
                ClientSessionEvent::PublishRequestAccepted => {
                    return Ok(Publishing { sock, session });
                }
                ClientSessionEvent::ConnectionRequestRejected { description } => {
                    return Err(description);
                }
                _ => {}
            }
        }
        let n = tokio::time::timeout(WAIT, sock.read(&mut buf))
            .await
            .expect("the server answers")
            .unwrap_or(0);
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        events = send(&mut sock, session.handle_input(&buf[..n]).unwrap()).await;
    }
}

impl Publishing {
    async fn tag(&mut self, video: bool, ms: i64, body: Bytes) {
        let ts = RtmpTimestamp::new(u32::try_from(ms).unwrap());
        let r = if video {
            self.session.publish_video_data(body, ts, false)
        } else {
            self.session.publish_audio_data(body, ts, false)
        }
        .unwrap();
        send(&mut self.sock, vec![r]).await;
    }
}

/// The segment URIs of a media playlist and their `#EXTINF` durations.
fn segments(playlist: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut duration = None;
    for line in playlist.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next().and_then(|d| d.parse().ok());
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((line.to_owned(), duration.take().expect("an EXTINF")));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtmp_push_becomes_a_live_hls_window() {
    let srv = Running::start().await;

    // An unknown stream key: refused, nothing goes on air.
    assert!(publish(srv.rtmp, "not-a-key").await.is_err());
    assert!(srv.engine.hls().get(STREAM).is_none());

    let mut p = publish(srv.rtmp, STREAM_KEY).await.unwrap();
    p.tag(true, 0, build::avc_header(&fx::avc_record())).await;
    p.tag(false, 0, build::aac_header(AAC_ASC)).await;
    // 7 s: an IDR every second (25 pictures), AAC every 1024 samples, interleaved by time
    // in RTMP's whole milliseconds.
    let pictures = fx::pictures(0, 175, 25);
    let mut audio = (0..).map(|i: i64| i * 1024 * 1000 / 48_000).peekable();
    for pic in &pictures {
        let ms = pic.dts / 90;
        while let Some(a) = audio.next_if(|&a| a < ms) {
            p.tag(false, a, build::aac_frame(AAC_SILENT)).await;
        }
        let cts = i32::try_from((pic.pts - pic.dts) / 90).unwrap();
        p.tag(true, ms, build::avc_picture(pic.key, cts, &pic.avcc))
            .await;
    }
    assert_eq!(pictures.len() as i64 * FRAME_TICKS / 90, 7_000);

    // Segments end at the IDR at least 2 s after their start: 2, 4 and 6 s. The last
    // second stays open while the publisher is on.
    let stream = eventually("the stream is published", WAIT, || async {
        srv.engine.hls().get(STREAM)
    })
    .await;
    let playlist = eventually("a playlist of three segments", WAIT, || async {
        let text = String::from_utf8(stream.playlist().to_vec()).unwrap();
        (segments(&text).len() >= 3).then_some(text)
    })
    .await;
    let listed = segments(&playlist);
    let durations: Vec<f64> = listed.iter().map(|s| s.1).collect();
    assert_eq!(durations, [2.0, 2.0, 2.0], "{playlist}");
    assert!(playlist.contains("#EXT-X-TARGETDURATION:2\n"), "{playlist}");
    assert!(!playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    for (uri, _) in &listed {
        let ts = stream
            .segment_by_name(uri)
            .expect("a listed segment is served");
        assert_eq!(ts.len() % 188, 0, "{uri}");
        // PAT first: each segment decodes on its own.
        assert_eq!(ts[..3], [0x47, 0x40, 0x00], "{uri}");
    }
    assert_eq!(srv.events.on_air(STREAM), [Some(LABEL.to_owned())]);
    let sources = || srv.engine.registry().count(SERVICE, SessionRole::Source);
    assert_eq!(sources(), 1);

    // A player reads the playlist and a segment, as control's HLS handler counts them.
    let viewer = ViewerKey {
        ip: [127, 0, 0, 1].into(),
        user_agent: Some("test player".to_owned()),
        token: None,
    };
    let first = stream.segment_by_name(&listed[0].0).unwrap();
    stream
        .viewers
        .playlist(viewer.clone(), playlist.len() as u64, 10)
        .unwrap();
    stream
        .viewers
        .segment(viewer.ip, viewer.user_agent.as_deref(), first.len() as u64);
    assert_eq!(stream.viewers.count(), 1);
    let open: Vec<_> = srv
        .engine
        .open_sessions()
        .into_iter()
        .map(|o| o.mount)
        .collect();
    assert_eq!(open, [STREAM]);

    // The publisher leaves: the open second is listed, and after the grace period (1 s
    // here) the playlist ends.
    drop(p);
    let ended = eventually("the playlist ends", WAIT, || async {
        let text = String::from_utf8(stream.playlist().to_vec()).unwrap();
        text.contains("#EXT-X-ENDLIST").then_some(text)
    })
    .await;
    let durations: Vec<f64> = segments(&ended).iter().map(|s| s.1).collect();
    assert_eq!(durations, [2.0, 2.0, 2.0, 1.0], "{ended}");
    assert_eq!(srv.events.on_air(STREAM), [Some(LABEL.to_owned()), None]);
    eventually("the publisher's session is closed", WAIT, || async {
        (sources() == 0).then_some(())
    })
    .await;

    // The viewer's session ends with the server (or after two target durations without a
    // request), with the bytes it was sent.
    let events = srv.stop().await;
    let sessions = events.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(
        (
            s.service_id,
            s.mount.as_str(),
            s.user_agent.as_deref(),
            s.bytes
        ),
        (
            SERVICE,
            STREAM,
            Some("test player"),
            (playlist.len() + first.len()) as u64
        )
    );
}

/// A publisher whose video sequence header has an empty parameter set (the inputs that made
/// h264-reader panic, `fuzz/regressions/flv_tags/`) is dropped: its connection is closed and
/// its stream goes off air and its key is free again; then a good publisher goes on air and
/// its HLS window fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_sequence_header_drops_only_its_publisher() {
    let srv = Running::start().await;
    let sources = || srv.engine.registry().count(SERVICE, SessionRole::Source);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/flv_tags");
    for name in ["empty-pps-avcc.bin", "empty-sps-refnal.bin"] {
        let body = std::fs::read(dir.join(name)).unwrap();
        let mut bad = publish(srv.rtmp, STREAM_KEY).await.unwrap();
        bad.tag(true, 0, Bytes::from(body)).await;
        let mut buf = vec![0u8; 4096];
        let closed = tokio::time::timeout(WAIT, async {
            while matches!(bad.sock.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
        assert!(
            closed.is_ok(),
            "{name}: the server kept the connection open"
        );
        eventually(
            &format!("{name}: the publisher's session ends"),
            WAIT,
            || async { (sources() == 0).then_some(()) },
        )
        .await;
    }

    let mut good = publish(srv.rtmp, STREAM_KEY).await.unwrap();
    good.tag(true, 0, build::avc_header(&fx::avc_record()))
        .await;
    for pic in fx::pictures(0, 75, 25) {
        let cts = i32::try_from((pic.pts - pic.dts) / 90).unwrap();
        good.tag(
            true,
            pic.dts / 90,
            build::avc_picture(pic.key, cts, &pic.avcc),
        )
        .await;
    }
    let stream = eventually("the good publisher is on air", WAIT, || async {
        srv.engine.hls().get(STREAM)
    })
    .await;
    eventually("its playlist lists a segment", WAIT, || async {
        let text = String::from_utf8(stream.playlist().to_vec()).unwrap();
        (!segments(&text).is_empty()).then_some(())
    })
    .await;
    assert_eq!(sources(), 1);
    // Each dropped publisher went off air the way a leaving one does (a panic in the
    // connection's task left its stream on air for the control plane).
    let label = Some(LABEL.to_owned());
    assert_eq!(
        srv.events.on_air(STREAM),
        [label.clone(), None, label.clone(), None, label]
    );
    drop(good);
    srv.stop().await;
}

/// A publisher that sends an AMF0 command of fewer than three values (rml_rtmp panics on
/// it; found by fuzz/rtmp_session) is dropped and goes off air as a leaving one does; the
/// next publisher goes on air.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_amf0_command_drops_only_its_publisher() {
    let srv = Running::start().await;
    let sources = || srv.engine.registry().count(SERVICE, SessionRole::Source);
    let mut bad = publish(srv.rtmp, STREAM_KEY).await.unwrap();
    bad.tag(true, 0, build::avc_header(&fx::avc_record())).await;
    // A whole chunk (format 0, chunk stream 3): an AMF0 command message (type 20) on
    // stream 0 whose body is one AMF0 string, "x".
    let chunk = [3, 0, 0, 0, 0, 0, 4, 20, 0, 0, 0, 0, 2, 0, 1, b'x'];
    bad.sock.write_all(&chunk).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(WAIT, async {
        while matches!(bad.sock.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    eventually("the publisher's session ends", WAIT, || async {
        (sources() == 0).then_some(())
    })
    .await;
    let label = Some(LABEL.to_owned());
    eventually("the stream goes off air", WAIT, || async {
        (srv.events.on_air(STREAM) == [label.clone(), None]).then_some(())
    })
    .await;

    let mut good = publish(srv.rtmp, STREAM_KEY).await.unwrap();
    good.tag(true, 0, build::avc_header(&fx::avc_record()))
        .await;
    eventually("the next publisher is on air", WAIT, || async {
        (sources() == 1).then_some(())
    })
    .await;
    drop(good);
    srv.stop().await;
}
