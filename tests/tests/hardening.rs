//! Hardening against the attacks of issue 21 that worked: stalled request bodies that
//! locked out login, one address exhausting the file descriptors, unthrottled password
//! guessing, and newlines in a username forging log lines. Each test runs the attack
//! against the real binary and asserts that a real user is still served while it runs.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use tidecast_tests::icecast::{Proc, ffmpeg_source, radio, wait_live};
use tidecast_tests::rtmp::{Publish, ffmpeg_publish, segments_of, video, wait_playlist};
use tidecast_tests::{
    ADMIN_PASSWORD, Backend, Options, Server, StatusCode, Store, Value, both_backends, json, secs,
    started,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// More stalled requests than the API runs at once on either database (4 on SQLite and 8
/// on PostgreSQL on this machine's two cores).
const STALLED: usize = 20;
/// How long a real request may take to be answered while an attack runs: generous, the
/// point is that it is answered at all.
const ANSWERED_WITHIN: Duration = Duration::from_secs(20);

/// A request head announcing a body that never comes, on a connection kept open.
async fn stall(srv: &Server, method: &str, path: &str, token: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(&srv.http).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 64\r\n{auth}\r\n{{\"username\":",
        srv.http
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

async fn stall_many(srv: &Server, method: &str, path: &str, token: Option<&str>) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..STALLED {
        held.push(stall(srv, method, path, token).await);
    }
    // Let the server take every head in before the real request arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    held
}

async fn answered<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(ANSWERED_WITHIN, f)
        .await
        .unwrap_or_else(|_| panic!("{what} was not answered within {ANSWERED_WITHIN:?}"))
}

both_backends! {
    async fn stalled_bodies_block_nobody(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let (_, slug, _) = radio(&srv, "stalls", json!({})).await;
        let theirs = tidecast_tests::new_service(&srv, "theirs", "radio", json!({})).await;
        let mine = tidecast_tests::new_service(&srv, "mine", "radio", json!({})).await;
        let customer = srv.login("mine-owner", "mine-owner-password").await;

        // Login: stalled logins, then the admin logs in.
        let held = stall_many(&srv, "POST", "/api/v1/login", None).await;
        let (status, body) = answered(
            "a login while logins stall",
            srv.call(
                "POST",
                "/api/v1/login",
                None,
                Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        drop(held);

        // The anonymous song-request route: stalled requests, then a listener's request is
        // answered (the station takes none while AutoDJ is off: any answer but a timeout).
        let path = format!("/api/v1/public/{slug}/requests");
        let held = stall_many(&srv, "POST", &path, None).await;
        let (status, body) = answered(
            "a song request while song requests stall",
            srv.call("POST", &path, None, Some(json!({"media_id": 1}))),
        )
        .await;
        assert!(status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT, "{status} {body}");
        drop(held);

        // A customer's stalled PATCHes of its own service; the admin patches another's.
        let my_path = format!("/api/v1/services/{}", mine["id"]);
        let held = stall_many(&srv, "PATCH", &my_path, Some(&customer)).await;
        let (status, body) = answered(
            "the admin's PATCH while a customer's PATCHes stall",
            srv.call(
                "PATCH",
                &format!("/api/v1/services/{}", theirs["id"]),
                Some(&admin),
                Some(json!({"name": "Theirs renamed"})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "Theirs renamed");
        drop(held);
    }
}

/// Reads until the server closes the connection (EOF or reset); what it sent first.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_idle_connections_and_slow_bodies_are_closed() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    // A head that never ends, a connection that never says anything, a keep-alive
    // connection left idle after its answer, and a body that never comes.
    let mut slow_head = TcpStream::connect(&srv.http).await.unwrap();
    slow_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow:")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(&srv.http).await.unwrap();
    let mut idle = TcpStream::connect(&srv.http).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut slow_body = stall(&srv, "POST", "/api/v1/login", None).await;

    let closed = async |s: &mut TcpStream| {
        tokio::time::timeout(secs(90), read_until_closed(s))
            .await
            .expect("the server closes the connection")
    };
    assert_eq!(closed(&mut slow_head).await, "");
    assert_eq!(closed(&mut silent).await, "");
    let idle_got = closed(&mut idle).await;
    assert!(idle_got.starts_with("HTTP/1.1 200"), "{idle_got}");
    let body_got = closed(&mut slow_body).await;
    assert!(body_got.starts_with("HTTP/1.1 408"), "{body_got}");
    // The server still serves.
    let (status, _, _) = srv.fetch("/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

/// A connection to `to` from `from` (any 127.0.0.0/8 address works on Linux loopback).
async fn connect_from(from: IpAddr, to: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to.parse().unwrap()).await.unwrap()
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Opens `n` connections to `to` from 127.0.0.1 and says how many the server kept open
/// (the others it closed at once).
async fn flood(to: &str, n: usize) -> (Vec<TcpStream>, usize) {
    let mut conns = Vec::new();
    for _ in 0..n {
        // A connection the server cannot take (a full backlog) counts as refused.
        if let Ok(Ok(s)) = tokio::time::timeout(secs(1), TcpStream::connect(to)).await {
            conns.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut kept = Vec::new();
    for s in conns {
        let mut buf = [0u8; 1];
        // Open connections have nothing to read; closed ones read EOF or a reset.
        match s.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => kept.push(s),
            _ => {}
        }
    }
    let count = kept.len();
    (kept, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let store = Store::new(Backend::Sqlite).await;
    let opts = Options {
        args: vec!["--max-connections-per-address".into(), "50".into()],
        ..Options::default()
    };
    let srv = Server::start_with(&store, opts).await.unwrap();
    let (_, mount, pw) = radio(&srv, "capped", json!({})).await;
    let _source = ffmpeg_source(&srv, &mount, "source", &pw, false, 120);
    wait_live(&srv, &mount);
    let (_, slug, key) = video(&srv, "capped-video", json!({})).await;
    let two_minutes = Publish {
        seconds: 120,
        ..Publish::default()
    };
    let _publisher = ffmpeg_publish(&srv, &key, two_minutes);
    let playlist = wait_playlist(&srv, &slug, 1, secs(30)).await;
    let admin = srv.admin_token().await;

    // The server may have no more descriptors than the attack needs to exhaust them: what a
    // box with a small limit (or a big attack) looks like.
    let limited = Command::new("prlimit")
        .args(["--pid", &srv.pid().to_string(), "--nofile=400:400"])
        .status()
        .unwrap();
    assert!(limited.success());

    // One address opens many more connections than its cap on every port and holds them.
    let (_http, kept_http) = flood(&srv.http, 450).await;
    let (_icecast, kept_icecast) = flood(&srv.icecast, 20).await;
    let (_rtmp, kept_rtmp) = flood(&srv.rtmp, 20).await;
    let kept = kept_http + kept_icecast + kept_rtmp;
    assert!(kept <= 50, "{kept} connections from one address kept open");
    assert!(
        kept_http >= 20,
        "the cap is per address, not less: {kept_http}"
    );
    assert_eq!(
        (kept_icecast, kept_rtmp),
        (0, 0),
        "over the cap on the media ports"
    );
    assert!(
        srv.wait_log("connection(s) from 127.0.0.1", secs(5)),
        "{}",
        srv.logs()
    );
    let refusal_lines = srv
        .logs()
        .lines()
        .filter(|l| l.contains("connection(s) from 127.0.0.1"))
        .count();
    assert!(
        refusal_lines <= 3,
        "refusals are summed up, not logged one by one: {refusal_lines}"
    );

    // Another address is served on every port while the flood holds its connections.
    let other = loopback(2);
    let mut listener = connect_from(other, &srv.icecast).await;
    listener
        .write_all(format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut heard = vec![0u8; 16 * 1024];
    let mut got = 0;
    while got < heard.len() {
        let n = answered("the Icecast listener", listener.read(&mut heard[got..]))
            .await
            .unwrap();
        assert!(
            n > 0,
            "the listener was cut off: {}",
            String::from_utf8_lossy(&heard[..got])
        );
        got += n;
    }
    assert!(String::from_utf8_lossy(&heard[..64]).contains("200"));

    let client = reqwest::Client::builder()
        .local_address(other)
        .build()
        .unwrap();
    let get = async |path: &str, token: Option<&str>| {
        let mut req = client.get(srv.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = answered(path, req.send()).await.unwrap();
        (res.status(), res.bytes().await.unwrap())
    };
    let (status, body) = get(&format!("/hls/{slug}/index.m3u8"), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body).into_owned();
    let segments = segments_of(&text);
    let segment = &segments.first().unwrap_or_else(|| panic!("{playlist}")).0;
    let (status, body) = get(&format!("/hls/{slug}/{segment}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
    let (status, body) = get("/api/v1/me", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(me["username"], "admin");
    let (status, _) = get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// `POST /api/v1/login` as the admin with `password`, from `from`: the status and any
/// `Retry-After`.
async fn login_from(url: String, from: IpAddr, password: String) -> (StatusCode, Option<String>) {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let res = answered(
        "a login",
        client
            .post(url)
            .json(&json!({"username": "admin", "password": password}))
            .send(),
    )
    .await
    .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_throttled_without_locking_out_the_user() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let url = srv.url("/api/v1/login");
    let guess = |from: IpAddr, password: &str| login_from(url.clone(), from, password.to_owned());
    let wrong_or_refused =
        |s: StatusCode| s == StatusCode::UNAUTHORIZED || s == StatusCode::TOO_MANY_REQUESTS;

    // A flood of guesses from one address, many at once.
    let attacker = loopback(1);
    let flood: Vec<_> = (0..60)
        .map(|i| tokio::spawn(guess(attacker, &format!("guess-{i}"))))
        .collect();
    let mut answers = Vec::new();
    for task in flood {
        answers.push(task.await.unwrap());
    }
    let refused: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        refused.len() >= 40,
        "most of 60 guesses are refused: {answers:?}"
    );
    for (_, retry) in &refused {
        let secs: u64 = retry.as_deref().expect("Retry-After").parse().unwrap();
        assert!(secs >= 1);
    }
    assert!(
        answers.iter().all(|(s, _)| wrong_or_refused(*s)),
        "{answers:?}"
    );

    // A spread-out attack on the same account: ten more addresses, a few guesses each.
    for last in 10..20 {
        for _ in 0..3 {
            let (status, _) = guess(loopback(last), "guess-again").await;
            assert!(wrong_or_refused(status), "{status}");
        }
    }

    // The real admin, from an address of its own, logs in while the account is attacked.
    let (status, _) = guess(loopback(2), ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // The flooding address is still refused, before its password is even looked at.
    let (status, retry) = guess(attacker, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());

    // One log line per attacking address, not one per guess.
    let lines = srv
        .logs()
        .lines()
        .filter(|l| l.contains("login failed") || l.contains("login refused"))
        .count();
    assert!(
        lines <= 11,
        "{lines} log lines for the guesses:\n{}",
        srv.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newline_in_a_username_forges_no_log_line() {
    // The text log format (what people read), so the server is started by hand here.
    let store = Store::new(Backend::Sqlite).await;
    let port = tidecast_tests::peers::free_port();
    std::fs::create_dir_all(store.data_dir()).unwrap();
    let log = store.data_dir().join("server.log");
    let child = Command::new(tidecast_tests::binary())
        .arg("serve")
        .arg("--data")
        .arg(store.data_dir())
        .arg("--database-url")
        .arg(&store.database_url)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .args([
            "--rtmp",
            "127.0.0.1:0",
            "--icecast",
            "127.0.0.1:0",
            "--log-format",
            "text",
        ])
        .env("TIDECAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("TIDECAST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _server = Proc(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let wait = tidecast_tests::within(secs(30));
    tidecast_tests::eventually(wait, "the server to answer /healthz", async || match client
        .get(format!("{base}/healthz"))
        .send()
        .await
    {
        Ok(r) if r.status() == StatusCode::OK => Ok(()),
        Ok(r) => Err(r.status().to_string()),
        Err(e) => Err(e.to_string()),
    })
    .await;

    let res = client
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": "x\nFAKE LINE admin logged in", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let wait = tidecast_tests::within(secs(10));
    let text = tidecast_tests::eventually(wait, "the failed login in the log", async || {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("login failed") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    assert!(
        text.contains("FAKE LINE"),
        "the username is logged, escaped:\n{text}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("FAKE")),
        "a log line was forged:\n{text}"
    );
}
