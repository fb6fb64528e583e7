//! The admission trait as the engine sees it, answered from a real database (SQLite and
//! PostgreSQL), and live sessions dropped through the real HTTP handlers when a service is
//! suspended, deleted or has its credentials rotated.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tidecast_control::admission::DbAdmission;
use tidecast_control::app::{AppState, Links};
use tidecast_control::{bootstrap, db::Db};
use tidecast_engine::{
    Admission, Decision, DenyReason, Engine, PlayRequest, PublishRequest, ServiceId, SessionRole,
};
use tidecast_tests::{Backend, Store};
use tower::ServiceExt;

fn remote() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000))
}

struct App {
    state: AppState,
    admission: DbAdmission,
    token: String,
    _store: Store,
}

impl App {
    async fn new(b: Backend) -> Self {
        let store = Store::new(b).await;
        std::fs::create_dir_all(store.data_dir()).unwrap();
        let db = Db::connect(&store.database_url).await.unwrap();
        db.migrate().await.unwrap();
        bootstrap::ensure_admin(&db, Some("admin-password-1".into()))
            .await
            .unwrap();
        let admission = DbAdmission::new(db.clone());
        let state = AppState::new(
            db.clone(),
            Engine::new(Arc::new(admission.clone())),
            Links {
                public_url: None,
                http_port: 8080,
                rtmp_port: 1935,
                icecast_port: 8000,
            },
            store.data_dir(),
        );
        let mut app = Self {
            state,
            admission,
            token: String::new(),
            _store: store,
        };
        let (_, login) = app
            .call(
                "POST",
                "/api/v1/login",
                serde_json::json!({"username":"admin","password":"admin-password-1"}),
            )
            .await;
        app.token = login["token"].as_str().unwrap().to_owned();
        app
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if !self.token.is_empty() {
            req = req.header("authorization", format!("Bearer {}", self.token));
        }
        let mut req = req.body(Body::from(body.to_string())).unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(remote()));
        let resp = tidecast_control::http::router(self.state.clone())
            .oneshot(req)
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// A customer with a radio and a video service; returns (radio, video) JSON.
    async fn services(&self) -> (serde_json::Value, serde_json::Value) {
        let (_, user) = self
            .call(
                "POST",
                "/api/v1/users",
                serde_json::json!({"username":"cust","password":"cust-password"}),
            )
            .await;
        let owner = user["id"].as_i64().unwrap();
        let (_, radio) = self.call("POST", "/api/v1/services", serde_json::json!({"owner":owner,"name":"Radio","kind":"radio","limits":{"max_listeners":42}})).await;
        let (_, video) = self
            .call(
                "POST",
                "/api/v1/services",
                serde_json::json!({"owner":owner,"name":"Video","kind":"video"}),
            )
            .await;
        (radio, video)
    }
}

fn rtmp(key: &str) -> PublishRequest {
    PublishRequest::Rtmp {
        app: "live".into(),
        stream_key: key.into(),
        remote: remote(),
    }
}

fn icecast(mount: &str, user: &str, password: &str) -> PublishRequest {
    PublishRequest::Icecast {
        mount: mount.into(),
        username: user.into(),
        password: password.into(),
        remote: remote(),
    }
}

fn denied(d: &Decision) -> Option<DenyReason> {
    match d {
        Decision::Deny(denial) => Some(denial.reason),
        Decision::Allow(_) => None,
    }
}

async fn admission_decisions(b: Backend) {
    let app = App::new(b).await;
    let (radio, video) = app.services().await;
    let key = video["publish"]["rtmp"]["stream_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let pw = radio["publish"]["icecast"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = &app.admission;

    match a.admit_publish(&rtmp(&key)).await {
        Decision::Allow(g) => {
            assert_eq!(g.service_id, ServiceId(video["id"].as_i64().unwrap()));
            assert_eq!(g.mount, "video");
            assert_eq!(g.priority, 50);
        }
        d => panic!("right key refused: {d:?}"),
    }
    match a.admit_publish(&icecast("/radio", "source", &pw)).await {
        Decision::Allow(g) => assert_eq!(g.limits.max_listeners, 42),
        d => panic!("right password refused: {d:?}"),
    }
    assert_eq!(
        denied(&a.admit_publish(&rtmp("wrong")).await),
        Some(DenyReason::NotFound)
    );
    assert_eq!(
        denied(
            &a.admit_publish(&PublishRequest::Rtmp {
                app: "other".into(),
                stream_key: key.clone(),
                remote: remote()
            })
            .await
        ),
        Some(DenyReason::NotFound)
    );
    assert_eq!(
        denied(&a.admit_publish(&icecast("/radio", "source", "wrong")).await),
        Some(DenyReason::BadCredentials)
    );
    assert_eq!(
        denied(&a.admit_publish(&icecast("/radio", "admin", &pw)).await),
        Some(DenyReason::BadCredentials)
    );
    assert_eq!(
        denied(&a.admit_publish(&icecast("/video", "source", &pw)).await),
        Some(DenyReason::NotFound),
        "a video service has no Icecast mount"
    );
    let play = |m: &str| PlayRequest {
        mount: m.into(),
        remote: remote(),
        user_agent: None,
    };
    assert!(denied(&a.admit_play(&play("/radio")).await).is_none());
    assert_eq!(
        denied(&a.admit_play(&play("/nothing")).await),
        Some(DenyReason::NotFound)
    );

    // Suspended: refused with that reason, even with the right credentials.
    let vid = video["id"].as_i64().unwrap();
    let rid = radio["id"].as_i64().unwrap();
    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/services/{vid}/suspend"),
            serde_json::json!({})
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/services/{rid}/suspend"),
            serde_json::json!({})
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        denied(&a.admit_publish(&rtmp(&key)).await),
        Some(DenyReason::Suspended)
    );
    assert_eq!(
        denied(&a.admit_publish(&icecast("/radio", "source", &pw)).await),
        Some(DenyReason::Suspended)
    );
    assert_eq!(
        denied(&a.admit_play(&play("/radio")).await),
        Some(DenyReason::Suspended)
    );
    app.call(
        "POST",
        &format!("/api/v1/services/{vid}/unsuspend"),
        serde_json::json!({}),
    )
    .await;
    assert!(denied(&a.admit_publish(&rtmp(&key)).await).is_none());

    // Rotated: the old key is refused, the new one admitted.
    let (_, rotated) = app
        .call(
            "POST",
            &format!("/api/v1/services/{vid}/rotate-credentials"),
            serde_json::json!({}),
        )
        .await;
    let new_key = rotated["publish"]["rtmp"]["stream_key"].as_str().unwrap();
    assert_eq!(
        denied(&a.admit_publish(&rtmp(&key)).await),
        Some(DenyReason::NotFound)
    );
    assert!(denied(&a.admit_publish(&rtmp(new_key)).await).is_none());

    // Deleted: refused.
    app.call(
        "DELETE",
        &format!("/api/v1/services/{vid}"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        denied(&a.admit_publish(&rtmp(new_key)).await),
        Some(DenyReason::NotFound)
    );
}

async fn wait(g: &tidecast_engine::SessionGuard) -> bool {
    tokio::time::timeout(Duration::from_secs(2), g.cancelled())
        .await
        .is_ok()
}

async fn live_sessions_dropped(b: Backend) {
    let app = App::new(b).await;
    let (radio, video) = app.services().await;
    let rid = radio["id"].as_i64().unwrap();
    let vid = video["id"].as_i64().unwrap();
    let reg = app.state.engine.registry();
    let open = |id: i64, role| reg.open_session(ServiceId(id), "m", role, remote(), "test");

    // Suspend drops the source and the listeners of that service only.
    let src = open(rid, SessionRole::Source);
    let lis = open(rid, SessionRole::Listener);
    let other = open(vid, SessionRole::Source);
    assert_eq!(
        app.call(
            "GET",
            &format!("/api/v1/services/{rid}"),
            serde_json::json!({})
        )
        .await
        .1["live"],
        true
    );
    app.call(
        "POST",
        &format!("/api/v1/services/{rid}/suspend"),
        serde_json::json!({}),
    )
    .await;
    assert!(
        wait(&src).await && wait(&lis).await,
        "suspend left sessions running"
    );
    assert!(
        !other.is_cancelled(),
        "suspend dropped another service's session"
    );
    drop((src, lis));
    assert_eq!(
        app.call(
            "GET",
            &format!("/api/v1/services/{rid}"),
            serde_json::json!({})
        )
        .await
        .1["live"],
        false
    );

    // Rotation drops sources, keeps listeners.
    let lis = open(vid, SessionRole::Listener);
    app.call(
        "POST",
        &format!("/api/v1/services/{vid}/rotate-credentials"),
        serde_json::json!({}),
    )
    .await;
    assert!(wait(&other).await, "rotation left the source on air");
    assert!(!lis.is_cancelled(), "rotation dropped a listener");

    // Delete drops everything.
    app.call(
        "DELETE",
        &format!("/api/v1/services/{vid}"),
        serde_json::json!({}),
    )
    .await;
    assert!(wait(&lis).await, "delete left a listener connected");
}

#[tokio::test]
async fn admission_sqlite() {
    admission_decisions(Backend::Sqlite).await;
}

#[tokio::test]
async fn admission_postgres() {
    admission_decisions(Backend::Postgres).await;
}

#[tokio::test]
async fn sessions_dropped_sqlite() {
    live_sessions_dropped(Backend::Sqlite).await;
}

#[tokio::test]
async fn sessions_dropped_postgres() {
    live_sessions_dropped(Backend::Postgres).await;
}
