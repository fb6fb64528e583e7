//! Services: creation and the links it hands out, slugs, limits, suspension, credential
//! rotation, deletion, and reseller plans.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use tidecast_tests::*;

both_backends! {
    async fn create_radio_and_video(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let owner = srv.create_user(&admin, "owner", "customer", json!({})).await;
        let icecast_port: u16 = srv.icecast.rsplit(':').next().unwrap().parse().unwrap();
        let rtmp_port: u16 = srv.rtmp.rsplit(':').next().unwrap().parse().unwrap();

        let radio = srv.create_service(&admin, owner, "Jazz FM — Late Night", "radio").await;
        assert_eq!(radio["slug"], "jazz-fm-late-night");
        assert_eq!(radio["kind"], "radio");
        assert_eq!(radio["status"], "active");
        assert_eq!(radio["owner"], owner);
        let ice = &radio["publish"]["icecast"];
        assert_eq!(ice["port"], icecast_port);
        assert_eq!(ice["mount"], "/jazz-fm-late-night");
        assert_eq!(ice["username"], "source");
        assert!(ice["password"].as_str().unwrap().len() >= 22, "source password under 128 bits: {ice}");
        assert_eq!(radio["urls"]["listen"], format!("http://127.0.0.1:{icecast_port}/jazz-fm-late-night"));
        assert_eq!(radio["urls"]["hls"], srv.url("/hls/jazz-fm-late-night/index.m3u8"));
        assert_eq!(radio["urls"]["player"], srv.url("/player/jazz-fm-late-night"));
        assert_eq!(radio["limits"]["autodj"], true);

        let video = srv.post("/api/v1/services", &admin, json!({"owner": owner, "name": "Cam", "kind": "video",
            "limits": {"max_listeners": 20, "dvr_minutes": 120, "transcode": true}})).await.1;
        let rtmp = &video["publish"]["rtmp"];
        assert_eq!(rtmp["url"], format!("rtmp://127.0.0.1:{rtmp_port}/live"));
        let key = rtmp["stream_key"].as_str().unwrap();
        assert!(key.len() >= 22 && key.chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
        assert_eq!(video["urls"]["hls"], srv.url("/hls/cam/index.m3u8"));
        assert_eq!(video["urls"]["dvr"], srv.url("/hls/cam/dvr.m3u8"));
        assert_eq!(video["limits"], json!({"max_listeners": 20, "max_bitrate_kbps": 6000, "disk_quota_mb": 5120,
            "dvr_minutes": 120, "transcode": true, "autodj": false, "transfer_gb": 0.0, "transfer_action": "report",
            "restream": ["rtmp", "icecast", "shoutcast"], "relay": true}));

        // Same name again: the generated slug moves on; an explicit taken slug is a 409.
        let again = srv.create_service(&admin, owner, "Cam", "video").await;
        assert_eq!(again["slug"], "cam-2");
        assert_ne!(again["publish"]["rtmp"]["stream_key"], video["publish"]["rtmp"]["stream_key"]);
        let (status, _) = srv.post("/api/v1/services", &admin, json!({"owner": owner, "name": "X", "kind": "radio", "slug": "cam"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, own) = srv.post("/api/v1/services", &admin, json!({"owner": owner, "name": "X", "kind": "radio", "slug": "my-own"})).await;
        assert_eq!((status, own["slug"].as_str()), (StatusCode::CREATED, Some("my-own")));
        // Paging.
        let (_, page) = srv.get("/api/v1/services?limit=2&offset=1", &admin).await;
        assert_eq!(page["total"], 4);
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        assert_eq!(page["items"][0]["slug"], "cam");
        // Secrets never reach the log.
        let logs = srv.logs();
        assert!(!logs.contains(key) && !logs.contains(ice["password"].as_str().unwrap()), "a credential was logged");
    }

    async fn patch_suspend_rotate_delete(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let owner = srv.create_user(&admin, "owner", "customer", json!({})).await;
        let svc = srv.create_service(&admin, owner, "Rock", "radio").await;
        let id = svc["id"].as_i64().unwrap();
        let path = format!("/api/v1/services/{id}");

        let (status, p) = srv.patch(&path, &admin, json!({"kind": "radio", "limits": {"max_listeners": 7, "transcode": true}})).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["limits"]["max_listeners"], 7);
        assert_eq!(p["limits"]["transcode"], true);
        assert_eq!(p["limits"]["max_bitrate_kbps"], 320, "unnamed limits keep their values");
        let (status, p) = srv.patch(&path, &admin, json!({"slug": "rock-fm"})).await;
        assert_eq!((status, p["slug"].as_str()), (StatusCode::OK, Some("rock-fm")));
        assert_eq!(p["publish"]["icecast"]["mount"], "/rock-fm");

        let (status, s) = srv.post(&format!("{path}/suspend"), &admin, json!({})).await;
        assert_eq!((status, s["status"].as_str()), (StatusCode::OK, Some("suspended")));
        assert_eq!(srv.get(&path, &admin).await.1["status"], "suspended");
        let (status, s) = srv.post(&format!("{path}/unsuspend"), &admin, json!({})).await;
        assert_eq!((status, s["status"].as_str()), (StatusCode::OK, Some("active")));

        let (status, r) = srv.post(&format!("{path}/rotate-credentials"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(r["publish"]["icecast"]["password"], svc["publish"]["icecast"]["password"]);
        assert_eq!(srv.get(&path, &admin).await.1["publish"], r["publish"], "rotation is stored");

        assert_eq!(srv.delete(&path, &admin).await.0, StatusCode::NO_CONTENT);
        assert_eq!(srv.get(&path, &admin).await.0, StatusCode::NOT_FOUND);
        assert_eq!(srv.delete(&path, &admin).await.0, StatusCode::NOT_FOUND);
        // The owner stays, and the slug is free again.
        assert_eq!(srv.get(&format!("/api/v1/users/{owner}"), &admin).await.0, StatusCode::OK);
        let (status, _) = srv.post("/api/v1/services", &admin, json!({"owner": owner, "name": "Rock", "kind": "radio", "slug": "rock-fm"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    async fn reseller_plan_limits(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let (status, plan) = srv.post("/api/v1/reseller-plans", &admin, json!({"name": "Starter",
            "max_customers": 2, "max_services": 2, "max_listeners": 150, "max_disk_mb": 3000})).await;
        assert_eq!(status, StatusCode::CREATED, "{plan}");
        let plan_id = plan["id"].as_i64().unwrap();
        srv.create_user(&admin, "res", "reseller", json!({"plan": plan_id})).await;
        let res = srv.login("res", "res-password").await;
        assert_eq!(srv.get("/api/v1/reseller-plans", &res).await.1["items"][0]["name"], "Starter");

        let a = srv.create_user(&res, "cust-a", "customer", json!({})).await;
        srv.create_user(&res, "cust-b", "customer", json!({})).await;
        let (status, err) = srv.post("/api/v1/users", &res, json!({"username": "cust-c", "password": "cust-c-password"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["code"], "plan_limit");
        assert!(err["error"]["message"].as_str().unwrap().contains('2'), "{err}");

        // 100 listeners + 1024 MB each by default: the second service fits listeners only at 50.
        let s1 = srv.post("/api/v1/services", &res, json!({"owner": a, "name": "S1", "kind": "radio"})).await;
        assert_eq!(s1.0, StatusCode::CREATED);
        let (status, err) = srv.post("/api/v1/services", &res, json!({"owner": a, "name": "S2", "kind": "radio"})).await;
        assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan_limit")), "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("at most 50"), "{err}");
        let (status, err) = srv.post("/api/v1/services", &res, json!({"owner": a, "name": "S2", "kind": "radio",
            "limits": {"max_listeners": 50, "disk_quota_mb": 2000}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "disk over plan: {err}");
        let s2 = srv.post("/api/v1/services", &res, json!({"owner": a, "name": "S2", "kind": "radio",
            "limits": {"max_listeners": 50, "disk_quota_mb": 1000}})).await;
        assert_eq!(s2.0, StatusCode::CREATED, "{}", s2.1);
        let (status, _) = srv.post("/api/v1/services", &res, json!({"owner": a, "name": "S3", "kind": "radio",
            "limits": {"max_listeners": 0, "disk_quota_mb": 0}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "max_services");

        // Changing limits is checked too, counting the service's own current share out.
        let s1_path = format!("/api/v1/services/{}", s1.1["id"]);
        let (status, _) = srv.patch(&s1_path, &res, json!({"limits": {"max_listeners": 101}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = srv.patch(&s1_path, &res, json!({"limits": {"max_listeners": 100, "max_bitrate_kbps": 128}})).await;
        assert_eq!(status, StatusCode::OK);
        // Unlimited (no plan): the admin lifts the plan, the reseller may grow.
        srv.patch(&format!("/api/v1/users/{}", srv.get("/api/v1/me", &res).await.1["id"]), &admin, json!({"plan": null})).await;
        let (status, _) = srv.patch(&s1_path, &res, json!({"limits": {"max_listeners": 5000}})).await;
        assert_eq!(status, StatusCode::OK);
        // The admin is not bound by a reseller's plan, and can change plans.
        let (status, p) = srv.patch(&format!("/api/v1/reseller-plans/{plan_id}"), &admin, json!({"max_services": null, "name": "Starter+"})).await;
        assert_eq!((status, p["max_services"].clone(), p["max_customers"].clone()), (StatusCode::OK, Value::Null, json!(2)));
    }
}

both_backends! {
    async fn a_stored_setting_that_does_not_decode_is_reported_not_read_as_off(b: Backend) {
        let (store, srv, admin) = started(b).await;
        let owner = srv.create_user(&admin, "owner", "customer", json!({})).await;
        let tv = srv.create_service(&admin, owner, "Broken TV", "video").await;
        let id = tv["id"].as_i64().unwrap();
        let (_, stats) = srv.get(&format!("/api/v1/services/{id}/stats"), &admin).await;
        assert_eq!(stats["problems"], json!([]), "{stats}");
        // What a hand edit (or a newer build) might leave: not a ladder this build reads.
        store
            .execute(&format!(
                "UPDATE services SET transcode = 1, transcode_json = '{{\"renditions\": \"all\"}}' WHERE id = {id}"
            ))
            .await;
        let (status, stats) = srv.get(&format!("/api/v1/services/{id}/stats"), &admin).await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        let problem = stats["problems"][0].as_str().unwrap_or_default().to_owned();
        assert!(problem.starts_with("the stored transcoding ladder cannot be read"), "{stats}");
        let (_, ladder) = srv.get(&format!("/api/v1/services/{id}/transcode"), &admin).await;
        assert_eq!(ladder["problem"], json!(problem), "{ladder}");
        let (_, system) = srv.get("/api/v1/system", &admin).await;
        let listed = system["problems"].as_array().unwrap().iter().any(|p| {
            p["service"] == id && p["kind"] == "unreadable_settings" && p["message"] == json!(problem)
        });
        assert!(listed, "{system}");
        // Said once in the log, however often the row is read.
        srv.get(&format!("/api/v1/services/{id}"), &admin).await;
        assert_eq!(srv.logs().matches("the stored transcoding ladder cannot be read").count(), 1, "{}", srv.logs());
        // Setting it again clears the problem.
        let (status, _) = srv.put(&format!("/api/v1/services/{id}/transcode"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, stats) = srv.get(&format!("/api/v1/services/{id}/stats"), &admin).await;
        assert_eq!(stats["problems"], json!([]), "{stats}");
    }
}
