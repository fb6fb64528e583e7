//! `tidecast serve`: opens the database, binds every port, serves until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tidecast_engine::conn_cap::{CapConfig, ConnCap};
use tidecast_engine::{BoundListeners, Engine, ListenerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::trace::TraceLayer;

use crate::admission::DbAdmission;
use crate::app::{AppState, Links};
use crate::bootstrap;
use crate::config::Config;
use crate::db::Db;
use crate::stats::Recorder;

/// How long in-flight HTTP requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// The connection caps every port shares: the soft open-file limit raised to the hard one
/// first, and the overall cap derived from it unless configured.
fn connection_cap(config: &Config) -> Arc<ConnCap> {
    let nofile = crate::nofile::raise();
    let total = config
        .max_connections
        .unwrap_or_else(|| crate::nofile::connection_budget(nofile));
    let per_address = config.max_connections_per_address;
    let files = nofile.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    tracing::info!(
        open_files = %files,
        max_connections = total,
        max_connections_per_address = per_address,
        "open-file limit {files}; connections capped at {total} in all, {per_address} per address"
    );
    ConnCap::new(CapConfig { per_address, total })
}

/// Runs the server until `shutdown` fires.
pub async fn run(
    config: Config,
    admin_password: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "starting Tidecast {}", env!("CARGO_PKG_VERSION"));
    let cap = connection_cap(&config);
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("cannot create the data folder {}", config.data.display()))?;

    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    tracing::info!(backend = ?db.backend(), "database ready");
    bootstrap::ensure_admin(&db, admin_password).await?;
    let demo_password = if config.demo {
        Some(crate::demo::seed_accounts(&db).await?)
    } else {
        None
    };

    // Statistics are written until after the engine stops, so the last sessions are kept.
    let stats_stop = CancellationToken::new();
    let spooled = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (recorder, stats_task) = Recorder::spawn(
        db.clone(),
        &config.data.join("spool").join("statistics"),
        Arc::clone(&spooled),
        stats_stop.clone(),
    );
    // Stops with the statistics writer: both outlive the jobs and the engine.
    let db_monitor = tokio::spawn(crate::db::health::monitor(db.clone(), stats_stop.clone()));
    let outbound = Arc::new(crate::outbound::Policy::new(config.relay_allow.clone()));
    // Every background loop runs on this tracker and stops on `jobs_stop`; both are waited
    // for after the engine stops and before the database closes.
    let tasks = TaskTracker::new();
    let jobs_stop = CancellationToken::new();
    let webhooks = crate::webhooks::Webhooks::spawn(
        db.clone(),
        Arc::clone(&outbound),
        jobs_stop.clone(),
        &tasks,
    );
    let events = crate::webhooks::ControlEvents { recorder, webhooks };
    let engine = Engine::with_events(Arc::new(DbAdmission::new(db.clone())), Arc::new(events));
    let (set_sink, set_events) = crate::jobs::live_sets::channel();
    let mut engine = engine
        .with_dvr(config.data.join("dvr"))
        .with_live_sets(crate::jobs::live_sets::folder(&config.data), set_sink);
    // What a crash left half-done: uploads and recordings being written, DVR segments an
    // export had pinned (interrupted exports run again below).
    crate::media::store::sweep_incoming(&config.data);
    if let Some(dvr) = engine.dvr() {
        dvr.sweep_exports();
    }
    crate::vod::sweep(&config.data);
    if let Err(e) = crate::media::orphans::sweep(&db, &config.data).await {
        tracing::warn!("the media library was not checked for files left by a crash: {e:#}");
    }
    match tidecast_transcoder::FfmpegTranscoder::new() {
        Ok(t) => engine = engine.with_transcoder(Arc::new(t)),
        // The server still does everything else; services with a ladder are served as
        // their sources arrive, with a log line at each publish.
        Err(e) => tracing::warn!("{e}"),
    }
    let http = TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http))?;
    let media = BoundListeners::bind(ListenerConfig {
        rtmp: config.rtmp,
        icecast: config.icecast,
    })
    .await?
    .with_cap(Arc::clone(&cap));
    let http_addr = http.local_addr()?;
    let rtmp_addr = media.rtmp_addr()?;
    let icecast_addr = media.icecast_addr()?;

    let mut state = AppState::new(
        db.clone(),
        engine.clone(),
        Links {
            public_url: config.public_url.clone(),
            http_port: http_addr.port(),
            rtmp_port: rtmp_addr.port(),
            icecast_port: icecast_addr.port(),
        },
        config.data.clone(),
    );
    state.outbound = outbound;
    state.spooled = spooled;
    let app = crate::http::router(state.clone()).layer(TraceLayer::new_for_http());

    let engine_task = tokio::spawn(media.serve(engine, shutdown.clone()));
    let http_shutdown = shutdown.clone();
    let http_task = tokio::spawn(crate::http::serve::serve(http, app, cap, http_shutdown));
    crate::domain::autodj::resume_all(&state).await;
    crate::domain::recordings::resume(&state).await;
    crate::jobs::live_sets::resume(&state).await;
    let stop = || jobs_stop.clone();
    tasks.spawn(crate::jobs::live_sets::run(
        state.clone(),
        set_events,
        stop(),
    ));
    tasks.spawn(crate::jobs::vod::run(state.clone(), stop()));
    tasks.spawn(crate::jobs::transfer_limits::run(state.clone(), stop()));
    tasks.spawn(crate::jobs::restream::run(state.clone(), stop()));
    tasks.spawn(crate::stats::rollup::run(
        state.db.clone(),
        state.engine.clone(),
        Arc::clone(&state.spooled),
        stop(),
    ));
    if let Some(pw) = demo_password {
        crate::demo::start(state.clone(), rtmp_addr, pw, shutdown.clone(), &tasks);
    }
    state.ready.set_ready();
    tracing::info!(http = %http_addr, rtmp = %rtmp_addr, icecast = %icecast_addr, "ready");

    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(DRAIN, http_task).await.is_err() {
        tracing::warn!("some HTTP requests did not finish within {DRAIN:?}; closing them")
    }
    let _ = tokio::time::timeout(DRAIN, engine_task).await;
    jobs_stop.cancel();
    tasks.close();
    if tokio::time::timeout(DRAIN, tasks.wait()).await.is_err() {
        tracing::warn!("some background jobs were still running after {DRAIN:?}; stopping anyway");
    }
    stats_stop.cancel();
    if tokio::time::timeout(DRAIN, stats_task).await.is_err() {
        tracing::warn!("statistics were still being written after {DRAIN:?}; some may be lost");
    }
    let _ = db_monitor.await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
