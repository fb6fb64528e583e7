//! Tenant isolation: every role tries every other tenant's objects with every verb; each try
//! answers 404 (as if the object did not exist) and changes nothing.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use tidecast_tests::*;

both_backends! {
    async fn nobody_touches_another_tenant(b: Backend) {
        let (store, srv, admin) = started(b).await;
        // Two resellers with a customer each, plus a customer of the admin's own.
        let r1 = srv.create_user(&admin, "reseller1", "reseller", json!({})).await;
        let r2 = srv.create_user(&admin, "reseller2", "reseller", json!({})).await;
        let t_r1 = srv.login("reseller1", "reseller1-password").await;
        let t_r2 = srv.login("reseller2", "reseller2-password").await;
        let c1 = srv.create_user(&t_r1, "cust1", "customer", json!({})).await;
        let c2 = srv.create_user(&t_r2, "cust2", "customer", json!({})).await;
        let c3 = srv.create_user(&admin, "cust3", "customer", json!({})).await;
        let t_c1 = srv.login("cust1", "cust1-password").await;
        let t_c2 = srv.login("cust2", "cust2-password").await;
        let t_c3 = srv.login("cust3", "cust3-password").await;
        let s1 = srv.create_service(&t_r1, c1, "One", "radio").await["id"].as_i64().unwrap();
        let s2 = srv.create_service(&t_r2, c2, "Two", "video").await["id"].as_i64().unwrap();
        let s3 = srv.create_service(&admin, c3, "Three", "radio").await["id"].as_i64().unwrap();
        let (_, k1) = srv.post("/api/v1/api-keys", &t_c1, json!({"name": "c1 key"})).await;
        let k1 = k1["id"].as_i64().unwrap();
        let (_, plan) = srv.post("/api/v1/reseller-plans", &admin, json!({"name": "p2"})).await;
        let p2 = plan["id"].as_i64().unwrap();
        srv.patch(&format!("/api/v1/users/{r2}"), &admin, json!({"plan": p2})).await;

        // (actor, services it must not see, users it must not see)
        let actors = [
            ("reseller1", &t_r1, vec![s2, s3], vec![r2, c2, c3, 1]),
            ("reseller2", &t_r2, vec![s1, s3], vec![r1, c1, c3, 1]),
            ("cust1", &t_c1, vec![s2, s3], vec![r1, r2, c2, c3, 1]),
            ("cust2", &t_c2, vec![s1, s3], vec![r1, r2, c1, c3, 1]),
            ("cust3", &t_c3, vec![s1, s2], vec![r1, r2, c1, c2, 1]),
        ];
        let before = store.snapshot().await;
        for (who, token, foreign_services, foreign_users) in &actors {
            for sid in foreign_services {
                let p = format!("/api/v1/services/{sid}");
                let tries: Vec<(&str, String, Option<Value>)> = vec![
                    ("GET", p.clone(), None),
                    ("PATCH", p.clone(), Some(json!({"name": "stolen"}))),
                    ("DELETE", p.clone(), None),
                    ("POST", format!("{p}/suspend"), None),
                    ("POST", format!("{p}/unsuspend"), None),
                    ("POST", format!("{p}/rotate-credentials"), None),
                ];
                for (m, path, body) in tries {
                    let (status, resp) = srv.call(m, &path, Some(token), body).await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {m} {path} → {status} {resp}");
                    assert!(!resp.to_string().contains("stream_key") && !resp.to_string().contains("password"));
                }
            }
            for uid in foreign_users {
                let p = format!("/api/v1/users/{uid}");
                for (m, body) in [("GET", None), ("PATCH", Some(json!({"email": "x@evil.example"}))), ("DELETE", None)] {
                    let (status, resp) = srv.call(m, &p, Some(token), body).await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {m} {p} → {status} {resp}");
                }
                // Creating a service for someone else's user.
                let (status, _) = srv.post("/api/v1/services", token, json!({"owner": uid, "name": "X", "kind": "radio"})).await;
                assert!(status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN, "{who}: service for user {uid}: {status}");
            }
            // Someone else's API key and reseller plan.
            if *who != "cust1" {
                let (status, _) = srv.delete(&format!("/api/v1/api-keys/{k1}"), token).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{who} revoked cust1's key");
            }
            if *who != "reseller2" {
                let (status, _) = srv.get(&format!("/api/v1/reseller-plans/{p2}"), token).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{who} saw reseller2's plan");
            }
        }
        assert_eq!(before, store.snapshot().await, "a cross-tenant request changed the database");

        // Lists hold exactly what each may see.
        let ids = |v: &Value| -> Vec<i64> { v["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect() };
        assert_eq!(ids(&srv.get("/api/v1/services", &t_r1).await.1), vec![s1]);
        assert_eq!(ids(&srv.get("/api/v1/services", &t_r2).await.1), vec![s2]);
        assert_eq!(ids(&srv.get("/api/v1/services", &t_c3).await.1), vec![s3]);
        assert_eq!(ids(&srv.get("/api/v1/services", &admin).await.1), vec![s1, s2, s3]);
        assert_eq!(ids(&srv.get(&format!("/api/v1/services?owner={c2}"), &t_r1).await.1), Vec::<i64>::new());
        assert_eq!(ids(&srv.get("/api/v1/users", &t_r2).await.1), vec![r2, c2]);
        assert_eq!(ids(&srv.get("/api/v1/users", &t_c1).await.1), vec![c1]);
        assert_eq!(ids(&srv.get("/api/v1/reseller-plans", &t_r2).await.1), vec![p2]);
        assert_eq!(ids(&srv.get("/api/v1/reseller-plans", &t_r1).await.1), Vec::<i64>::new());
        assert_eq!(srv.get("/api/v1/services", &t_r1).await.1["total"], 1);
    }
}
