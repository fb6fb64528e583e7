//! The attacks of issue 21 that worked, replayed against the real binary: password guessing
//! on the Icecast port, forged ICY fields, a suspended reseller acting, stolen tokens, names
//! that display differently than they read, and files the library lost track of.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::*;

/// `/admin/metadata` on the Icecast port with Basic `user:password`: the status line.
fn status_line(srv: &Server, mount: &str, user: &str, password: &str) -> String {
    let (head, _) = metadata_update(srv, mount, user, password, "x");
    head.lines().next().unwrap_or_default().to_owned()
}

/// The fields a player reads from an ICY block, the way ffmpeg's parser does: a key up to
/// `='`, its value up to the next `';`.
fn icy_fields(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut rest = text.trim_end_matches('\0');
    let mut out = Vec::new();
    while let Some((key, after)) = rest.split_once("='") {
        let Some((value, next)) = after.split_once("';") else {
            break;
        };
        out.push((key.to_owned(), value.to_owned()));
        rest = next;
    }
    out
}

both_backends! {
    async fn icecast_admin_password_guessing_is_counted_on_any_mount(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, _pw) = radio(&srv, "Guarded", json!({})).await;
        // On a mount that has no source, the right admin password and a wrong one get the same
        // answer: the reply is no oracle for the password.
        let right = status_line(&srv, "no-such-mount", "admin", ADMIN_PASSWORD);
        let wrong = status_line(&srv, "no-such-mount", "admin", "wrong-guess-0");
        assert_eq!(right, wrong, "right and wrong admin password answered differently on a missing mount");
        assert!(!right.contains(" 200 "), "{right}");
        // Every wrong guess counts, mount or no mount: after the guard's ten failures the
        // address is refused outright, on the missing mount and on the real one alike.
        let mut statuses = Vec::new();
        for i in 1..12 {
            statuses.push(status_line(&srv, "no-such-mount", "admin", &format!("wrong-guess-{i}")));
        }
        assert!(statuses.last().unwrap().contains(" 429 "), "guesses on a missing mount were not throttled: {statuses:?}");
        let status = status_line(&srv, &mount, "admin", "wrong-guess-x");
        assert!(status.contains(" 429 "), "the address that guessed is not refused on a real mount: {status}");
    }

    async fn icy_title_cannot_forge_fields(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, pw) = radio(&srv, "ForgeFM", json!({})).await;
        let admin = srv.admin_token().await;
        let on_air = || async { srv.get(&format!("/api/v1/services/{id}"), &admin).await.1["on_air"].clone() };
        assert_eq!(on_air().await, "offline");
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 30);
        wait_live(&srv, &mount);
        assert_eq!(on_air().await, "live", "a live source is what listeners get");
        let title = "Yazoo - Don't Go';StreamUrl='http://evil.example/';";
        set_title(&srv, &mount, &pw, title);
        let (head, body) = raw_get(&srv, &format!("/{mount}"), &["Icy-MetaData: 1"], 20_000, Duration::from_secs(5));
        assert!(head.contains("icy-metaint: 16000"), "{head}");
        assert!(body.len() > 16_000, "only {} bytes", body.len());
        let len = usize::from(body[16_000]) * 16;
        let fields = icy_fields(&body[16_001..16_001 + len]);
        assert_eq!(fields.len(), 1, "a title forged extra ICY fields: {fields:?}");
        assert_eq!(fields[0].0, "StreamTitle");
        assert!(fields[0].1.starts_with("Yazoo - Don't Go") && fields[0].1.contains("StreamUrl"), "{fields:?}");
    }
}

both_backends! {
    async fn suspended_reseller_changes_nothing_until_an_admin_lifts_it(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let res = srv.create_user(&admin, "resl", "reseller", json!({})).await;
        let reseller = srv.login("resl", "resl-password").await;
        let cust = srv.create_user(&reseller, "rcust", "customer", json!({})).await;
        let svc = srv.create_service(&reseller, cust, "Reseller FM", "radio").await;
        let sid = svc["id"].as_i64().unwrap();
        let customer = srv.login("rcust", "rcust-password").await;

        let (status, body) = srv.post(&format!("/api/v1/users/{res}/suspend"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let before = store.snapshot().await;

        // The finding: the suspended reseller lifted its own suspension and kept creating.
        for (method, path, body) in [
            ("POST", format!("/api/v1/users/{cust}/unsuspend"), json!({})),
            ("POST", format!("/api/v1/services/{sid}/unsuspend"), json!({})),
            ("POST", "/api/v1/services".to_owned(), json!({"owner": cust, "name": "Another FM", "kind": "radio"})),
            ("POST", "/api/v1/users".to_owned(), json!({"username": "rcust2", "password": "rcust2-password"})),
            ("PATCH", format!("/api/v1/users/{res}"), json!({"email": "r@example.com"})),
            ("PATCH", format!("/api/v1/services/{sid}"), json!({"name": "Renamed FM"})),
            ("POST", "/api/v1/api-keys".to_owned(), json!({"name": "escape hatch"})),
            ("DELETE", format!("/api/v1/services/{sid}"), Value::Null),
        ] {
            let body = (!body.is_null()).then_some(body);
            let (status, answer) = srv.call(method, &path, Some(&reseller), body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "suspended reseller: {method} {path}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("suspended"), "{answer}");
        }
        // Its customer is suspended with it; both still read.
        let (status, answer) = srv.call("PATCH", &format!("/api/v1/services/{sid}"), Some(&customer), Some(json!({"name": "Renamed FM"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("reseller's account is suspended"), "{answer}");
        assert_eq!(srv.get("/api/v1/services", &reseller).await.1["total"], 1);
        assert_eq!(srv.get(&format!("/api/v1/services/{sid}"), &customer).await.0, StatusCode::OK);
        let me = srv.get("/api/v1/me", &reseller).await.1;
        assert_eq!((me["status"].as_str(), me["suspended"].as_str()), (Some("suspended"), Some("account")), "{me}");
        let me = srv.get("/api/v1/me", &customer).await.1;
        assert_eq!((me["status"].as_str(), me["suspended"].as_str()), (Some("active"), Some("reseller")), "{me}");
        // Nothing changed.
        let after = store.snapshot().await;
        for table in ["users", "services", "api_keys"] {
            assert_eq!(before[table], after[table], "{table} changed while the reseller was suspended");
        }
        assert_eq!(srv.get(&format!("/api/v1/services/{sid}"), &admin).await.1["status"], "suspended");

        // An admin lifts it; the reseller works again.
        let (status, body) = srv.post(&format!("/api/v1/users/{res}/unsuspend"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let me = srv.get("/api/v1/me", &reseller).await.1;
        assert_eq!(me["status"], "active");
        assert!(me.get("suspended").is_none(), "{me}");
        let (status, body) = srv.post("/api/v1/services", &reseller, json!({"owner": cust, "name": "Another FM", "kind": "radio"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // A reseller lifts a suspension it made, not one an admin made.
        assert_eq!(srv.post(&format!("/api/v1/users/{cust}/suspend"), &reseller, json!({})).await.0, StatusCode::OK);
        assert_eq!(srv.post(&format!("/api/v1/users/{cust}/unsuspend"), &reseller, json!({})).await.0, StatusCode::OK);
        assert_eq!(srv.post(&format!("/api/v1/users/{cust}/suspend"), &admin, json!({})).await.0, StatusCode::OK);
        let (status, body) = srv.post(&format!("/api/v1/users/{cust}/unsuspend"), &reseller, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = srv.post(&format!("/api/v1/services/{sid}/unsuspend"), &reseller, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "one service of a suspended account: {body}");
        // A suspended user may still log out.
        assert_eq!(srv.call("POST", "/api/v1/logout", Some(&customer), None).await.0, StatusCode::NO_CONTENT);
    }

    async fn stolen_tokens_cannot_keep_or_take_the_account(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let id = srv.create_user(&admin, "alice", "customer", json!({})).await;
        let laptop = srv.login("alice", "alice-password").await;
        let phone = srv.login("alice", "alice-password").await;
        let (status, made) = srv.post("/api/v1/api-keys", &laptop, json!({"name": "billing"})).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let key = made["key"].as_str().unwrap().to_owned();

        // An API key mints no keys.
        let (status, body) = srv.post("/api/v1/api-keys", &key, json!({"name": "another"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("API key"), "{body}");
        assert_eq!(srv.get("/api/v1/api-keys", &laptop).await.1["total"], 1);

        let path = format!("/api/v1/users/{id}");
        // One's own password: the current one is asked for, and a key cannot change it.
        let (status, body) = srv.call("PATCH", &path, Some(&laptop), Some(json!({"password": "stolen-pass-1"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("current_password"), "{body}");
        let (status, body) = srv.call("PATCH", &path, Some(&laptop), Some(json!({"password": "stolen-pass-1", "current_password": "a-guess-123"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = srv.call("PATCH", &path, Some(&key), Some(json!({"password": "stolen-pass-1", "current_password": "alice-password"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        srv.login("alice", "alice-password").await;

        // The owner changes it: other sessions end, keys keep working unless asked.
        let (status, body) = srv.call("PATCH", &path, Some(&laptop), Some(json!({"password": "new-pass-1", "current_password": "alice-password"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["sessions_ended"].as_i64(), body["api_keys_revoked"].as_i64()), (Some(2), Some(0)), "{body}");
        assert_eq!(srv.get("/api/v1/me", &phone).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(srv.get("/api/v1/me", &key).await.0, StatusCode::OK);
        let (status, body) = srv.call("PATCH", &path, Some(&laptop), Some(json!({"password": "new-pass-2", "current_password": "new-pass-1", "revoke_api_keys": true}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["sessions_ended"].as_i64(), body["api_keys_revoked"].as_i64()), (Some(0), Some(1)), "{body}");
        assert_eq!(srv.get("/api/v1/me", &key).await.0, StatusCode::UNAUTHORIZED, "the revoked key still works");
        assert_eq!(srv.get("/api/v1/me", &laptop).await.0, StatusCode::OK);
        // An admin resets someone else's password without knowing it.
        let (status, body) = srv.call("PATCH", &path, Some(&admin), Some(json!({"password": "reset-pass-1"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("password_hash").is_none());
        srv.login("alice", "reset-pass-1").await;
        // A body without a password shows no counts.
        let (_, body) = srv.call("PATCH", &path, Some(&admin), Some(json!({"email": "a@example.com"}))).await;
        assert!(body.get("sessions_ended").is_none(), "{body}");
    }

    async fn names_cannot_hide_direction_overrides(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let owner = srv.create_user(&admin, "bidi", "customer", json!({})).await;
        let svc = srv.create_service(&admin, owner, "Plain FM", "radio").await;
        let sid = svc["id"].as_i64().unwrap();
        let before = store.snapshot().await;
        for (method, path, body) in [
            ("POST", "/api/v1/services".to_owned(), json!({"owner": owner, "name": "Jazz\u{202E}MF", "kind": "radio"})),
            ("PATCH", format!("/api/v1/services/{sid}"), json!({"name": "Jazz\u{2066}FM\u{2069}"})),
            ("POST", "/api/v1/api-keys".to_owned(), json!({"name": "key\u{200F}"})),
            ("POST", "/api/v1/reseller-plans".to_owned(), json!({"name": "Gold\u{202D}"})),
            ("POST", format!("/api/v1/services/{sid}/playlists"), json!({"name": "Night\u{202E}", "kind": "rotation", "order": "shuffle", "media": []})),
            ("POST", "/api/v1/announcements".to_owned(), json!({"message": "Maintenance\non \u{2067}Sunday\u{2069}"})),
        ] {
            let (status, answer) = srv.call(method, &path, Some(&admin), Some(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("U+"), "{answer}");
        }
        let after = store.snapshot().await;
        for table in ["services", "api_keys", "reseller_plans", "playlists", "announcements"] {
            assert_eq!(before[table], after[table], "{table} changed");
        }
        // Letters of any script, and emoji joined with U+200D, are fine.
        let (status, body) = srv.call("PATCH", &format!("/api/v1/services/{sid}"), Some(&admin), Some(json!({"name": "راديو \u{1F468}\u{200D}\u{1F469}"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

both_backends! {
    async fn files_the_library_lost_track_of_are_moved_aside_at_start(b: Backend) {
        use tidecast_tests::media::{item_ids, tone_file, upload};
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let svc = new_service(&srv, "library", "radio", json!({})).await;
        let (sid, owner) = (svc["id"].as_i64().unwrap(), svc["owner"].as_i64().unwrap());
        let admin = srv.admin_token().await;
        let tone = tone_file(store.dir.path(), "kept.mp3", 440, 2.0, (0.0, 0.0), ("Kept", "Artist", "Album"));
        let (status, up) = upload(&srv, &admin, sid, &[tone.as_path()]).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        assert_eq!(item_ids(&up).len(), 1);
        assert_eq!(srv.stop().code(), Some(0));

        // What a crash between the rename into the library and the row's insert leaves: a
        // file nobody refers to, older than the grace period.
        let folder = store.data_dir().join("media").join(owner.to_string());
        let tracked: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(!tracked.is_empty());
        let orphan = folder.join(format!("{}.mp3", "ab".repeat(32)));
        std::fs::copy(&tone, &orphan).unwrap();
        let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
        std::fs::File::options().write(true).open(&orphan).unwrap().set_modified(two_hours_ago).unwrap();
        let fresh = folder.join(format!("{}.mp3", "cd".repeat(32)));
        std::fs::copy(&tone, &fresh).unwrap();

        let srv = Server::start(&store).await;
        assert!(!orphan.exists(), "the untracked file is still in the library");
        let found = store.data_dir().join("media").join("lost+found").join(owner.to_string()).join(orphan.file_name().unwrap());
        assert!(found.is_file(), "the untracked file was not moved to lost+found");
        assert!(fresh.is_file(), "a file within the grace period was moved");
        for f in &tracked {
            assert!(folder.join(f).is_file(), "a tracked file was moved: {f:?}");
        }
        assert!(srv.logs().contains("lost+found"), "the move was not logged");
        // The library still plays its item.
        let (status, list) = srv.get(&format!("/api/v1/services/{sid}/media"), &srv.admin_token().await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["total"], 1, "{list}");
    }
}
