//! `tidecast backup` while the server runs and `tidecast restore` into an empty folder, on
//! SQLite and PostgreSQL (and from one to the other); damaged, foreign and newer backups
//! refused with nothing written.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};

use tidecast_tests::media::{tone_file, upload};
use tidecast_tests::*;

fn tidecast(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env_remove("TIDECAST_ADMIN_PASSWORD")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// `tidecast <verb>` on the store's data folder and database, with `<file_flag> <file>`.
fn on_store(verb: &str, store: &Store, file_flag: &str, file: &Path) -> Output {
    let data = store.data_dir();
    let (data, file) = (data.to_str().unwrap(), file.to_str().unwrap());
    let url = store.database_url.as_str();
    tidecast(&[verb, "--data", data, "--database-url", url, file_flag, file])
}

fn backup(store: &Store, to: &Path) -> Output {
    on_store("backup", store, "--to", to)
}

fn restore(store: &Store, from: &Path) -> Output {
    on_store("restore", store, "--from", from)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Fills a store through the API: users, a station with a track and a playlist, a note.
async fn fill(srv: &Server, dir: &Path) -> (i64, String) {
    let admin = srv.admin_token().await;
    let cust = srv
        .create_user(&admin, "keeper", "customer", json!({}))
        .await;
    let svc = srv.create_service(&admin, cust, "Kept FM", "radio").await;
    let id = svc["id"].as_i64().unwrap();
    let owner = srv.login("keeper", "keeper-password").await;
    let track = tone_file(
        dir,
        "kept.mp3",
        440,
        3.0,
        (0.0, 0.0),
        ("Kept", "Backup", "Tapes"),
    );
    let (status, up) = upload(srv, &owner, id, &[&track]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let mid = up["items"][0]["id"].as_i64().unwrap();
    let (status, _) = srv
        .post(
            &format!("/api/v1/services/{id}/playlists"),
            &owner,
            json!({"name": "Keep", "media": [mid]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = srv
        .post(
            "/api/v1/announcements",
            &admin,
            json!({"message": "Maintenance on Sunday"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (id, svc["slug"].as_str().unwrap().to_owned())
}

both_backends! {
    async fn a_backup_taken_while_running_restores_everything(b: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, _) = fill(&srv, dir.path()).await;
        let before = store.snapshot().await;
        let file = dir.path().join("tidecast.backup");
        let out = backup(&store, &file);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("database: media, 1 rows"), "{}", text(&out));
        assert!(!dir.path().join("tidecast.partial").exists());
        drop(srv);

        // Into an empty store of the same kind: every row and every file comes back.
        let target = Store::new(b).await;
        let out = restore(&target, &file);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(target.snapshot().await, before);
        let media = before["media"][0]["path"].as_str().unwrap();
        assert_eq!(
            std::fs::read(target.data_dir().join(media)).unwrap(),
            std::fs::read(store.data_dir().join(media)).unwrap()
        );
        // The restored server works: the same logins, the library, new rows after the old.
        let srv = Server::start(&target).await;
        let owner = srv.login("keeper", "keeper-password").await;
        let (_, list) = srv.get(&format!("/api/v1/services/{id}/media"), &owner).await;
        assert_eq!((list["total"].as_i64(), list["items"][0]["title"].as_str()), (Some(1), Some("Kept")));
        let admin = srv.admin_token().await;
        let newer = srv.create_user(&admin, "after", "customer", json!({})).await;
        assert!(newer > before["users"].as_array().unwrap().len() as i64, "ids continue after the restored ones");

        // Restoring again over it is refused, and changes nothing.
        let now = target.snapshot().await;
        let out = restore(&target, &file);
        assert!(!out.status.success());
        assert!(text(&out).contains("not empty"), "{}", text(&out));
        assert_eq!(target.snapshot().await, now);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_restores_into_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    fill(&srv, dir.path()).await;
    let before = store.snapshot().await;
    // DVR archives go in only when asked (`--dvr`).
    let archive = store.data_dir().join("dvr").join("1").join("kept-tv");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("0000001.ts"), b"segment").unwrap();
    let file = dir.path().join("b.tgz");
    let with_dvr = dir.path().join("dvr.tgz");
    assert!(backup(&store, &file).status.success());
    let args: Vec<String> = [
        "backup",
        "--data",
        store.data_dir().to_str().unwrap(),
        "--database-url",
        &store.database_url,
        "--to",
        with_dvr.to_str().unwrap(),
        "--dvr",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = tidecast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out));
    drop(srv);
    let target = Store::new(Backend::Postgres).await;
    let out = restore(&target, &file);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(target.snapshot().await, before);
    assert!(
        !target.data_dir().join("dvr").exists(),
        "DVR restored from a backup without it"
    );
    let target = Store::new(Backend::Sqlite).await;
    let out = restore(&target, &with_dvr);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(target.data_dir().join("dvr/1/kept-tv/0000001.ts")).unwrap(),
        b"segment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_foreign_and_newer_backups_are_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    fill(&srv, dir.path()).await;
    let file = dir.path().join("good.tgz");
    assert!(backup(&store, &file).status.success());
    drop(srv);
    let bytes = std::fs::read(&file).unwrap();

    let cut = dir.path().join("cut.tgz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let foreign = dir.path().join("photo.jpg");
    std::fs::write(&foreign, b"\xff\xd8\xff\xe0 not a backup at all").unwrap();
    // A manifest from a Tidecast of the future.
    let newer = dir.path().join("newer.tgz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&newer).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let manifest = serde_json::to_vec(&json!({
            "format": 9, "tidecast": "9.0.0", "schema": 99999999999999i64, "created_at": 0,
            "backend": "sqlite", "dvr": false, "tables": []
        }))
        .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, "manifest.json", manifest.as_slice())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }
    for (from, says) in [
        (&cut, "cut short"),
        (&foreign, "damaged or cut short"),
        (&newer, "newer Tidecast"),
        (&dir.path().join("missing.tgz"), "cannot open"),
    ] {
        let target = Store::new(Backend::Sqlite).await;
        let out = restore(&target, from);
        assert!(!out.status.success(), "{from:?} restored");
        assert!(text(&out).contains(says), "{from:?}: {}", text(&out));
        // Nothing written: no data folder, no half-restored folder beside it.
        assert!(
            !target.data_dir().exists(),
            "{from:?} left {:?}",
            target.data_dir()
        );
        let beside: Vec<_> = std::fs::read_dir(target.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(beside.is_empty(), "{from:?} left {beside:?}");
    }
}
