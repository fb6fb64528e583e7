//! Webhooks through the real binary: a receiver on loopback (allowed with `--relay-allow`)
//! gets signed `source_up`, `track_change`, `source_down` and `listener_limit` events from a
//! real ffmpeg source and listeners; a 500 is retried with back-off; a receiver that never
//! answers times out; internal addresses, bad URLs and bad events are refused.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::hmac;
use tidecast_tests::icecast::*;
use tidecast_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
struct Hit {
    headers: BTreeMap<String, String>,
    body: Value,
    raw: Vec<u8>,
}

/// A minimal HTTP receiver: records each POST; answers 500 to the first `fail_first`
/// requests, and never answers at all when `hang`.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn receiver(fail_first: usize, hang: bool) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let sink = Arc::clone(&hits);
    tokio::spawn(async move {
        let mut served = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            served += 1;
            let fail = served <= fail_first;
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                    .collect();
                let raw = buf[head_end..head_end + len].to_vec();
                sink.lock().unwrap().push(Hit {
                    headers,
                    body: serde_json::from_slice(&raw).unwrap(),
                    raw,
                });
                if hang {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let status = if fail {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    Receiver { url, hits }
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    async fn wait_for(&self, event: &str, n: usize, within: Duration) -> Vec<Hit> {
        let wait = wait::within(within).every(Duration::from_millis(100));
        eventually(wait, format!("{n} {event} webhooks"), async || {
            let got: Vec<Hit> = self
                .hits()
                .into_iter()
                .filter(|h| h.body["event"] == event)
                .collect();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{:?}", self.hits()))
            }
        })
        .await
    }
}

/// The signature header checked the way a receiver would: HMAC-SHA256 of "t.body".
fn assert_signed(hit: &Hit, secret: &str) {
    let sig = &hit.headers["x-tidecast-signature"];
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(&hit.raw);
    let tag: String = hmac::sign(&key, &msg)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, tag, "signature of {}", hit.body);
    assert_eq!(
        hit.headers["x-tidecast-event"],
        hit.body["event"].as_str().unwrap()
    );
    assert_eq!(hit.headers["content-type"], "application/json");
}

const SECRET: &str = "a-long-shared-secret-1234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_checked() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, pw) = radio(&srv, "HookFM", json!({"max_listeners": 1})).await;
    let owner = srv.login("HookFM-owner", "HookFM-owner-password").await;
    let path = format!("/api/v1/services/{id}/webhook");

    // None yet; bad input: nothing is stored.
    assert_eq!(srv.get(&path, &owner).await, (StatusCode::OK, Value::Null));
    for (body, says) in [
        (json!({"url": "http://10.1.2.3/hook"}), "a private address"),
        (
            json!({"url": "http://[fd00::1]/hook"}),
            "a unique local address",
        ),
        (json!({"url": "ftp://127.0.0.1/hook"}), "https://"),
        (json!({"url": "not a url"}), "not a URL"),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["source_up", "sunrise"]}),
            "\"sunrise\" is not one of",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "secret": "short"}),
            "16 to 200",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": []}),
            "at least one",
        ),
    ] {
        let (status, err) = srv.put(&path, &owner, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    assert_eq!(srv.get(&path, &owner).await, (StatusCode::OK, Value::Null));

    // A receiver that fails its first request (the test event), then answers.
    let rx = receiver(1, false).await;
    let (status, hook) = srv
        .put(&path, &owner, json!({"url": rx.url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    assert_eq!(
        hook["events"],
        json!(["source_up", "source_down", "track_change", "listener_limit"])
    );
    let (_, test) = srv
        .call("POST", &format!("{path}/test"), Some(&owner), None)
        .await;
    assert_eq!(
        test,
        json!({"delivered": false, "error": "answered HTTP 500"})
    );
    let (_, test) = srv
        .call("POST", &format!("{path}/test"), Some(&owner), None)
        .await;
    assert_eq!(test, json!({"delivered": true, "error": null}));
    let t = rx.wait_for("test", 2, Duration::from_secs(1)).await;
    assert_signed(&t[1], SECRET);
    assert_eq!(t[1].body["service"]["slug"], mount.as_str());

    // A real source: on air, a title, a listener turned away by the limit, off air.
    let mut src = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
    wait_live(&srv, &mount);
    let up = rx.wait_for("source_up", 1, Duration::from_secs(10)).await;
    assert_signed(&up[0], SECRET);
    assert_eq!(up[0].body["data"]["source"], "source", "{}", up[0].body);
    assert_eq!(up[0].body["service"]["id"], id);
    set_title(&srv, &mount, &pw, "Artist - Title");
    let tracks = rx
        .wait_for("track_change", 1, Duration::from_secs(10))
        .await;
    assert_eq!(tracks[0].body["data"]["title"], "Artist - Title");
    let mut first = std::net::TcpStream::connect(&srv.icecast).unwrap();
    std::io::Write::write_all(
        &mut first,
        format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let (head, _) = read_response(&mut first, 100, Duration::from_secs(2));
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    for _ in 0..2 {
        let mut turned = std::net::TcpStream::connect(&srv.icecast).unwrap();
        std::io::Write::write_all(
            &mut turned,
            format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let (head, _) = read_response(&mut turned, 100, Duration::from_secs(2));
        assert!(head.contains("503"), "{head}");
    }
    let full = rx
        .wait_for("listener_limit", 1, Duration::from_secs(10))
        .await;
    assert_eq!(full[0].body["data"]["limit"], 1);
    src.kill().unwrap();
    let down = rx.wait_for("source_down", 1, Duration::from_secs(15)).await;
    assert_signed(&down[0], SECRET);
    // Two refusals, one event: listener_limit is sent at most every 10 minutes.
    assert_eq!(
        rx.hits()
            .iter()
            .filter(|h| h.body["event"] == "listener_limit")
            .count(),
        1
    );
    let (_, shown) = srv.get(&path, &owner).await;
    assert_eq!(shown["last"]["status"], "delivered", "{shown}");
    assert!(shown["delivered"].as_i64().unwrap() >= 5, "{shown}");

    // A receiver whose first answer is a 500: the event comes again 5 s later, same id.
    let flaky = receiver(1, false).await;
    srv.put(
        &path,
        &owner,
        json!({"url": flaky.url, "secret": SECRET, "events": ["source_up"]}),
    )
    .await;
    let _src2 = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
    let tries = flaky
        .wait_for("source_up", 2, Duration::from_secs(20))
        .await;
    assert_eq!(
        tries[0].body["id"], tries[1].body["id"],
        "a retry is the same delivery"
    );
    let (_, shown) = srv.get(&path, &owner).await;
    assert_eq!(
        (
            shown["delivered"].as_i64(),
            shown["last"]["status"].as_str()
        ),
        (Some(1), Some("delivered")),
        "{shown}"
    );
    assert!(
        srv.logs().contains("trying again in 5s"),
        "the retry is logged"
    );

    // A receiver that never answers: the attempt ends after 10 s, and says so.
    let hang = receiver(0, true).await;
    srv.put(&path, &owner, json!({"url": hang.url})).await;
    let started = Instant::now();
    let (_, test) = srv
        .call("POST", &format!("{path}/test"), Some(&owner), None)
        .await;
    assert_eq!(
        test,
        json!({"delivered": false, "error": "no answer within 10 s"})
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    // Another customer cannot see or change it; the owner removes it.
    let admin = srv.admin_token().await;
    srv.create_user(&admin, "nosy", "customer", json!({})).await;
    let nosy = srv.login("nosy", "nosy-password").await;
    assert_eq!(srv.get(&path, &nosy).await.0, StatusCode::NOT_FOUND);
    assert_eq!(srv.delete(&path, &nosy).await.0, StatusCode::NOT_FOUND);
    assert_eq!(srv.delete(&path, &owner).await.0, StatusCode::NO_CONTENT);
    assert_eq!(srv.get(&path, &owner).await, (StatusCode::OK, Value::Null));
    assert_eq!(srv.delete(&path, &owner).await.0, StatusCode::NOT_FOUND);
}
