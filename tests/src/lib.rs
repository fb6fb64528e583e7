//! Harness for the end-to-end tests in `tests/tests/`: starts the real `tidecast` binary on
//! free loopback ports against SQLite or a fresh PostgreSQL database, talks to it over HTTP,
//! and reads its database directly to check what a request did (or did not) change.
//!
//! PostgreSQL tests use `TIDECAST_TEST_POSTGRES` (default
//! `postgres://tidecast:tidecast@127.0.0.1:5432/postgres`, which `scripts/test.sh` sets up)
//! to create one database per test; they fail, never skip, when it is unreachable.

#![allow(clippy::unwrap_used)] // test harness: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod browser;
pub mod disk;
pub mod icecast;
pub mod media;
pub mod peers;
pub mod pg;
pub mod rtmp;
pub mod wait;

pub use wait::{Wait, eventually, eventually_blocking, poll, poll_blocking, secs, within};

/// A fresh store on `backend`, a server on it and the admin's token: how most tests begin.
pub async fn started(backend: Backend) -> (Store, Server, String) {
    let store = Store::new(backend).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    (store, srv, admin)
}

/// Creates a customer `<name>-owner` and a service of `kind` for it (as the admin);
/// returns the service as the API answered.
pub async fn new_service(srv: &Server, name: &str, kind: &str, limits: Value) -> Value {
    let admin = srv.admin_token().await;
    let owner = srv
        .create_user(&admin, &format!("{name}-owner"), "customer", json!({}))
        .await;
    let (status, svc) = srv
        .post(
            "/api/v1/services",
            &admin,
            json!({"owner": owner, "name": name, "kind": kind, "limits": limits}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    svc
}

use anyhow::{Context, bail};
use sqlx::{Column, Row};

pub use reqwest::StatusCode;
pub use serde_json::{Value, json};

/// `tidecast serve`'s listening flags: every port a free one on loopback.
pub const FREE_PORTS: [&str; 6] = [
    "--http",
    "127.0.0.1:0",
    "--rtmp",
    "127.0.0.1:0",
    "--icecast",
    "127.0.0.1:0",
];

/// The admin password every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per database backend:
/// `both_backends!(async fn name(b: Backend) { … })` makes `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($b:ident : Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($b: $crate::Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { run($crate::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { run($crate::Backend::Postgres).await }
        }
    )*};
}

/// The `tidecast` binary under test: `TIDECAST_BIN`, else the one cargo built beside this
/// test (`target/<profile>/tidecast`).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TIDECAST_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/tidecast
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("tidecast");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p tidecast-control` first",
        bin.display()
    );
    bin
}

fn postgres_admin_url() -> String {
    std::env::var("TIDECAST_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://tidecast:tidecast@127.0.0.1:5432/postgres".to_owned())
}

/// Where a test server keeps its state; survives restarts of the server.
#[derive(Debug)]
pub struct Store {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pg_name: Option<String>,
}

/// Installs rustls's crypto provider for this test process (reqwest needs it before any
/// client is built; see Cargo.toml). Idempotent.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Store {
    pub async fn new(backend: Backend) -> Self {
        install_tls();
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let database_url =
                    format!("sqlite://{}/tidecast.db", dir.path().join("data").display());
                Self {
                    backend,
                    dir,
                    database_url,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("tc_test_{:016x}", rand::random::<u64>());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .with_context(|| {
                        format!(
                            "PostgreSQL for tests is unreachable at {admin}; run scripts/test.sh"
                        )
                    })
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
                Self {
                    backend,
                    dir,
                    database_url: format!("{base}/{name}"),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A store on a PostgreSQL database the test manages itself (see [`pg`]); nothing is
    /// dropped when the store goes.
    pub fn on_postgres(database_url: String) -> Self {
        install_tls();
        Self {
            backend: Backend::Postgres,
            dir: tempfile::tempdir().unwrap(),
            database_url,
            pg_name: None,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Every row of every table, as JSON, to compare before and after a request.
    pub async fn snapshot(&self) -> Value {
        sqlx::any::install_default_drivers();
        let url = match self.backend {
            Backend::Sqlite => format!("{}?mode=ro", self.database_url),
            Backend::Postgres => self.database_url.clone(),
        };
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let mut out = serde_json::Map::new();
        // Every table the migrations made, so a new table is covered without editing this.
        let list = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' ORDER BY table_name"
            }
        };
        let tables: Vec<String> = sqlx::query_scalar(list).fetch_all(&mut conn).await.unwrap();
        for table in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT * FROM {table} ORDER BY id"
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let rows: Vec<Value> = rows
                .iter()
                .map(|row| {
                    let mut obj = serde_json::Map::new();
                    for (i, col) in row.columns().iter().enumerate() {
                        let v = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                            json!(v)
                        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                            json!(v)
                        } else {
                            json!("<unreadable>")
                        };
                        obj.insert(col.name().to_owned(), v);
                    }
                    Value::Object(obj)
                })
                .collect();
            out.insert(table, Value::Array(rows));
        }
        Value::Object(out)
    }

    /// Runs one statement on the database behind the server's back (a hand edit, a row an
    /// older or newer build wrote).
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.database_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop cannot await.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A running `tidecast serve`.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub http: String,
    pub rtmp: String,
    pub icecast: String,
    logs: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

/// Options for starting a server beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Do not set `TIDECAST_ADMIN_PASSWORD`.
    pub no_admin_password: bool,
}

impl Server {
    pub async fn start(store: &Store) -> Self {
        Self::start_with(store, Options::default()).await.unwrap()
    }

    /// A server whose customers' URLs (webhooks, restream targets) may reach loopback,
    /// where the tests run their peers (`--relay-allow 127.0.0.0/8`).
    pub async fn start_allowing_loopback(store: &Store) -> Self {
        let opts = Options {
            args: vec!["--relay-allow".into(), "127.0.0.0/8".into()],
            ..Options::default()
        };
        Self::start_with(store, opts).await.unwrap()
    }

    pub async fn start_with(store: &Store, opts: Options) -> anyhow::Result<Self> {
        install_tls();
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--data")
            .arg(store.data_dir())
            .arg("--database-url")
            .arg(&store.database_url)
            .args(FREE_PORTS)
            .args(["--log-format", "json"])
            .args(&opts.args)
            .env_remove("TIDECAST_ADMIN_PASSWORD")
            .env("TIDECAST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !opts.no_admin_password {
            cmd.env("TIDECAST_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("cannot start tidecast")?;
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Value>();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "ready"
                {
                    let _ = ready_tx.send(v);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = loop {
            if let Ok(v) = ready_rx.recv_timeout(Duration::from_millis(50)) {
                break v;
            }
            if let Some(status) = child.try_wait()? {
                std::thread::sleep(Duration::from_millis(100));
                bail!(
                    "tidecast exited with {status} before it was ready:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "tidecast was not ready after 30 s:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        let field = |k: &str| ready[k].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            child: Some(child),
            http: field("http"),
            rtmp: field("rtmp"),
            icecast: field("icecast"),
            logs,
            client: reqwest::Client::new(),
        })
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The server's process id (to change its resource limits with `prlimit`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Every log line so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits (up to `within`) for a log line containing `needle`: the log is read from
    /// the server's stderr by a thread and may trail what the server did.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let wait = wait::within(within).every(Duration::from_millis(20));
        poll_blocking(wait, || {
            self.logs().contains(needle).then_some(()).ok_or(())
        })
        .is_ok()
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    /// Kills the server with SIGKILL (a crash: nothing is flushed or closed).
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let wait = within(secs(20)).every(Duration::from_millis(20));
        match poll_blocking(wait, || child.try_wait().unwrap().ok_or(())) {
            Ok(status) => status,
            Err(()) => {
                let _ = child.kill();
                panic!("tidecast did not stop within 20 s of SIGTERM");
            }
        }
    }

    /// An HTTP request to the API; returns the status and the JSON body (`Null` if empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    /// A raw request: any body bytes and headers.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        send(req).await
    }

    /// A plain GET with extra headers: status, headers and the raw body.
    pub async fn fetch(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let h = res.headers().clone();
        let body = res.bytes().await.expect("body").to_vec();
        (status, h, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("DELETE", path, Some(token), None).await
    }

    /// Logs in and returns the token; panics on failure.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, token: &str, username: &str, role: &str, extra: Value) -> i64 {
        let mut body =
            json!({"username": username, "password": format!("{username}-password"), "role": role});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, resp) = self.post("/api/v1/users", token, body).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "create user {username}: {resp}"
        );
        resp["id"].as_i64().unwrap()
    }

    /// Creates a service and returns its JSON.
    pub async fn create_service(&self, token: &str, owner: i64, name: &str, kind: &str) -> Value {
        let (status, resp) = self
            .post(
                "/api/v1/services",
                token,
                json!({"owner": owner, "name": name, "kind": kind}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create service {name}: {resp}");
        resp
    }
}

/// Sends a request; returns the status and the body as JSON (`Null` when empty, a string
/// when it is not JSON).
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `/metrics` text parsed by Prometheus' own Python client (Debian's
/// python3-prometheus-client): every sample as `(name, labels, value)`. Panics with the
/// parser's message if the text is not valid exposition format.
pub fn parse_metrics(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        for f in parse(sys.stdin.read()):\n\
        \x20   for s in f.samples:\n\
        \x20       print(json.dumps([s.name, s.labels, s.value]))\n";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/test.sh installs it)");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid Prometheus text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
