//! A service's relay (its source pulled from a URL) as business operations: setting it (the
//! URL checked against the service's kind and the outbound policy), removing it, and
//! keeping what the engine runs in step with the database ([`reconcile`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use tidecast_engine::relay::{self, Mode, RelayJob, Source};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::relays::{self, Relay};
use crate::db::services;
use crate::db::services::Service;
use crate::model::Kind;
use crate::model::relay::{RelayMode, RtspTransport};
use crate::outbound::PolicyDialer;

use super::access::visible_service;
use super::{Error, Result, audit_now};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RelayInput")]
pub struct Input {
    /// `rtmp://host/app/stream`, `rtsp://[user:pass@]camera/path`, `http(s)://….m3u8`
    /// (MPEG-TS HLS), or for radio an Icecast/Shoutcast stream `http(s)://host:port/mount`.
    pub url: String,
    /// `always` (the default) or `on_demand`: pull only while someone watches or listens.
    pub mode: Option<RelayMode>,
    /// RTSP: `tcp` (the default: through firewalls and NAT) or `udp`.
    pub transport: Option<RtspTransport>,
}

/// Sets service `id`'s relay (a changed relay starts again with its new settings).
pub async fn set(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: Input,
) -> Result<(Service, Relay)> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !service.limits.relay {
        return Err(Error::forbidden(
            "this service's plan does not include relays",
        ));
    }
    let mode = body.mode.unwrap_or_default();
    let transport = body.transport.unwrap_or_default();
    let url = body.url.trim();
    let source = Source::parse(url, transport == RtspTransport::Tcp)
        .map_err(|e| Error::invalid(format!("url: {e}")))?;
    if body.transport.is_some() && !matches!(source, Source::Rtsp { .. }) {
        return Err(Error::invalid("transport: only rtsp:// relays have one"));
    }
    match (service.kind, source.is_radio()) {
        (Kind::Radio, false) => {
            return Err(Error::invalid(
                "url: a radio station relays an Icecast or Shoutcast stream (http(s)://host:port/mount)",
            ));
        }
        (Kind::Video, true) => {
            return Err(Error::invalid(
                "url: a video service relays rtmp://, rtsp:// or an HLS playlist (….m3u8)",
            ));
        }
        _ => {}
    }
    if matches!(source, Source::Rtsp { .. }) && state.engine.transcoder().is_none() {
        return Err(Error::Unavailable(
            "this server runs without FFmpeg: RTSP relays need it".into(),
        ));
    }
    let (host, port) = source.host_port();
    state
        .outbound
        .resolve_host(host.to_owned(), port)
        .await
        .map_err(|e| Error::invalid(format!("url: {e}")))?;
    relays::set(&state.db, service.id, url, mode, transport).await?;
    audit_now(
        state,
        caller,
        "relay.set",
        &format!(
            "service {} relays {} ({})",
            service.id,
            source.display(),
            mode.as_str()
        ),
    )
    .await?;
    // A changed relay starts again with its new settings.
    state.engine.relays().stop(service.id);
    reconcile(state).await;
    let r = relays::of_service(&state.db, service.id)
        .await?
        .ok_or_else(|| Error::NotFound("relay"))?;
    Ok((service, r))
}

/// Removes the relay; it stops.
pub async fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !relays::delete(&state.db, service.id).await? {
        return Err(Error::NotFound("relay"));
    }
    audit_now(
        state,
        caller,
        "relay.delete",
        &format!("service {}", service.id),
    )
    .await?;
    reconcile(state).await;
    Ok(())
}

/// What a relay runs with: its row and the service's stream name (a renamed service
/// restarts it under its new name).
fn signature(r: &Relay, slug: &str) -> String {
    format!(
        "{slug}\n{}\n{}\n{}",
        r.url,
        r.mode.as_str(),
        r.rtsp_transport.as_str()
    )
}

/// Starts the relays in the database that are not running (or run with what changed
/// since), stops the running ones that are no longer there.
pub async fn reconcile(state: &AppState) {
    let rows = match relays::all(&state.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("relays not checked: {e}");
            return;
        }
    };
    let mut wanted = HashMap::new();
    for r in rows {
        // As for targets: a failed read settles nothing this pass (see restream::reconcile).
        let service = match services::by_id(state.db.pool(), r.service_id).await {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("relays not checked: {e}");
                return;
            }
        };
        // A suspended service, or a plan without relays, pulls nothing (admission would
        // refuse it anyway, after the customer's server was reached).
        if service.limits.relay && !service.is_suspended() {
            wanted.insert(r.service_id, (signature(&r, &service.slug), r, service));
        }
    }
    let sigs = wanted
        .iter()
        .map(|(id, (s, _, _))| (*id, s.clone()))
        .collect();
    for id in state.engine.relays().settle(&sigs) {
        let Some((sig, r, service)) = wanted.get(&id) else {
            continue;
        };
        let Ok(source) = Source::parse(&r.url, r.rtsp_transport == RtspTransport::Tcp) else {
            continue;
        };
        tracing::info!(service = %service.slug, from = %source.display(), mode = r.mode.as_str(), "relay started");
        relay::start(
            &state.engine.relaying(),
            service.id,
            RelayJob {
                service: tidecast_engine::ServiceId(service.id),
                stream: service.slug.clone(),
                source,
                mode: match r.mode {
                    RelayMode::OnDemand => Mode::OnDemand,
                    RelayMode::Always => Mode::Always,
                },
            },
            Arc::new(PolicyDialer(Arc::clone(&state.outbound))),
        );
        state.engine.relays().set_signature(id, sig.clone());
    }
}
