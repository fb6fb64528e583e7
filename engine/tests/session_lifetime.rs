//! The engine ends a source when its grant's lifetime runs out (a DJ's scheduled slot),
//! and listeners stay connected to the mount. The admission here is a fixed answer: what is
//! under test is the engine's enforcement; the database's answer (slot arithmetic, DJ
//! credentials) is tested in `control`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidecast_engine::admission::BoxFuture;
use tidecast_engine::{
    Admission, Decision, Engine, Grant, Limits, PlayRequest, PublishRequest, ServiceId,
};
use tokio_util::sync::CancellationToken;

struct SlotOfOneSecond;

impl Admission for SlotOfOneSecond {
    fn admit_publish<'a>(&'a self, _req: &'a PublishRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async {
            Decision::Allow(Grant {
                service_id: ServiceId(1),
                mount: "show".into(),
                limits: Limits {
                    max_listeners: 10,
                    max_bitrate_kbps: 320,
                    ..Limits::default()
                },
                priority: 60,
                label: "DJ night".into(),
                lifetime: Some(Duration::from_secs(1)),
                fallback: None,
                hls: Default::default(),
                transcode: None,
                dvr: None,
                record_set: false,
            })
        })
    }

    fn admit_play<'a>(&'a self, _req: &'a PlayRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async { Decision::deny(tidecast_engine::DenyReason::NotFound, "unused") })
    }

    fn is_admin<'a>(&'a self, _username: &'a str, _password: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ends_with_its_slot() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let engine = Engine::new(Arc::new(SlotOfOneSecond));
    let shutdown = CancellationToken::new();
    tokio::spawn(tidecast_engine::icecast::serve(
        listener,
        engine.icecast_port(),
        tidecast_engine::conn_cap::ConnCap::unlimited(),
        shutdown.clone(),
    ));

    let ended = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"PUT /show HTTP/1.1\r\nAuthorization: Basic bmlnaHQ6cHc=\r\nContent-Type: audio/mpeg\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 256];
        let mut answered = Vec::new();
        // Keep sending audio; the server must close the connection when the slot ends.
        while started.elapsed() < Duration::from_secs(10) {
            if s.write_all(&[0xff; 512]).is_err() {
                break;
            }
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answered.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (started.elapsed(), String::from_utf8_lossy(&answered).into_owned())
    })
    .await
    .unwrap();
    let (after, answer) = ended;
    assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_secs(5),
        "closed after {after:?}"
    );
    assert!(
        engine.mounts().get("show").is_none(),
        "the mount outlived its only source"
    );
    shutdown.cancel();
}
