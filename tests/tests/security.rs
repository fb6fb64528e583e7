//! The attacks of issue 21 that worked, replayed against the real binary: password guessing
//! on the Icecast port, forged ICY fields, a suspended reseller acting, stolen tokens, names
//! that display differently than they read, and files the library lost track of.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::*;

/// `GET /admin/metadata` on the Icecast port with Basic `user:password`: the status line.
fn metadata_update(srv: &Server, mount: &str, user: &str, password: &str, song: &str) -> String {
    let (head, _) = raw_get(
        srv,
        &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song={song}"),
        &[&format!(
            "Authorization: Basic {}",
            b64(&format!("{user}:{password}"))
        )],
        1,
        Duration::from_secs(5),
    );
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
        let right = metadata_update(&srv, "no-such-mount", "admin", ADMIN_PASSWORD, "x");
        let wrong = metadata_update(&srv, "no-such-mount", "admin", "wrong-guess-0", "x");
        assert_eq!(right, wrong, "right and wrong admin password answered differently on a missing mount");
        assert!(!right.contains(" 200 "), "{right}");
        // Every wrong guess counts, mount or no mount: after the guard's ten failures the
        // address is refused outright, on the missing mount and on the real one alike.
        let mut statuses = Vec::new();
        for i in 1..12 {
            statuses.push(metadata_update(&srv, "no-such-mount", "admin", &format!("wrong-guess-{i}"), "x"));
        }
        assert!(statuses.last().unwrap().contains(" 429 "), "guesses on a missing mount were not throttled: {statuses:?}");
        let status = metadata_update(&srv, &mount, "admin", "wrong-guess-x", "x");
        assert!(status.contains(" 429 "), "the address that guessed is not refused on a real mount: {status}");
    }

    async fn icy_title_cannot_forge_fields(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "ForgeFM", json!({})).await;
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 30);
        wait_live(&srv, &mount);
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
