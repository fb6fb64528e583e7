//! The binary's life: health, configuration precedence, graceful shutdown, restarts that
//! keep everything, the demo seed, and secrets kept out of logs.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use tidecast_tests::*;

both_backends! {
    async fn restart_keeps_all_data(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (status, health) = srv.call("GET", "/healthz", None, None).await;
        assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
        let admin = srv.admin_token().await;
        let (_, plan) = srv.post("/api/v1/reseller-plans", &admin, json!({"name": "Gold", "max_services": 9})).await;
        let res = srv.create_user(&admin, "res", "reseller", json!({"plan": plan["id"], "email": "res@example.com"})).await;
        let reseller = srv.login("res", "res-password").await;
        let cust = srv.create_user(&reseller, "cust", "customer", json!({})).await;
        let svc = srv.create_service(&reseller, cust, "Keep Me", "video").await;
        let (_, key) = srv.post("/api/v1/api-keys", &admin, json!({"name": "billing"})).await;
        let key = key["key"].as_str().unwrap().to_owned();
        let before = store.snapshot().await;

        // SIGTERM: a clean exit.
        let status = srv.stop();
        assert_eq!(status.code(), Some(0), "tidecast did not exit cleanly on SIGTERM");

        let srv = Server::start(&store).await;
        // Tokens and keys still work; everything reads back the same.
        let (status, me) = srv.get("/api/v1/me", &reseller).await;
        assert_eq!((status, me["id"].as_i64()), (StatusCode::OK, Some(res)));
        let (status, got) = srv.get(&format!("/api/v1/services/{}", svc["id"]), &key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["publish"]["rtmp"]["stream_key"], svc["publish"]["rtmp"]["stream_key"]);
        assert_eq!(got["slug"], "keep-me");
        assert_eq!(srv.get(&format!("/api/v1/reseller-plans/{}", plan["id"]), &admin).await.1["max_services"], 9);
        let after = store.snapshot().await;
        // Only login/API-key bookkeeping may differ (last_used_at).
        assert_eq!(before["users"], after["users"]);
        assert_eq!(before["services"], after["services"]);
        assert_eq!(before["reseller_plans"], after["reseller_plans"]);
        assert_eq!(before["login_sessions"], after["login_sessions"]);
        // Both starts logged the database URL without its password.
        if b == Backend::Postgres {
            let logs = srv.logs();
            assert!(logs.contains("postgres://tidecast:***@"), "database password not redacted:\n{logs}");
            assert!(!logs.contains("tidecast:tidecast@"), "database password logged");
        }
    }

    async fn demo_seed(b: Backend) {
        let store = Store::new(b).await;
        let opts = Options { args: vec!["--demo".into()], ..Default::default() };
        let srv = Server::start_with(&store, opts.clone()).await.unwrap();
        // The demo seeds in the background and says when it is ready, with the login.
        assert!(srv.wait_log("demo ready", std::time::Duration::from_secs(60)), "{}", srv.logs());
        let logs = srv.logs();
        let line = logs.lines().find(|l| l.contains("demo ready")).expect("demo log line");
        let password = line.split("password `").nth(1).and_then(|s| s.split('`').next()).unwrap();
        let demo = srv.login("demo", password).await;
        let (_, list) = srv.get("/api/v1/services", &demo).await;
        let kinds: Vec<_> = list["items"].as_array().unwrap().iter()
            .map(|s| (s["slug"].as_str().unwrap().to_owned(), s["kind"].as_str().unwrap().to_owned(), s["limits"]["autodj"].clone()))
            .collect();
        assert_eq!(kinds, vec![("demo-radio".into(), "radio".into(), json!(true)), ("demo-tv".into(), "video".into(), json!(false))]);
        srv.stop();
        // Starting again with --demo creates nothing again.
        let before = store.snapshot().await;
        let srv = Server::start_with(&store, opts).await.unwrap();
        assert!(srv.wait_log("demo ready", std::time::Duration::from_secs(60)), "{}", srv.logs());
        assert!(!srv.logs().contains("demo: created"));
        let after = store.snapshot().await;
        for table in ["services", "media", "playlists"] {
            assert_eq!(before[table], after[table], "{table}");
        }
    }
}

/// Defaults < config file < environment < flags, seen through the links the API hands out
/// (`public_url`) and through the demo seed (`demo`).
#[tokio::test]
async fn config_precedence() {
    let store = Store::new(Backend::Sqlite).await;
    let file = store.dir.path().join("tidecast.toml");
    std::fs::write(
        &file,
        "public_url = \"https://file.example\"\ndemo = true\n",
    )
    .unwrap();
    let config = vec!["--config".to_owned(), file.display().to_string()];

    async fn hls_link(srv: &Server) -> String {
        let admin = srv.admin_token().await;
        let (_, users) = srv.get("/api/v1/users?limit=1000", &admin).await;
        let owner = match users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["role"] == "customer")
        {
            Some(u) => u["id"].as_i64().unwrap(),
            None => {
                srv.create_user(&admin, "owner", "customer", json!({}))
                    .await
            }
        };
        let n = rand_suffix();
        srv.create_service(&admin, owner, &format!("Probe {n}"), "video")
            .await["urls"]["hls"]
            .as_str()
            .unwrap()
            .to_owned()
    }
    fn rand_suffix() -> u32 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    }

    // File only.
    let srv = Server::start_with(
        &store,
        Options {
            args: config.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        hls_link(&srv)
            .await
            .starts_with("https://file.example/hls/")
    );
    assert!(
        srv.logs().contains("demo: created Demo Radio"),
        "demo = true in the file seeds the demo"
    );
    srv.stop();
    // Environment over file.
    let env = vec![(
        "TIDECAST_PUBLIC_URL".to_owned(),
        "https://env.example".to_owned(),
    )];
    let srv = Server::start_with(
        &store,
        Options {
            args: config.clone(),
            env: env.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(hls_link(&srv).await.starts_with("https://env.example/hls/"));
    srv.stop();
    // Flag over environment.
    let mut args = config.clone();
    args.extend(["--public-url".to_owned(), "https://flag.example".to_owned()]);
    let srv = Server::start_with(
        &store,
        Options {
            args,
            env,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        hls_link(&srv)
            .await
            .starts_with("https://flag.example/hls/")
    );
    srv.stop();
    // Defaults: links use the address the client used.
    let srv = Server::start(&store).await;
    assert!(
        hls_link(&srv)
            .await
            .starts_with(&format!("http://{}/hls/", srv.http))
    );
}

/// Bad configuration stops the start with a message that names the problem.
#[tokio::test]
async fn bad_config_fails_clearly() {
    let store = Store::new(Backend::Sqlite).await;
    let file = store.dir.path().join("tidecast.toml");
    std::fs::write(&file, "htp = \"127.0.0.1:9\"\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--config".into(), file.display().to_string()], "htp"),
        (
            vec!["--public-url".into(), "not a url".into()],
            "--public-url",
        ),
        (
            vec!["--relay-allow".into(), "10.0.0.0/99".into()],
            "--relay-allow",
        ),
        (
            vec!["--database-url".into(), "mysql://x/y".into()],
            "unsupported database URL",
        ),
    ];
    for (args, expect) in cases {
        let out = std::process::Command::new(binary())
            .arg("serve")
            .arg("--data")
            .arg(store.data_dir())
            .args(FREE_PORTS)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(
            stderr.contains(expect),
            "{args:?}: message does not name {expect:?}:\n{stderr}"
        );
    }
    // A port already in use is named in the error.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().to_string();
    let out = std::process::Command::new(binary())
        .arg("serve")
        .args([
            "--data",
            &store.data_dir().display().to_string(),
            "--http",
            "127.0.0.1:0",
            "--rtmp",
            &port,
            "--icecast",
            "127.0.0.1:0",
        ])
        .env("TIDECAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("RTMP") && stderr.contains(&port),
        "{stderr}"
    );
}
