//! Song requests from listeners (public, no login) as business operations: what a station
//! offers (tracks of its enabled playlists that allow requests) and asking AutoDJ to play
//! one next.
//!
//! Invariants: only an active radio station takes requests, and only while its AutoDJ
//! runs; a listener (by address) makes at most [`PER_IP`] requests per [`IP_WINDOW_SECS`];
//! a track requested or played in the last [`GAP_SECS`] waits.

use std::net::IpAddr;

use serde::Deserialize;
use tidecast_engine::ServiceId;

use crate::app::AppState;
use crate::db::media::MediaRow;
use crate::db::services::Service;
use crate::db::{now, requests, services};

use super::{Error, Result};

/// Requests one address may make per window.
pub const PER_IP: i64 = 3;
/// The window [`PER_IP`] counts in.
pub const IP_WINDOW_SECS: i64 = 15 * 60;
/// How long before a track can be requested again (after a request or a play).
pub const GAP_SECS: i64 = 60 * 60;

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    pub media: i64,
}

/// A request taken.
#[derive(Debug)]
pub struct Requested {
    pub id: i64,
    pub track: MediaRow,
    /// Requests ahead of this one, plus one.
    pub position: usize,
}

/// The station `slug` if it takes requests at all (an active radio station), else 404.
async fn station(state: &AppState, slug: &str) -> Result<Service> {
    services::by_slug(&state.db, slug)
        .await?
        .filter(|s| s.is_radio() && !s.is_suspended())
        .ok_or(Error::NotFound("station"))
}

/// The tracks station `slug` offers, those whose title or artist contains `q` (any case;
/// all when `q` is empty), by artist then title.
pub async fn requestable(state: &AppState, slug: &str, q: &str) -> Result<Vec<MediaRow>> {
    let s = station(state, slug).await?;
    let q = q.to_lowercase();
    let all = requests::requestable(&state.db, s.id, s.owner_id).await?;
    Ok(all
        .into_iter()
        .filter(|m| {
            q.is_empty()
                || m.title.to_lowercase().contains(&q)
                || m.artist.to_lowercase().contains(&q)
        })
        .collect())
}

/// A listener at `ip` asks station `slug` to play track `media` next.
pub async fn request(state: &AppState, ip: IpAddr, slug: &str, media: i64) -> Result<Requested> {
    let s = station(state, slug).await?;
    if !state.engine.autodj().is_running(ServiceId(s.id)) {
        return Err(Error::conflict(
            "this station takes requests only while AutoDJ is on",
        ));
    }
    let allowed = requests::requestable(&state.db, s.id, s.owner_id).await?;
    let Some(m) = allowed.into_iter().find(|m| m.id == media) else {
        return Err(Error::NotFound("requestable track"));
    };
    let ip = ip.to_string();
    let t = now();
    if requests::count_by_ip(&state.db, s.id, &ip, t - IP_WINDOW_SECS).await? >= PER_IP {
        return Err(Error::TooMany(format!(
            "at most {PER_IP} requests every {} minutes; try again later",
            IP_WINDOW_SECS / 60
        )));
    }
    if requests::recently(&state.db, s.id, m.id, t - GAP_SECS).await? {
        return Err(Error::conflict(format!(
            "\"{}\" was requested or played in the last {} minutes; pick another",
            m.title,
            GAP_SECS / 60
        )));
    }
    let id = requests::insert(&state.db, s.id, m.id, &ip).await?;
    let position = requests::pending(&state.db, s.id)
        .await?
        .iter()
        .position(|r| r.id == id)
        .map_or(1, |p| p + 1);
    tracing::info!(slug = %s.slug, %ip, media = m.id, "song requested: {:?}", m.title);
    Ok(Requested {
        id,
        track: m,
        position,
    })
}
