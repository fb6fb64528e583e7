//! `GET /status-json.xsl`: Icecast 2.4's status document, which directory sites, AzuraCast
//! and many station widgets read.

use std::time::SystemTime;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::request::RequestHead;
use super::response;
use crate::mount::Mounts;

fn iso8601(t: SystemTime) -> String {
    let c = crate::civil::Civil::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// The status document for every live mount.
pub fn document(mounts: &Mounts, host: &str) -> Value {
    let sources: Vec<Value> = mounts
        .all()
        .iter()
        .map(|m| m.status())
        .filter(|s| s.on_air.is_some())
        .map(|s| {
            json!({
                "listenurl": format!("http://{host}/{}", s.name),
                "listeners": s.listeners,
                "listener_peak": s.peak,
                "server_name": s.info.name.clone().unwrap_or_default(),
                "server_description": s.info.description.clone().unwrap_or_default(),
                "server_type": s.info.content_type,
                "server_url": s.info.url.clone().unwrap_or_default(),
                "genre": s.info.genre.clone().unwrap_or_default(),
                "title": s.title,
                "audio_info": s.info.audio_info.clone().unwrap_or_default(),
                "bitrate": s.info.bitrate_kbps,
                "stream_start_iso8601": iso8601(s.stream_start),
                "dummy": null,
            })
        })
        .collect();
    json!({
        "icestats": {
            "admin": "admin@localhost",
            "host": host.split(':').next().unwrap_or(host),
            "location": "Tidecast",
            "server_id": response::SERVER,
            "source": sources,
        }
    })
}

pub async fn run(mut sock: TcpStream, head: &RequestHead, mounts: &Mounts) {
    let host = head.header("host").unwrap_or("localhost").to_owned();
    let body = document(mounts, &host).to_string();
    let mut answer = response::full(
        200,
        "OK",
        "application/json; charset=utf-8",
        body.as_bytes(),
        &[],
    );
    if head.method == "HEAD" {
        let end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(answer.len(), |p| p + 4);
        answer.truncate(end);
    }
    let _ = sock.write_all(&answer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00+0000");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_801_056);
        assert_eq!(iso8601(t), "2026-11-27T17:37:36+0000");
    }
}
