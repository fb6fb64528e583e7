//! Usage and the monthly transfer limit: bytes counted from what listeners were actually
//! sent, `report` or `suspend` past the limit, the next month lifting the suspension, and
//! the billing pull over every service a caller sees.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tidecast_tests::icecast::{ffmpeg_tone, raw_get, wait_live};
use tidecast_tests::*;

async fn wait_status(srv: &Server, token: &str, id: i64, want: &str) -> Value {
    let became = poll(within(secs(20)), async || {
        let (_, s) = srv.get(&format!("/api/v1/services/{id}"), token).await;
        if s["status"] == want { Ok(s) } else { Err(s) }
    })
    .await;
    match became {
        Ok(s) => s,
        Err(s) => {
            let (_, u) = srv
                .get(&format!("/api/v1/services/{id}/usage"), token)
                .await;
            panic!(
                "service {id} never became {want}: {s}\nusage {u}\n{}",
                srv.logs()
            );
        }
    }
}

both_backends! {
    async fn transfer_past_the_limit_reports_or_suspends_until_next_month(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let cust = srv.create_user(&admin, "metered", "customer", json!({})).await;
        let other = srv.create_user(&admin, "othercust", "customer", json!({})).await;
        // 20 KB a month: two seconds of one listener are past it.
        let mut ids = Vec::new();
        let mut pws = Vec::new();
        for (name, action) in [("Capped FM", "suspend"), ("Counted FM", "report")] {
            let (status, svc) = srv.post("/api/v1/services", &admin, json!({"owner": cust, "name": name, "kind": "radio",
                "limits": {"transfer_gb": 0.00002, "transfer_action": action}})).await;
            assert_eq!(status, StatusCode::CREATED, "{svc}");
            assert_eq!((svc["limits"]["transfer_gb"].as_f64(), svc["limits"]["transfer_action"].as_str()), (Some(0.00002), Some(action)));
            ids.push(svc["id"].as_i64().unwrap());
            pws.push((svc["slug"].as_str().unwrap().to_owned(), svc["publish"]["icecast"]["password"].as_str().unwrap().to_owned()));
        }
        srv.create_service(&admin, other, "Elsewhere FM", "radio").await;
        // Nothing sent yet: nothing used.
        let (status, u) = srv.get(&format!("/api/v1/services/{}/usage", ids[0]), &admin).await;
        assert_eq!(status, StatusCode::OK, "{u}");
        assert_eq!((u["transfer"]["bytes"].as_i64(), u["transfer"]["exceeded"].as_bool()), (Some(0), Some(false)), "{u}");
        assert_eq!(u["transfer"]["limit_bytes"], 20_000);

        // A listener on each station for two seconds.
        let mut sources = Vec::new();
        let mut sent = Vec::new();
        for (slug, pw) in &pws {
            sources.push(ffmpeg_tone(&srv, slug, "source", pw, false, 60, "Meter", 440));
            wait_live(&srv, slug);
            let (head, body) = raw_get(&srv, &format!("/{slug}"), &[], 10_000_000, Duration::from_secs(2));
            assert!(head.contains("200 OK"), "{head}");
            sent.push(body.len() as i64);
        }
        // The capped one is suspended by the limit; the counted one stays on, over its limit.
        let s = wait_status(&srv, &admin, ids[0], "suspended").await;
        assert_eq!(s["status"], "suspended");
        let (_, u) = srv.get(&format!("/api/v1/services/{}/usage", ids[0]), &admin).await;
        let bytes = u["transfer"]["bytes"].as_i64().unwrap();
        assert!(bytes >= 20_000 && bytes >= sent[0] - 8192 && bytes <= sent[0] + 70_000, "counted {bytes}, the listener read {}: {u}", sent[0]);
        assert_eq!((u["transfer"]["exceeded"].as_bool(), u["transfer"]["suspended"].as_bool()), (Some(true), Some(true)), "{u}");
        let audit = store.snapshot().await["audit_log"].to_string();
        assert!(audit.contains("over its monthly transfer"), "{audit}");
        let (head, _) = raw_get(&srv, &format!("/{}", pws[0].0), &[], 1000, Duration::from_secs(1));
        assert!(!head.contains("200 OK"), "a suspended station still serves: {head}");
        eventually(within(secs(20)), "the transfer limit to be exceeded", async || {
            let (_, u) = srv.get(&format!("/api/v1/services/{}/usage", ids[1]), &admin).await;
            if u["transfer"]["exceeded"] == true { Ok(()) } else { Err(u) }
        }).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let (_, s) = srv.get(&format!("/api/v1/services/{}", ids[1]), &admin).await;
        assert_eq!(s["status"], "active", "report only: {s}");

        // The billing pull: the admin sees every service, the customer its own.
        let (status, all) = srv.get("/api/v1/usage", &admin).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        assert_eq!(all["total"], 3);
        let owner = srv.login("metered", "metered-password").await;
        let (_, mine) = srv.get("/api/v1/usage", &owner).await;
        let slugs: Vec<&str> = mine["items"].as_array().unwrap().iter().map(|u| u["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs.len(), 2, "{mine}");
        assert!(!slugs.contains(&"elsewhere-fm"));
        let (_, last) = srv.get("/api/v1/usage?period=2026-01", &owner).await;
        assert_eq!((last["items"][0]["period"].as_str(), last["items"][0]["transfer"]["bytes"].as_i64()), (Some("2026-01"), Some(0)));
        for bad in ["2026-13", "26-01", "2026-1", "abc"] {
            let (status, e) = srv.get(&format!("/api/v1/usage?period={bad}"), &owner).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {e}");
        }
        for limits in [json!({"transfer_gb": -1}), json!({"transfer_gb": "lots"}), json!({"transfer_action": "delete"})] {
            let (status, e) = srv.patch(&format!("/api/v1/services/{}", ids[1]), &admin, json!({"limits": limits})).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{limits}: {e}");
        }

        // A new month: the suspension the limit made is lifted (with a new allowance).
        let (status, _) = srv.patch(&format!("/api/v1/services/{}", ids[0]), &admin, json!({"limits": {"transfer_gb": 10}})).await;
        assert_eq!(status, StatusCode::OK);
        store.execute(&format!("UPDATE services SET transfer_suspended = '2000-01' WHERE id = {}", ids[0])).await;
        wait_status(&srv, &admin, ids[0], "active").await;
        drop(sources);
    }
}
