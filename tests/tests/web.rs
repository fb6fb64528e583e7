//! The web UI and the players, through the real binary: headless Chromium for what people
//! do in them (tests/browser/*.mjs), plain HTTP for the pages' headers and the cookie
//! session's CSRF rules.

#![allow(clippy::unwrap_used)]

use tidecast_tests::media::tone_file;
use tidecast_tests::{
    ADMIN_PASSWORD, Backend, Server, StatusCode, Store, browser, eventually, json, secs, within,
};

#[tokio::test(flavor = "multi_thread")]
async fn admin_and_customers_run_everything_from_the_browser() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    srv.create_user(&admin, "bob", "customer", json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let tracks: Vec<_> = [("Harbour Lights", 440), ("Low Tide", 660)]
        .iter()
        .enumerate()
        .map(|(i, (title, hz))| {
            let path = tone_file(
                dir.path(),
                &format!("track{i}.mp3"),
                *hz,
                20.0,
                (0.0, 0.0),
                (title, "The Buoys", "Shoreline"),
            );
            json!({"path": path, "title": title})
        })
        .collect();
    let report = browser::run(
        "ui_flow.mjs",
        &json!({
            "base": srv.url(""),
            "admin": ["admin", ADMIN_PASSWORD],
            "alice": ["alice", "alice-password"],
            "bob": ["bob", "bob-password"],
            "tracks": tracks,
            "screenshots": browser::screenshots("ui"),
        }),
    );
    browser::assert_passed(&report, &srv.logs());

    // What the clicks did, as the API sees it.
    let alice = srv.login("alice", "alice-password").await;
    let (_, services) = srv.get("/api/v1/services", &alice).await;
    let names: Vec<&str> = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{services}");
    assert!(
        names.contains(&"Alice FM") && names.contains(&"Alice TV"),
        "{names:?}"
    );
    let radio = report["radio"]["id"].as_i64().unwrap();
    // The station on AutoDJ is on air, as the API says and as the pages showed.
    let (_, station) = srv.get(&format!("/api/v1/services/{radio}"), &alice).await;
    assert_eq!(station["on_air"], "autodj", "{station}");
    for (place, badge) in report["radio_on_air"].as_object().unwrap() {
        assert_eq!(badge, "● AutoDJ", "the {place} showed {badge}");
    }
    assert_eq!(report["bob_keys_revoked"], 1, "{report}");
    let (_, media) = srv
        .get(&format!("/api/v1/services/{radio}/media"), &alice)
        .await;
    assert_eq!(media["total"], 2, "{media}");
    let (_, lists) = srv
        .get(&format!("/api/v1/services/{radio}/playlists"), &alice)
        .await;
    let list = &lists["items"][0];
    assert_eq!(list["name"], "Main rotation");
    // The editor's "move up" put the second track first.
    let ids: Vec<i64> = media["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let order: Vec<i64> = list["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(order.len(), 2);
    assert!(ids.contains(&order[0]) && ids.contains(&order[1]) && order[0] != order[1]);
    let (_, st) = srv
        .get(&format!("/api/v1/services/{radio}/stats"), &alice)
        .await;
    assert_eq!(st["autodj"]["running"], true, "{st}");

    // The audio player heard the station: time advanced and it showed what AutoDJ plays.
    let audio = &report["audio"];
    assert!(audio["currentTime"].as_f64().unwrap() > 3.0, "{audio}");
    let title = audio["title"].as_str().unwrap();
    assert!(["Harbour Lights", "Low Tide"].contains(&title), "{audio}");
    // The video player: two rungs (360p and 240p) in its menu besides Auto, the chosen one
    // playing, a DVR seek bar once the window has more than 30 s.
    let v = &report["video_player"];
    let mut heights: Vec<i64> = v["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_i64().unwrap())
        .collect();
    heights.sort_unstable();
    assert_eq!(heights, [240, 360], "{v}");
    assert_eq!(v["menu"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["currentTime"].as_f64().unwrap() > 3.0, "{v}");
    assert_eq!(v["live"], true);
    // A webhook to the server's own loopback is refused in the form, with the reason.
    let hook = report["webhookError"].as_str().unwrap();
    assert!(hook.contains("127.0.0.1, a loopback address"), "{hook}");
    // Restream: the YouTube preset filled in its ingest address; the server's answer (it
    // cannot resolve YouTube offline) is shown in the form; the relay form asks RTSP's
    // transport for a camera's address.
    assert_eq!(
        report["restreamUrl"],
        "rtps://a.rtmps.youtube.com:443/live2".replace("rtps", "rtmps")
    );
    let err = report["restreamError"].as_str().unwrap();
    assert!(err.starts_with("url:"), "{err}");
    assert_eq!(report["relayTransport"], 1);
    // The statistics tab links each report's CSV file.
    let csv = report["statsCsv"].as_str().unwrap();
    assert!(
        csv.contains("/stats/report/summary?") && csv.ends_with("&format=csv"),
        "{csv}"
    );
    // A second customer got nothing of the first one's.
    assert_eq!(
        report["bob"],
        json!({"service": 404, "media": 404, "leaked": 0})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn players_and_pages_send_the_right_headers() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let owner = srv.create_user(&admin, "dana", "customer", json!({})).await;
    let (status, svc) = srv
        .post("/api/v1/services", &admin, json!({"owner": owner, "name": "</script><script>alert(1)</script>", "slug": "hostile", "kind": "radio"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    let slug = svc["slug"].as_str().unwrap();

    // The player page: a CSP that allows only our scripts, framing from anywhere (embeds).
    for path in [format!("/player/{slug}"), format!("/embed/{slug}")] {
        let (status, h, body) = srv.fetch(&path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let html = String::from_utf8(body).unwrap();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors *"),
            "{csp}"
        );
        assert!(
            h.get("x-frame-options").is_none(),
            "{path} must be embeddable"
        );
        // The hostile name is text in the title and JSON, never markup.
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(
            html.contains("&lt;/script&gt;") || !html.contains("<title></script>"),
            "{html}"
        );
        let config = html
            .split("id=\"tc-config\">")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        let config: serde_json::Value = serde_json::from_str(config).unwrap();
        assert_eq!(config["name"], "</script><script>alert(1)</script>");
        assert_eq!(config["kind"], "radio");
        assert!(
            config["streams"][0]["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{slug}"))
        );
        // Its script and style are served, gzipped and cached for good.
        for asset in [
            config["hlsjs"].as_str().unwrap().to_owned(),
            html.split("src=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned(),
        ] {
            let (status, h, body) = srv.fetch(&asset, &[("accept-encoding", "gzip")]).await;
            assert_eq!(status, StatusCode::OK, "{asset}");
            assert_eq!(h["content-encoding"], "gzip");
            assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
            assert_eq!(&body[..2], &[0x1f, 0x8b], "{asset} is not gzip");
        }
    }
    // The control panel may not be framed (clickjacking).
    let (status, h, _) = srv.fetch("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // Unknown stations and videos not ready are plain 404s.
    for path in [
        "/player/no-such-station",
        "/embed/no-such-station",
        "/player/vod/999",
        "/player/vod/abc",
        "/assets/x/nothing.js",
    ] {
        assert_eq!(
            srv.fetch(path, &[]).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // The public cover art is only that of what plays now.
    let (status, _) = srv
        .call(
            "GET",
            &format!("/api/v1/public/{slug}/cover?m=1"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = srv
        .call("GET", &format!("/api/v1/public/{slug}/cover"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_sessions_need_the_csrf_header() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let cust = srv
        .create_user(&admin, "carol", "customer", json!({}))
        .await;
    let client = reqwest::Client::new();
    let res = client
        .post(srv.url("/api/v1/login"))
        .json(&json!({"username": "carol", "password": "carol-password", "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("tidecast_session=tcs_"), "{set}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body.get("token").is_none(),
        "a cookie session's token must stay out of scripts' reach: {body}"
    );
    let csrf = body["csrf"].as_str().unwrap().to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();

    // Reads need only the cookie; /me tells the page its CSRF value.
    let me: serde_json::Value = client
        .get(srv.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["username"].as_str(), me["csrf"].as_str()),
        (Some("carol"), Some(csrf.as_str()))
    );
    // The page itself carries the user, so it renders logged in with no request.
    let page = client
        .get(srv.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("\"username\":\"carol\"") && page.contains(&csrf),
        "{page}"
    );

    // A change without the header (a forged form, a cross-site fetch) is refused and changes nothing.
    let before = store.snapshot().await;
    let create = json!({"name": "Forged", "kind": "radio"});
    let res = client
        .post(srv.url("/api/v1/services"))
        .header("cookie", &cookie)
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client
        .post(srv.url("/api/v1/services"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "wrong")
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(store.snapshot().await["services"], before["services"]);
    // With it, the customer's own service is made (default limits, owner itself).
    let res = client
        .post(srv.url("/api/v1/services"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let svc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(svc["owner"], cust);

    // Logging out clears the cookie and ends the session.
    let res = client
        .post(srv.url("/api/v1/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let res = client
        .get(srv.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = client
        .get(srv.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("{\"me\":null}"), "{page}");

    // Log in as: admins may, into a short session, written to the audit log; customers may not.
    let (status, as_carol) = srv
        .post(&format!("/api/v1/users/{cust}/login-as"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{as_carol}");
    let token = as_carol["token"].as_str().unwrap();
    assert_eq!(srv.get("/api/v1/me", token).await.1["username"], "carol");
    let audit = store.snapshot().await["audit_log"].to_string();
    assert!(audit.contains("user.login_as"), "{audit}");
    let (status, _) = srv.post("/api/v1/users/1/login-as", token, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = srv
        .post(&format!("/api/v1/users/{cust}/login-as"), token, json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The password `--demo` printed in its "demo ready" line.
fn demo_password(logs: &str) -> String {
    let line = logs
        .lines()
        .rfind(|l| l.contains("demo ready"))
        .unwrap_or_else(|| panic!("no demo line:\n{logs}"));
    line.split("password `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_seeds_a_station_and_a_channel_that_play() {
    use std::time::Duration;
    use tidecast_tests::Options;
    let store = Store::new(Backend::Sqlite).await;
    let opts = Options {
        args: vec!["--demo".into()],
        ..Options::default()
    };
    let srv = Server::start_with(&store, opts.clone()).await.unwrap();
    assert!(
        srv.wait_log("demo ready", Duration::from_secs(60)),
        "{}",
        srv.logs()
    );
    let demo = srv.login("demo", &demo_password(&srv.logs())).await;
    let (_, services) = srv.get("/api/v1/services", &demo).await;
    assert_eq!(services["total"], 2, "{services}");

    // The station plays AutoDJ: a title on air, and sound (not silence) on its mount.
    let (_, np) = srv
        .call("GET", "/api/v1/public/demo-radio/nowplaying", None, None)
        .await;
    assert_eq!(np["live"], true, "{np}");
    assert!(
        np["now_playing"]["title"]
            .as_str()
            .unwrap()
            .contains("Tidecast Demo Band"),
        "{np}"
    );
    let (pcm, _) = tidecast_tests::media::listen(&srv.icecast, "demo-radio", 3).await;
    let rms =
        (pcm.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt();
    assert!(
        pcm.len() > 44_100 && rms > 300.0,
        "the demo station is silent: {} samples, rms {rms}",
        pcm.len()
    );

    // The channel is live through the engine, with a ladder and DVR.
    let what = "the demo channel's master playlist of two variants";
    eventually(within(secs(20)), what, async || {
        let (status, _, body) = srv.fetch("/hls/demo-tv/index.m3u8", &[]).await;
        let master = String::from_utf8_lossy(&body).into_owned();
        if status == StatusCode::OK && master.matches("#EXT-X-STREAM-INF").count() == 2 {
            Ok(())
        } else {
            Err(format!("{status} {master}"))
        }
    })
    .await;
    let (_, np) = srv
        .call("GET", "/api/v1/public/demo-tv/nowplaying", None, None)
        .await;
    assert_eq!(np["live"], true, "{np}");
    let (status, _, _) = srv.fetch("/hls/demo-tv/dvr.m3u8", &[]).await;
    assert_eq!(status, StatusCode::OK);

    // Again: nothing doubles, a new password is printed, the old one stops working.
    let old = demo_password(&srv.logs());
    assert!(srv.stop().success());
    let srv = Server::start_with(&store, opts).await.unwrap();
    assert!(
        srv.wait_log("demo ready", Duration::from_secs(60)),
        "{}",
        srv.logs()
    );
    let new = demo_password(&srv.logs());
    assert_ne!(old, new);
    let demo = srv.login("demo", &new).await;
    let (_, services) = srv.get("/api/v1/services", &demo).await;
    assert_eq!(services["total"], 2, "{services}");
    let radio = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "radio")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, media) = srv
        .get(&format!("/api/v1/services/{radio}/media"), &demo)
        .await;
    assert_eq!(media["total"], 3, "{media}");
    let (_, lists) = srv
        .get(&format!("/api/v1/services/{radio}/playlists"), &demo)
        .await;
    assert_eq!(lists["total"], 1, "{lists}");
    let (status, _) = srv
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(json!({"username": "demo", "password": old})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_in_the_browser_gives_clear_messages_and_changes_nothing() {
    use std::time::Duration;
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let eve = srv.create_user(&admin, "eve", "customer", json!({})).await;
    let (status, svc) = srv
        .post("/api/v1/services", &admin, json!({"owner": eve, "name": "Bad Input FM", "kind": "radio", "limits": {"disk_quota_mb": 1}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    let sid = svc["id"].as_i64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not music").unwrap();
    let broken = dir.path().join("broken.mp3");
    std::fs::write(
        &broken,
        (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let big = tone_file(
        dir.path(),
        "big.mp3",
        330,
        120.0,
        (0.0, 0.0),
        ("Big", "Eve", "Too"),
    );
    let good = tone_file(
        dir.path(),
        "good.mp3",
        550,
        5.0,
        (0.0, 0.0),
        ("Good", "Eve", "Fine"),
    );
    let slow = tone_file(
        dir.path(),
        "slow.mp3",
        770,
        40.0,
        (0.0, 0.0),
        ("Slow", "Eve", "Cancelled"),
    );
    let report = browser::run(
        "ui_bad_input.mjs",
        &json!({
            "base": srv.url(""),
            "user": ["eve", "eve-password"],
            "service": sid,
            "files": {"text": text, "broken": broken, "big": big, "good": good, "slow": slow},
            "screenshots": browser::screenshots("bad-input"),
        }),
    );
    browser::assert_passed(&report, &srv.logs());
    // Each refused file is named, with its reason.
    let errors = report["upload_errors"].to_string();
    assert!(
        errors.contains("notes.txt is not an audio or video file"),
        "{errors}"
    );
    assert!(errors.contains("big.mp3 is too big"), "{errors}");
    assert!(errors.contains("broken.mp3:"), "{errors}");
    assert_eq!(report["media_after_cancel"], 1, "{report}");
    assert_eq!(
        report["pwned"],
        json!(null),
        "a name ran as script: {report}"
    );
    assert_eq!(report["services_unchanged"], true);
    assert_eq!(report["twice"], 1, "a double click made two services");
    // The library holds the one good file; the cancelled upload left no partial file.
    let token = srv.login("eve", "eve-password").await;
    let (_, media) = srv
        .get(&format!("/api/v1/services/{sid}/media"), &token)
        .await;
    assert_eq!(media["total"], 1, "{media}");
    assert_eq!(media["items"][0]["title"], "Good");
    let incoming = store.data_dir().join("media").join(".incoming");
    let what = format!(
        "no file left in {} by the cancelled upload",
        incoming.display()
    );
    eventually(
        within(secs(10)).every(Duration::from_millis(100)),
        what,
        async || match std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0) {
            0 => Ok(()),
            left => Err(format!("{left} files")),
        },
    )
    .await;
    let (_, services) = srv.get("/api/v1/services", &token).await;
    assert_eq!(services["total"], 3, "{services}");
}
