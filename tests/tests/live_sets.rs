//! Live DJ sets recorded into the media library through the real binary: ffmpeg is the DJ's
//! encoder on the station's Icecast mount; each set becomes an MP3 in the library that
//! ffmpeg decodes, as long as it was on air; a set cut short by a crash is kept.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::process::Command;
use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::*;

/// The station's recordings once none is `recording` any more (at least `n` of them).
async fn settled(srv: &Server, token: &str, id: i64, n: usize) -> Vec<Value> {
    eventually(
        within(secs(30)).logs(srv),
        "the sets to be filed",
        async || {
            let (status, list) = srv
                .get(&format!("/api/v1/services/{id}/recordings"), token)
                .await;
            assert_eq!(status, StatusCode::OK, "{list}");
            let items = list["items"].as_array().unwrap().clone();
            if items.len() >= n && items.iter().all(|r| r["status"] != "recording") {
                Ok(items)
            } else {
                Err(list)
            }
        },
    )
    .await
}

use tidecast_tests::media::item;

/// The MP3 files in the data folder's media library, decoded length in seconds each.
fn library_mp3s(store: &Store) -> Vec<f64> {
    let mut out = Vec::new();
    let mut dirs = vec![store.data_dir().join("media")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "mp3") {
                let run = Command::new("ffmpeg")
                    .args(["-hide_banner", "-v", "error", "-i"])
                    .arg(&p)
                    .args(["-f", "s16le", "-ac", "1", "-ar", "8000", "-"])
                    .output()
                    .unwrap();
                assert!(
                    run.status.success() && run.stderr.is_empty(),
                    "{}: {}",
                    p.display(),
                    String::from_utf8_lossy(&run.stderr)
                );
                out.push(run.stdout.len() as f64 / 16000.0);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sets_are_recorded_into_the_library() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, pw) = radio(&srv, "Setfm", json!({"disk_quota_mb": 50})).await;
    let owner = srv.login("Setfm-owner", "Setfm-owner-password").await;
    let settings = format!("/api/v1/services/{id}/recordings/settings");
    let (status, v) = srv.get(&settings, &owner).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["record_sets"], false);
    // Bad settings change nothing: unknown fields, a video service, another customer.
    let (video, _, _) = tidecast_tests::rtmp::video(&srv, "Setvideo", json!({})).await;
    srv.create_user(&admin, "stranger", "customer", json!({}))
        .await;
    let stranger = srv.login("stranger", "stranger-password").await;
    for (path, token, body, want) in [
        (
            settings.clone(),
            &owner,
            json!({"record_sets": "yes"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            settings.clone(),
            &owner,
            json!({"record": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/v1/services/{video}/recordings/settings"),
            &admin,
            json!({"record_sets": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            settings.clone(),
            &stranger,
            json!({"record_sets": true}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, e) = srv.put(&path, token, body.clone()).await;
        assert!(
            status == want
                || (want == StatusCode::UNPROCESSABLE_ENTITY && status == StatusCode::BAD_REQUEST),
            "{path} {body} → {status} {e}"
        );
    }
    let (_, v) = srv.get(&settings, &owner).await;
    assert_eq!(v["record_sets"], false);
    let (status, v) = srv
        .put(&settings, &owner, json!({"record_sets": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["record_sets"], true);

    // A DJ set of 8 s, then a 2 s connection test that is not kept.
    let mut set = ffmpeg_source(&srv, &slug, "source", &pw, false, 8);
    set.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut blip = ffmpeg_source(&srv, &slug, "source", &pw, false, 2);
    blip.wait().unwrap();
    let list = settled(&srv, &owner, id, 2).await;
    assert_eq!(list.len(), 2, "{list:?}");
    // Newest first.
    let (short, kept) = (&list[0], &list[1]);
    assert_eq!(short["kind"], "live_set");
    assert_eq!(short["status"], "failed", "{short}");
    assert!(
        short["error"].as_str().unwrap().contains("shorter than"),
        "{short}"
    );
    assert_eq!(kept["status"], "done", "{kept}\n{}", srv.logs());
    assert_eq!(kept["label"], "source");
    let span = kept["to"].as_f64().unwrap() - kept["from"].as_f64().unwrap();
    assert!((7.0..10.0).contains(&span), "{kept}");
    let media = item(&srv, &owner, id, kept["media_id"].as_i64().unwrap()).await;
    assert_eq!(media["folder"], "Live sets", "{media}");
    // The station's until its owner shares it.
    assert_eq!(media["visibility"], "private", "{media}");
    let secs = media["duration_s"].as_f64().unwrap();
    assert!((7.0..9.5).contains(&secs), "{media}");
    // The file decodes whole: cut on frame boundaries, nothing broken.
    let decoded = library_mp3s(&store);
    assert_eq!(decoded.len(), 1, "{decoded:?}");
    assert!((decoded[0] - secs).abs() < 0.5, "{decoded:?} vs {secs}");

    // A crash in the middle of a set: what was recorded is filed at the next start.
    let _cut = ffmpeg_source(&srv, &slug, "source", &pw, false, 30);
    wait_live(&srv, &slug);
    tokio::time::sleep(Duration::from_secs(7)).await;
    srv.kill();
    let srv = Server::start(&store).await;
    let list = settled(&srv, &admin, id, 3).await;
    let cut = &list[0];
    assert_eq!(cut["status"], "done", "{cut}\n{}", srv.logs());
    let media = item(&srv, &admin, id, cut["media_id"].as_i64().unwrap()).await;
    let secs = media["duration_s"].as_f64().unwrap();
    assert!((4.0..9.0).contains(&secs), "{media}");
    assert_eq!(library_mp3s(&store).len(), 2);
}
