//! Accounts: first-start admin, login and logout, API keys, password changes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use tidecast_tests::*;

both_backends! {
    async fn admin_from_env_password(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let token = srv.admin_token().await;
        let (status, me) = srv.get("/api/v1/me", &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["username"], "admin");
        assert_eq!(me["role"], "admin");
        assert!(me.get("password_hash").is_none(), "{me}");
        assert!(!srv.logs().contains(ADMIN_PASSWORD), "the admin password from the environment was logged");
    }

    async fn admin_random_password_printed_once(b: Backend) {
        let store = Store::new(b).await;
        let opts = Options { no_admin_password: true, ..Default::default() };
        let srv = Server::start_with(&store, opts.clone()).await.unwrap();
        let logs = srv.logs();
        let line = logs.lines().find(|l| l.contains("created the first admin")).expect("bootstrap log line");
        let password = line.split("password `").nth(1).and_then(|s| s.split('`').next()).expect("password in line");
        assert!(password.len() >= 16, "generated password is too short: {password:?}");
        srv.login("admin", password).await;
        assert_eq!(srv.stop().code(), Some(0));
        // A second start finds the admin and prints nothing.
        let srv = Server::start_with(&store, opts).await.unwrap();
        assert!(!srv.logs().contains("created the first admin"));
        srv.login("admin", password).await;
    }

    async fn login_failures_and_logout(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        for (user, pw) in [("admin", "wrong-password"), ("nobody", "whatever-pw"), ("ADMIN", "x")] {
            let (status, body) = srv.call("POST", "/api/v1/login", None, Some(json!({"username": user, "password": pw}))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        let logs = srv.logs();
        assert!(logs.contains("login failed") && logs.contains("127.0.0.1"), "failed logins are logged with the address");
        assert!(!logs.contains("wrong-password"), "a tried password reached the log");

        // Usernames are case-insensitive at login.
        let token = srv.login("Admin", ADMIN_PASSWORD).await;
        assert_eq!(srv.get("/api/v1/me", &token).await.0, StatusCode::OK);
        let (status, _) = srv.call("POST", "/api/v1/logout", Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = srv.get("/api/v1/me", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    async fn api_keys(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        srv.create_user(&admin, "alice", "customer", json!({})).await;
        srv.create_user(&admin, "bob", "customer", json!({})).await;
        let alice = srv.login("alice", "alice-password").await;
        let bob = srv.login("bob", "bob-password").await;

        let (status, created) = srv.post("/api/v1/api-keys", &alice, json!({"name": "billing"})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("tck_") && key.len() >= 40, "{key}");
        let key_id = created["id"].as_i64().unwrap();

        // The key works like a login token.
        let (status, me) = srv.get("/api/v1/me", &key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["username"], "alice");

        // Lists show the prefix, never the key; a customer sees only its own keys.
        let (_, list) = srv.get("/api/v1/api-keys", &alice).await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["name"], "billing");
        assert!(list["items"][0].get("key").is_none());
        assert!(key.starts_with(list["items"][0]["prefix"].as_str().unwrap()));
        assert!(!list.to_string().contains(&key));
        assert!(srv.get("/api/v1/api-keys", &bob).await.1["items"].as_array().unwrap().is_empty());
        // An admin sees everyone's.
        assert_eq!(srv.get("/api/v1/api-keys", &admin).await.1["total"], 1);

        // Someone else cannot revoke it (and cannot learn it exists).
        let (status, _) = srv.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), Some(&bob), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(srv.get("/api/v1/me", &key).await.0, StatusCode::OK);

        // The owner revokes it; it stops working at once and shows as revoked.
        let (status, _) = srv.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), Some(&alice), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(srv.get("/api/v1/me", &key).await.0, StatusCode::UNAUTHORIZED);
        let (_, list) = srv.get("/api/v1/api-keys", &alice).await;
        assert!(list["items"][0]["revoked_at"].is_string(), "{list}");
        // A key without a name gets one; logout with a key is refused, not silently ignored.
        let (_, unnamed) = srv.call("POST", "/api/v1/api-keys", Some(&bob), None).await;
        assert_eq!(unnamed["name"], "API key");
        let bob_key = unnamed["key"].as_str().unwrap();
        assert_eq!(srv.call("POST", "/api/v1/logout", Some(bob_key), None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!srv.logs().contains(&key), "an API key reached the log");
    }

    async fn password_change_ends_other_logins(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let id = srv.create_user(&admin, "carol", "customer", json!({})).await;
        let laptop = srv.login("carol", "carol-password").await;
        let phone = srv.login("carol", "carol-password").await;
        let (status, body) = srv
            .call("PATCH", &format!("/api/v1/users/{id}"), Some(&laptop), Some(json!({"password": "new-password-9", "current_password": "carol-password"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(srv.get("/api/v1/me", &laptop).await.0, StatusCode::OK, "the session that changed it stays");
        assert_eq!(srv.get("/api/v1/me", &phone).await.0, StatusCode::UNAUTHORIZED, "other sessions end");
        let (status, _) = srv.call("POST", "/api/v1/login", None, Some(json!({"username":"carol","password":"carol-password"}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        srv.login("carol", "new-password-9").await;
        // An admin resetting it ends all of carol's sessions.
        srv.call("PATCH", &format!("/api/v1/users/{id}"), Some(&admin), Some(json!({"password": "reset-password-1"}))).await;
        assert_eq!(srv.get("/api/v1/me", &laptop).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(srv.get("/api/v1/me", &admin).await.0, StatusCode::OK);
    }

    async fn three_roles(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let res_id = srv.create_user(&admin, "resl", "reseller", json!({})).await;
        let reseller = srv.login("resl", "resl-password").await;

        // A reseller creates customers (and only customers); they belong to it.
        let (status, cust) = srv.post("/api/v1/users", &reseller, json!({"username":"rcust","password":"rc-password"})).await;
        assert_eq!(status, StatusCode::CREATED, "{cust}");
        assert_eq!(cust["role"], "customer");
        assert_eq!(cust["reseller"], res_id);
        for role in ["reseller", "admin"] {
            let (status, _) = srv.post("/api/v1/users", &reseller, json!({"username":"x1","password":"x1-password","role":role})).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "a reseller created a {role}");
        }
        // The reseller creates a service for its customer; it cannot own one itself.
        let cust_id = cust["id"].as_i64().unwrap();
        let (status, svc) = srv.post("/api/v1/services", &reseller, json!({"owner": cust_id, "name": "RC Radio", "kind": "radio"})).await;
        assert_eq!(status, StatusCode::CREATED, "{svc}");
        let (status, _) = srv.post("/api/v1/services", &reseller, json!({"owner": res_id, "name": "Mine", "kind": "radio"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // The customer sees its service with credentials, may rename it and rotate its
        // credentials, but not change limits, suspend or delete it, nor create anything.
        let customer = srv.login("rcust", "rc-password").await;
        let sid = svc["id"].as_i64().unwrap();
        let path = format!("/api/v1/services/{sid}");
        let (status, mine) = srv.get(&path, &customer).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(mine["publish"]["icecast"]["password"], svc["publish"]["icecast"]["password"]);
        let (status, renamed) = srv.call("PATCH", &path, Some(&customer), Some(json!({"name": "Renamed"}))).await;
        assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Renamed")));
        assert_eq!(srv.call("PATCH", &path, Some(&customer), Some(json!({"limits": {"max_listeners": 5}}))).await.0, StatusCode::FORBIDDEN);
        assert_eq!(srv.post(&format!("{path}/suspend"), &customer, json!({})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(srv.call("DELETE", &path, Some(&customer), None).await.0, StatusCode::FORBIDDEN);
        assert_eq!(srv.post(&format!("{path}/rotate-credentials"), &customer, json!({})).await.0, StatusCode::OK);
        assert_eq!(srv.post("/api/v1/users", &customer, json!({"username":"x2","password":"x2-password"})).await.0, StatusCode::FORBIDDEN);
        // A customer may create its own services only with its provider's limits, and only
        // while the system settings allow it.
        let (status, e) = srv.post("/api/v1/services", &customer, json!({"name": "X", "kind": "radio", "limits": {"max_listeners": 5000}})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(srv.call("PUT", "/api/v1/settings", Some(&customer), Some(json!({"customers_create_services": false}))).await.0, StatusCode::FORBIDDEN);
        let (status, set) = srv.call("PUT", "/api/v1/settings", Some(&admin), Some(json!({"customers_create_services": false}))).await;
        assert_eq!((status, &set["customers_create_services"]), (StatusCode::OK, &json!(false)));
        let (status, e) = srv.post("/api/v1/services", &customer, json!({"owner": cust_id, "name": "X", "kind": "radio"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("provider"), "{e}");
        assert_eq!(srv.get("/api/v1/reseller-plans", &customer).await.0, StatusCode::FORBIDDEN);

        // The reseller suspends its customer's service; the admin can undo it.
        let (status, s) = srv.post(&format!("{path}/suspend"), &reseller, json!({})).await;
        assert_eq!((status, s["status"].as_str()), (StatusCode::OK, Some("suspended")));
        let (status, s) = srv.post(&format!("{path}/unsuspend"), &admin, json!({})).await;
        assert_eq!((status, s["status"].as_str()), (StatusCode::OK, Some("active")));

        // Lists: admin sees all users, the reseller itself and its customer, the customer itself.
        assert_eq!(srv.get("/api/v1/users", &admin).await.1["total"], 3);
        let (_, rl) = srv.get("/api/v1/users", &reseller).await;
        let names: Vec<_> = rl["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["resl", "rcust"]);
        let (_, cl) = srv.get("/api/v1/users", &customer).await;
        assert_eq!((cl["total"].as_i64(), cl["items"][0]["username"].as_str()), (Some(1), Some("rcust")));
        // Deleting: a reseller deletes its customer once the services are gone.
        let cpath = format!("/api/v1/users/{cust_id}");
        assert_eq!(srv.call("DELETE", &cpath, Some(&reseller), None).await.0, StatusCode::CONFLICT);
        assert_eq!(srv.call("DELETE", &path, Some(&reseller), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(srv.call("DELETE", &cpath, Some(&reseller), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(srv.get("/api/v1/me", &customer).await.0, StatusCode::UNAUTHORIZED, "a deleted user's token ends");
    }
}
