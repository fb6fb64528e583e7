//! Statistics reports from real listeners: ffmpeg listening with player user agents, a
//! listener from a second address, titles sent by the source (one of them a spreadsheet
//! formula). The JSON report, its CSV exports (formulas escaped), the history chart at
//! hour and minute steps, and bad ranges.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"win\")";

/// ffmpeg reading `mount` for `secs` seconds with a player's user agent.
fn ffmpeg_listener(srv: &Server, mount: &str, agent: &str, secs: u32) -> Proc {
    Proc(
        Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-user_agent",
                agent,
                "-t",
                &secs.to_string(),
                "-i",
            ])
            .arg(format!("http://{}/{mount}", srv.icecast))
            .args(["-f", "null", "-"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A listener from 127.0.0.2 (a second address on loopback) that reads for `secs`.
async fn listener_from_second_address(icecast: &str, mount: &str, secs: u64) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = sock.connect(icecast.parse().unwrap()).await.unwrap();
    s.write_all(format!("GET /{mount} HTTP/1.0\r\nUser-Agent: Winamp/5.9\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = vec![0u8; 16 * 1024];
    while Instant::now() < end {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            _ => {}
        }
    }
}

async fn csv(srv: &Server, token: &str, path: &str) -> (StatusCode, String, String, String) {
    let resp = reqwest::Client::new()
        .get(srv.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (ct, cd) = (h("content-type"), h("content-disposition"));
    (status, ct, cd, resp.text().await.unwrap())
}

both_backends! {
    async fn reports_from_real_listeners(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, pw) = radio(&srv, "ReportsFM", json!({})).await;
        let owner = srv.login("ReportsFM-owner", "ReportsFM-owner-password").await;
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 90);
        wait_live(&srv, &mount);
        set_title(&srv, &mount, &pw, "Artist A - First");

        // Three listeners at once: two ffmpeg players from 127.0.0.1, one from 127.0.0.2.
        let vlc = ffmpeg_listener(&srv, &mount, "VLC/3.0.18 LibVLC/3.0.18", 6);
        let chrome = ffmpeg_listener(&srv, &mount,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", 6);
        let second = tokio::spawn(listener_from_second_address(srv.icecast.clone().leak(), mount.clone().leak(), 5));
        let wait = within(secs(10)).every(Duration::from_millis(100));
        eventually(wait, "three listeners", async || {
            let n = listeners_of(&srv, &mount);
            if n >= 3 { Ok(()) } else { Err(format!("{n} listeners")) }
        }).await;
        // A DJ's software sends a title that is a spreadsheet formula, while all three listen.
        set_title(&srv, &mount, &pw, FORMULA);
        second.await.unwrap();
        for mut p in [vlc, chrome] {
            p.wait().unwrap();
        }

        let base = format!("/api/v1/services/{id}/stats/report");
        let report = eventually(within(secs(15)), "the three sessions to be stored", async || {
            let (status, r) = srv.get(&base, &owner).await;
            assert_eq!(status, StatusCode::OK, "{r}");
            if r["summary"]["sessions"] == 3 { Ok(r) } else { Err(r) }
        }).await;
        let s = &report["summary"];
        assert_eq!(s["peak_listeners"], 3, "{report}");
        assert_eq!(s["unique_listeners"], 2, "two addresses: {report}");
        assert!(s["listening_hours"].as_f64().unwrap() > 0.0, "{report}");
        assert!(s["average_session_seconds"].as_i64().unwrap() >= 3, "{report}");
        assert!(s["bytes"].as_i64().unwrap() > 3 * 40_000, "about 5 s of 128 kbit/s each: {report}");
        assert_eq!(s["plays"], 2, "{report}");
        // Mounts by name, as in the Icecast URL (`mount=` takes it with or without its slash).
        assert_eq!(report["mounts"][0]["mount"], mount.as_str());
        assert_eq!(report["mounts"][0]["peak_listeners"], 3);
        let agents = report["user_agents"].as_array().unwrap();
        let clients: Vec<&str> = agents.iter().map(|a| a["client"].as_str().unwrap()).collect();
        for c in ["VLC", "Chrome", "Winamp"] {
            assert!(clients.contains(&c), "{c} in {agents:?}");
        }
        let tracks = report["tracks"].as_array().unwrap();
        let formula = tracks.iter().find(|t| t["title"] == FORMULA).unwrap();
        assert_eq!(formula["plays"], 1);
        assert_eq!(formula["max_listeners"], 3, "listeners when it started: {formula}");
        let first = tracks.iter().find(|t| t["title"] == "Artist A - First").unwrap();
        assert_eq!(first["max_listeners"], 0);

        // CSV: the formula is text (prefixed with '), quoted per RFC 4180, a file to save.
        let (status, ct, cd, body) = csv(&srv, &owner, &format!("{base}/tracks?format=csv")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ct, "text/csv; charset=utf-8");
        assert!(cd.starts_with(&format!("attachment; filename=\"{mount}-tracks-")), "{cd}");
        let mut lines = body.split("\r\n");
        assert_eq!(lines.next(), Some("title,plays,average_listeners,max_listeners,last_played"));
        assert!(body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"win\"\")\",1,3,3,"), "{body}");
        assert!(!body.contains("\n="), "no cell starts with a formula: {body}");
        let (_, _, _, sessions) = csv(&srv, &owner, &format!("{base}/sessions?format=csv")).await;
        let rows: Vec<&str> = sessions.trim_end().split("\r\n").collect();
        assert_eq!(rows.len(), 4, "a header and three sessions: {sessions}");
        assert!(sessions.contains("127.0.0.2") && sessions.contains("Winamp/5.9"), "{sessions}");
        let (_, _, _, agents_csv) = csv(&srv, &owner, &format!("{base}/user_agents?format=csv")).await;
        assert!(agents_csv.starts_with("user_agent,client,sessions,unique_listeners,listening_hours\r\n"));
        let (_, _, _, summary_csv) = csv(&srv, &owner, &format!("{base}/summary?format=csv")).await;
        assert_eq!(summary_csv.trim_end().split("\r\n").count(), 2, "{summary_csv}");
        let (status, one) = srv.get(&format!("{base}/mounts"), &owner).await;
        assert_eq!((status, one[0]["peak_listeners"].as_i64()), (StatusCode::OK, Some(3)));

        // History: hour steps (from the rollups' code path) and minute steps (swept).
        let now = chrono::Utc::now().timestamp();
        let (status, hourly) = srv.get(&format!("/api/v1/services/{id}/stats/history?from={}&to={now}&step=3600", now - 6 * 3600), &owner).await;
        assert_eq!(status, StatusCode::OK, "{hourly}");
        assert_eq!(hourly["from"].as_i64().unwrap() % 3600, 0, "widened to whole hours");
        let last = hourly["points"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["listeners"].as_i64(), last["sessions"].as_i64()), (Some(3), Some(3)), "{hourly}");
        let (_, fine) = srv.get(&format!("/api/v1/services/{id}/stats/history?from={}&to={now}&step=60&mount=/{mount}", now - 600), &owner).await;
        let peak = fine["points"].as_array().unwrap().iter().map(|p| p["listeners"].as_i64().unwrap()).max();
        assert_eq!(peak, Some(3), "{fine}");
        let listeners_csv = csv(&srv, &owner, &format!("{base}/listeners?format=csv&from={}&to={now}&step=3600", now - 7200)).await.3;
        assert!(listeners_csv.starts_with("time,listeners,listener_hours,sessions,bytes\r\n"), "{listeners_csv}");

        // Bad ranges: a clear 400 (or 404 for an unknown report), never a partial answer.
        let year = 366 * 86_400;
        for (q, status) in [
            (format!("/stats/history?from={now}&to={}", now - 10), StatusCode::BAD_REQUEST),
            ("/stats/history?from=yesterday".to_owned(), StatusCode::BAD_REQUEST),
            (format!("/stats/history?from={}&to={now}&step=60", now - year), StatusCode::BAD_REQUEST),
            (format!("/stats/history?from={}&to={now}&step=600", now - 60 * 86_400), StatusCode::BAD_REQUEST),
            (format!("/stats/history?from={}&to={now}", now - 3 * year), StatusCode::BAD_REQUEST),
            ("/stats/history?step=10".to_owned(), StatusCode::BAD_REQUEST),
            // Extremes that once overflowed or looped: a clear 400 each.
            (format!("/stats/history?from={}&to={now}&step=9223372036854775807", now - 3600), StatusCode::BAD_REQUEST),
            (format!("/stats/history?from={}&to={now}&step=9223372036854774000", now - 3600), StatusCode::BAD_REQUEST),
            ("/stats/history?from=-9223372036854775808".to_owned(), StatusCode::BAD_REQUEST),
            ("/stats/report?to=-5".to_owned(), StatusCode::BAD_REQUEST),
            ("/stats/report/listeners?to=9223372036854775807".to_owned(), StatusCode::BAD_REQUEST),
            ("/stats/report/countries".to_owned(), StatusCode::NOT_FOUND),
            ("/stats/report/tracks?format=xml".to_owned(), StatusCode::BAD_REQUEST),
            (format!("/stats/report?from={}&to={now}", now - 3 * year), StatusCode::BAD_REQUEST),
        ] {
            let (got, body) = srv.get(&format!("/api/v1/services/{id}{q}"), &owner).await;
            assert_eq!(got, status, "{q}: {body}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{q}: {body}");
        }
        // A year of history at a step of a day answers (from the rollups).
        let (status, year_view) = srv.get(&format!("/api/v1/services/{id}/stats/history?from={}&to={now}&step=86400", now - year), &owner).await;
        assert_eq!(status, StatusCode::OK, "{year_view}");
        assert_eq!(year_view["points"].as_array().unwrap().len(), 367);

        // /metrics counts the same bytes live: what was sent, and what the source sent in.
        let admin = srv.admin_token().await;
        let (status, _, body) = srv.fetch("/metrics", &[("authorization", &format!("Bearer {admin}"))]).await;
        assert_eq!(status, StatusCode::OK);
        let samples = parse_metrics(&String::from_utf8(body).unwrap());
        let value = |name: &str| {
            samples.iter()
                .find(|(n, l, _)| n == name && l.get("service").map(String::as_str) == Some(id.to_string().as_str()))
                .map(|(_, _, v)| *v)
                .unwrap_or_else(|| panic!("no {name} for service {id}"))
        };
        let sent = value("tidecast_bytes_sent_total");
        assert!(sent >= s["bytes"].as_f64().unwrap(), "{sent} sent vs the report's {}", s["bytes"]);
        assert!(value("tidecast_source_received_bytes_total") > 50_000.0);

        // Another customer sees none of it.
        srv.create_user(&admin, "nosy", "customer", json!({})).await;
        let nosy = srv.login("nosy", "nosy-password").await;
        assert_eq!(srv.get(&base, &nosy).await.0, StatusCode::NOT_FOUND);
        assert_eq!(csv(&srv, &nosy, &format!("{base}/sessions?format=csv")).await.0, StatusCode::NOT_FOUND);
    }
}
