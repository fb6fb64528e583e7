//! The billing verbs: provisioning a customer with its service in one idempotent call,
//! suspending a whole account (a customer's or a reseller's), stopping a live source,
//! restarting AutoDJ; each refused to those who may not.

#![allow(clippy::unwrap_used)]

use tidecast_tests::icecast::{ffmpeg_tone, wait_live};
use tidecast_tests::*;

/// Every table as it was, but the callers' own login bookkeeping (an API key's or session's
/// last use): a refused provisioning leaves no user, service, credential, audit line or
/// claimed client id behind.
fn assert_unchanged(before: &Value, after: &Value, case: &str) {
    let tables = before.as_object().unwrap();
    assert!(
        tables.contains_key("users") && tables.contains_key("audit_log"),
        "{before}"
    );
    for (table, rows) in tables {
        if matches!(table.as_str(), "api_keys" | "login_sessions") {
            continue;
        }
        assert_eq!(
            rows, &after[table],
            "{table} changed by a refused provisioning ({case})"
        );
    }
}

both_backends! {
    async fn provisioning_is_idempotent_and_all_or_nothing(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let (_, key) = srv.post("/api/v1/api-keys", &admin, json!({"name": "WHMCS"})).await;
        let key = key["key"].as_str().unwrap().to_owned();
        let order = json!({
            "client_id": "whmcs-order-1001",
            "customer": {"username": "paying", "password": "paying-password", "email": "pay@example.com"},
            "service": {"name": "Paid FM", "kind": "radio", "limits": {"max_listeners": 250, "transfer_gb": 100}},
        });
        let (status, first) = srv.post("/api/v1/provision", &key, order.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!((first["replayed"].as_bool(), first["customer"]["username"].as_str()), (Some(false), Some("paying")));
        assert_eq!(first["service"]["limits"]["max_listeners"], 250);
        assert_eq!(first["service"]["owner"], first["customer"]["id"]);
        assert!(first["service"]["publish"]["icecast"]["password"].is_string());
        // The same call again (a retry after a timeout): the same customer and service.
        let (status, again) = srv.post("/api/v1/provision", &key, order.clone()).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["replayed"], true);
        assert_eq!((again["customer"]["id"].clone(), again["service"]["id"].clone()), (first["customer"]["id"].clone(), first["service"]["id"].clone()));
        let snap = store.snapshot().await;
        assert_eq!(snap["users"].as_array().unwrap().len(), 2);
        assert_eq!(snap["services"].as_array().unwrap().len(), 1);
        // The same id for another order is refused.
        let mut other = order.clone();
        other["service"]["name"] = json!("Another FM");
        let (status, e) = srv.post("/api/v1/provision", &key, other).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");

        // All or nothing: a service that cannot be made takes the new customer back out.
        let before = store.snapshot().await;
        let bad = json!({"client_id": "whmcs-order-1002",
            "customer": {"username": "halfway", "password": "halfway-password"},
            "service": {"name": "Bad", "kind": "radio", "slug": first["service"]["slug"]}});
        let (status, e) = srv.post("/api/v1/provision", &key, bad).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with("service: "), "{e}");
        assert_unchanged(&before, &store.snapshot().await, "a taken slug");
        // A reseller over its plan: the customer is made, then the service step fails.
        let (_, plan) = srv.post("/api/v1/reseller-plans", &admin, json!({"name": "full", "max_services": 0})).await;
        srv.create_user(&admin, "tightreseller", "reseller", json!({"plan": plan["id"]})).await;
        let reseller = srv.login("tightreseller", "tightreseller-password").await;
        let before = store.snapshot().await;
        let over = json!({"client_id": "whmcs-order-1003",
            "customer": {"username": "overplan", "password": "overplan-password"},
            "service": {"name": "Over", "kind": "video"}});
        let (status, e) = srv.post("/api/v1/provision", &reseller, over).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with("service: your plan allows 0 services"), "{e}");
        assert_unchanged(&before, &store.snapshot().await, "a reseller over its plan");
        let (status, e) = srv.post("/api/v1/provision", &key, json!({"client_id": "x", "customer": {"username": "ab"}, "service": {}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(store.snapshot().await["users"], before["users"]);
        // Customers cannot provision.
        let cust = srv.login("paying", "paying-password").await;
        assert_eq!(srv.post("/api/v1/provision", &cust, order).await.0, StatusCode::FORBIDDEN);
    }

    async fn whole_accounts_suspend_and_sources_stop(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let res = srv.create_user(&admin, "resl", "reseller", json!({})).await;
        let reseller = srv.login("resl", "resl-password").await;
        let c1 = srv.create_user(&reseller, "cone", "customer", json!({})).await;
        let c2 = srv.create_user(&reseller, "ctwo", "customer", json!({})).await;
        let s1 = srv.create_service(&reseller, c1, "One FM", "radio").await;
        let s2 = srv.create_service(&reseller, c2, "Two FM", "radio").await;
        let s3 = srv.create_service(&reseller, c2, "Three FM", "radio").await;
        let status_of = |v: &Value| v["id"].as_i64().unwrap();
        // A customer's account: both its services.
        let (status, r) = srv.post(&format!("/api/v1/users/{c2}/suspend"), &reseller, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        let mut ids: Vec<i64> = r["services"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, [status_of(&s2), status_of(&s3)]);
        assert_eq!(srv.get(&format!("/api/v1/services/{}", status_of(&s1)), &admin).await.1["status"], "active");
        // A reseller's: every customer's service (the one left).
        let (_, r) = srv.post(&format!("/api/v1/users/{res}/suspend"), &admin, json!({})).await;
        assert_eq!(r["services"], json!([status_of(&s1)]));
        let (_, r) = srv.post(&format!("/api/v1/users/{res}/unsuspend"), &admin, json!({})).await;
        assert_eq!(r["services"].as_array().unwrap().len(), 3);
        // Who may: not the customer itself, not another reseller.
        let cone = srv.login("cone", "cone-password").await;
        assert_eq!(srv.post(&format!("/api/v1/users/{c1}/suspend"), &cone, json!({})).await.0, StatusCode::FORBIDDEN);
        srv.create_user(&admin, "rtwo", "reseller", json!({})).await;
        let rtwo = srv.login("rtwo", "rtwo-password").await;
        assert_eq!(srv.post(&format!("/api/v1/users/{c1}/suspend"), &rtwo, json!({})).await.0, StatusCode::NOT_FOUND);

        // Stopping the live source: it is dropped; the owner may do it too.
        let slug = s1["slug"].as_str().unwrap();
        let pw = s1["publish"]["icecast"]["password"].as_str().unwrap();
        let _src = ffmpeg_tone(&srv, slug, "source", pw, false, 30, "Stop me", 440);
        wait_live(&srv, slug);
        let (status, r) = srv.post(&format!("/api/v1/services/{}/source/stop", status_of(&s1)), &cone, json!({})).await;
        assert_eq!((status, r["dropped"].as_i64()), (StatusCode::OK, Some(1)), "{r}");
        assert!(store.snapshot().await["audit_log"].to_string().contains("service.source_stop"));
        assert_eq!(srv.post(&format!("/api/v1/services/{}/source/stop", status_of(&s1)), &rtwo, json!({})).await.0, StatusCode::NOT_FOUND);
        // AutoDJ restart needs AutoDJ running.
        let (status, _) = srv.post(&format!("/api/v1/services/{}/autodj/restart", status_of(&s1)), &cone, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}
