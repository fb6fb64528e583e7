//! `GET /admin/metadata?mount=/<mount>&mode=updinfo&song=…`: the title update that encoders
//! (butt, Mixxx, Liquidsoap, ffmpeg scripts) send beside their stream, authorised with the
//! mount's source credentials.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::request::RequestHead;
use super::{Context, mount_name, response};
use crate::admission::{Decision, DenyReason, PublishRequest};
use crate::events::MountEvent;

fn xml(status: u16, reason: &str, message: &str, ok: bool) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<iceresponse><message>{message}</message><return>{}</return></iceresponse>\n",
        u8::from(ok)
    );
    response::full(status, reason, "text/xml", body.as_bytes(), &[])
}

pub async fn run(mut sock: TcpStream, remote: SocketAddr, head: &RequestHead, ctx: &Context) {
    let Some(mount) = head.query_param("mount") else {
        let _ = sock
            .write_all(&xml(400, "Bad Request", "Missing parameter: mount", false))
            .await;
        return;
    };
    let mode = head.query_param("mode").unwrap_or_default();
    if mode != "updinfo" {
        let _ = sock
            .write_all(&xml(
                400,
                "Bad Request",
                "Unsupported mode; use mode=updinfo",
                false,
            ))
            .await;
        return;
    }
    let Some((username, password)) = head.basic_auth() else {
        let _ = sock.write_all(&response::basic_challenge()).await;
        return;
    };
    let name = mount_name(&mount).to_owned();
    if ctx.logins.refused_for(remote.ip()).is_some() {
        tracing::warn!(%remote, mount = %name, "metadata update refused: too many wrong passwords from this address");
        let _ = sock
            .write_all(&xml(
                429,
                "Too Many Requests",
                "Too many failed logins",
                false,
            ))
            .await;
        return;
    }
    let req = PublishRequest::Icecast {
        mount: name.clone(),
        username: username.clone(),
        password: password.clone(),
        remote,
    };
    // The mount's source credentials (or a DJ's), else a server administrator's. Every
    // credential that matched nothing counts against the address, whether or not the mount
    // exists: otherwise a missing mount is a free, unthrottled test of the admin password.
    let (allowed, wrong_password) = match ctx.admission.admit_publish(&req).await {
        Decision::Allow(_) => (true, false),
        Decision::Deny(d) => {
            let admin = ctx.admission.is_admin(&username, &password).await;
            let unmatched = matches!(d.reason, DenyReason::BadCredentials | DenyReason::NotFound);
            (admin, !admin && unmatched)
        }
    };
    if wrong_password {
        ctx.logins.failed(remote.ip());
    }
    // A mount without a source answers the same whatever the password, so the answer says
    // nothing about the credentials.
    let Some(live) = ctx.mounts().get(&name) else {
        let _ = sock
            .write_all(&xml(404, "Not Found", "Source does not exist", false))
            .await;
        return;
    };
    if !allowed {
        tracing::warn!(%remote, mount = %name, user = %username, "metadata update refused: wrong credentials");
        let _ = sock
            .write_all(&xml(401, "Unauthorized", "Authentication failed", false))
            .await;
        return;
    }
    // Icecast takes `song`, or `artist` and `title` separately.
    let song = head.query_param("song").unwrap_or_else(|| {
        match (head.query_param("artist"), head.query_param("title")) {
            (Some(a), Some(t)) => format!("{a} - {t}"),
            (a, t) => a.or(t).unwrap_or_default(),
        }
    });
    let song: String = song
        .chars()
        .filter(|c| !c.is_control())
        .take(1024)
        .collect();
    live.set_title(&song);
    ctx.events().mount_event(MountEvent::Title {
        service_id: live.service_id(),
        mount: name.clone(),
        title: song.clone(),
        at: std::time::SystemTime::now(),
        listeners: ctx.registry().listeners_on(live.service_id(), &name),
    });
    tracing::info!(mount = %name, title = %song, "now playing updated");
    let _ = sock
        .write_all(&xml(200, "OK", "Metadata update successful", true))
        .await;
}
