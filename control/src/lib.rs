//! Tidecast's control plane: accounts, services, the REST API, and the wiring of the
//! `tidecast` binary (see `main.rs`).

pub mod admission;
pub mod api;
pub mod auth;
pub mod autodj;
pub mod backup;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod demo;
pub mod dvr_hls;
pub mod hls;
pub mod http_metrics;
pub mod live_sets;
pub mod media;
pub mod memory;
pub mod metrics;
pub mod outbound;
pub mod schedule;
pub mod server;
pub mod stats;
pub mod usage;
pub mod vod;
pub mod web;
pub mod webhooks;
