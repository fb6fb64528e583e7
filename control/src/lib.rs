//! Tidecast's control plane: accounts, services, the REST API, and the wiring of the
//! `tidecast` binary (see `main.rs`).
//!
//! Layers, each importing only the ones below it (ARCHITECTURE.md draws them):
//!
//! - `server` wires the process: database, engine, ports, background jobs, shutdown;
//! - `http` (the router, HLS, web UI, `/metrics`) and `api` (REST handlers) extract a
//!   request, call the domain layer and present its answer; nothing outside them calls a
//!   handler;
//! - `jobs` are the background loops (VOD transcodes, transfer limits, live sets, restream
//!   reconciles); like handlers they only call the domain layer;
//! - `admission` answers the engine's questions (may this publish, may this listen) from
//!   the domain's grants;
//! - `domain` is the business: who may see what, services, users, provisioning, the ladder,
//!   DVR settings, media import, AutoDJ, restream targets and relays; one transaction per
//!   operation and a typed [`domain::Error`];
//! - `db` reads and writes rows, decoded once into the typed values of `model`;
//! - below them: `model` (the typed service model), `auth` (passwords, tokens), `autodj`
//!   (track picking), `media` (files), `stats`, `webhooks`, `outbound`, `config`, `time`,
//!   `headers` (fixed HTTP response headers), `process` (the process's own figures).

pub mod admission;
pub mod api;
pub mod app;
pub mod auth;
pub mod autodj;
pub mod backup;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod headers;
pub mod http;
pub mod jobs;
pub mod logsafe;
pub mod media;
pub mod memory;
pub mod model;
pub mod nofile;
pub mod outbound;
pub mod process;
pub mod schedule;
pub mod server;
pub mod stats;
pub mod time;
pub mod usage;
pub mod vod;
pub mod webhooks;
