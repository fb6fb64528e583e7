//! Restreaming to a remote Icecast: a station's mount sent as a source to Debian's icecast2
//! on loopback (allowed with `--relay-allow`), heard there with its title; icecast2 is
//! killed and started again and the target reconnects; internal addresses, wrong kinds and
//! bad URLs are refused; the password never comes back.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::media::{level, listen_pcm};
use tidecast_tests::peers::Icecast2;
use tidecast_tests::*;

async fn target(srv: &Server, token: &str, path: &str, want: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, list) = srv.get(path, token).await;
        let t = list[0].clone();
        if t["state"] == want {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "the target is not {want} after {within:?}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_restreams_to_a_remote_icecast_and_reconnects() {
    let mut ice = Icecast2::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, pw) = radio(&srv, "RelayFM", json!({})).await;
    let owner = srv.login("RelayFM-owner", "RelayFM-owner-password").await;
    let path = format!("/api/v1/services/{id}/targets");
    let url = format!(
        "icecast://source:{}@127.0.0.1:{}/relayed.mp3",
        Icecast2::PASSWORD,
        ice.port
    );

    // Bad input changes nothing.
    for (body, says) in [
        (
            json!({"kind": "icecast", "url": "icecast://source:x@10.0.0.7:8000/live"}),
            "a private address",
        ),
        (
            json!({"kind": "icecast", "url": "icecast://source@127.0.0.1:8000/live"}),
            "no password",
        ),
        (
            json!({"kind": "icecast", "url": "http://source:x@127.0.0.1:8000/live"}),
            "icecast://",
        ),
        (
            json!({"kind": "icecast", "url": "icecast://source:x@127.0.0.1:8000/"}),
            "mount",
        ),
        (json!({"kind": "shoutcast", "url": url}), "kinds: icecast"),
    ] {
        let (status, err) = srv
            .call("POST", &path, Some(&owner), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
    let admin = srv.admin_token().await;
    let cust = srv.login("RelayFM-owner", "RelayFM-owner-password").await;
    let video = srv
        .create_service(
            &admin,
            srv.get("/api/v1/me", &cust).await.1["id"].as_i64().unwrap(),
            "RelayTV",
            "video",
        )
        .await;
    let (status, err) = srv
        .call(
            "POST",
            &format!("/api/v1/services/{}/targets", video["id"]),
            Some(&owner),
            Some(json!({"kind": "icecast", "url": url})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(srv.get(&path, &owner).await.1, json!([]));

    // The target waits for something on air, then sends it.
    let (status, t) = srv
        .call(
            "POST",
            &path,
            Some(&owner),
            Some(json!({"kind": "icecast", "url": url})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(
        t["url"],
        format!("icecast://source@127.0.0.1:{}/relayed.mp3", ice.port)
    );
    assert!(!t.to_string().contains(Icecast2::PASSWORD), "{t}");
    target(&srv, &owner, &path, "waiting", Duration::from_secs(5)).await;
    let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 120);
    wait_live(&srv, &mount);
    target(&srv, &owner, &path, "live", Duration::from_secs(10)).await;
    set_title(&srv, &mount, &pw, "Relay Artist - Relay Song");

    // Heard on the remote: the station's 440 Hz tone, decoded without errors, its title.
    let (pcm, errors) = listen_pcm(&ice.addr(), "relayed.mp3", 3);
    assert!(pcm.len() > 44_100 * 2, "{} samples: {errors}", pcm.len());
    assert!(errors.trim().is_empty(), "{errors}");
    assert!(level(&pcm, 440.0, 44_100.0) > 0.1, "the tone is not there");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sources = ice.sources().await;
        if sources
            .iter()
            .any(|s| s["title"] == "Relay Artist - Relay Song")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no title on the remote: {sources:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The remote goes away: the target says so and keeps trying; it comes back: live again.
    ice.stop();
    let down = target(&srv, &owner, &path, "retrying", Duration::from_secs(20)).await;
    assert!(
        !down["last_error"].as_str().unwrap_or("").is_empty(),
        "{down}"
    );
    ice.restart();
    let up = target(&srv, &owner, &path, "live", Duration::from_secs(40)).await;
    assert!(up["connections"].as_u64().unwrap() >= 2, "{up}");
    let (pcm, errors) = listen_pcm(&ice.addr(), "relayed.mp3", 2);
    assert!(
        pcm.len() > 44_100,
        "after the reconnect: {} samples: {errors}",
        pcm.len()
    );
    let (_, list) = srv.get(&path, &owner).await;
    assert!(list[0]["kbps"].as_u64().unwrap_or(0) > 50, "{list}");
    // /metrics says it is live, and that it reconnected.
    let (_, _, body) = srv
        .fetch("/metrics", &[("authorization", &format!("Bearer {admin}"))])
        .await;
    let samples = parse_metrics(&String::from_utf8(body).unwrap());
    let metric = |name: &str| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name && l.get("service").map(String::as_str) == Some(id.to_string().as_str())
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(metric("tidecast_target_live"), Some(1.0));
    assert!(metric("tidecast_target_connections_total").unwrap() >= 2.0);

    // Another customer sees nothing; deleting the target ends the remote's source.
    srv.create_user(&admin, "nosy", "customer", json!({})).await;
    let nosy = srv.login("nosy", "nosy-password").await;
    assert_eq!(srv.get(&path, &nosy).await.0, StatusCode::NOT_FOUND);
    let tid = list[0]["id"].as_i64().unwrap();
    assert_eq!(
        srv.call("DELETE", &format!("{path}/{tid}"), Some(&nosy), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        srv.call("DELETE", &format!("{path}/{tid}"), Some(&owner), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ice.sources().await.is_empty() {
        assert!(Instant::now() < deadline, "the remote still has the source");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !srv.logs().contains(Icecast2::PASSWORD),
        "the password is in the log"
    );
}
