//! A granted publisher takes its stream: HLS packaging, the DVR recorder, the session, the
//! "on air" event, the restream tap and the transcoding ladder. RTMP publishers and relays
//! (which pull what a publisher would push) share it, so a relayed stream is treated like a
//! pushed one everywhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::publisher::Publisher;
use crate::Engine;
use crate::admission::{Grant, SegmentFormat};
use crate::hls::live::{Lifetimes, Packaging};
use crate::ladder::LadderPlan;
use crate::registry::{SessionGuard, SessionRole};

/// LL-HLS part target: a third of a second (10 frames at 30 fps).
const PART_SECS: f64 = 1.0 / 3.0;

static NEXT_PUBLISHER: AtomicU64 = AtomicU64::new(1);

/// Claims `grant`'s stream for a new publisher from `remote`, shown as `who`. Refused
/// (with the reason) while another publisher is on it.
pub fn claim(
    engine: &Engine,
    grant: &Grant,
    remote: SocketAddr,
    who: &str,
) -> Result<(Publisher, SessionGuard), String> {
    let id = NEXT_PUBLISHER.fetch_add(1, Ordering::Relaxed);
    let packaging = Packaging {
        format: grant.hls.format,
        target_secs: grant.hls.segment_secs,
        part_target: (grant.hls.low_latency && grant.hls.format == SegmentFormat::Fmp4)
            .then_some(PART_SECS),
    };
    let stream = engine
        .hls()
        .publish(&grant.mount, grant.service_id, id, grant.limits, packaging)
        .map_err(|e| e.to_string())?;
    // DVR: the service records, this server keeps archives.
    let dvr = grant.dvr.zip(engine.dvr().cloned());
    if let Some((retention, dvr)) = &dvr {
        match dvr.recorder(grant.service_id, &grant.mount, *retention) {
            Ok(r) => stream.set_recorder(Some(r)),
            Err(e) => {
                tracing::error!(stream = %grant.mount, "DVR not recording (live is not affected): {e}");
            }
        }
    }
    let session = engine.registry().open_session(
        grant.service_id,
        &grant.mount,
        SessionRole::Source,
        remote,
        who,
    );
    tracing::info!(%remote, stream = %grant.mount, "{who} connected");
    engine
        .events()
        .mount_event(crate::events::MountEvent::OnAir {
            service_id: grant.service_id,
            mount: grant.mount.clone(),
            label: Some(grant.label.clone()),
            at: std::time::SystemTime::now(),
        });
    let mut publisher = Publisher::new(
        id,
        Arc::clone(engine.hls()),
        stream,
        f64::from(grant.hls.segment_secs),
        Lifetimes {
            end_after: Duration::from_secs(grant.hls.end_after_secs.into()),
            ..Lifetimes::default()
        },
        remote,
    )
    .with_tap(engine.taps().get(&grant.mount));
    if let Some(spec) = grant.transcode.clone().filter(|_| grant.limits.transcode) {
        match engine.transcoder() {
            Some(transcoder) => {
                publisher = publisher.with_ladder(LadderPlan {
                    spec,
                    transcoder: Arc::clone(transcoder),
                    streams: Arc::clone(engine.hls()),
                    service_id: grant.service_id,
                    limits: grant.limits,
                    packaging,
                    mounts: None,
                    dvr: dvr.map(|(r, d)| (d, r)),
                    taps: Some(Arc::clone(engine.taps())),
                });
            }
            None => {
                tracing::warn!(stream = %grant.mount, "this server runs without a transcoder: the stream is served as it arrives")
            }
        }
    }
    Ok((publisher, session))
}

/// What ends a publisher's time on air, told to the control plane.
pub fn off_air(engine: &Engine, publisher: Publisher) {
    let service_id = publisher.service_id();
    let mount = publisher.stream_slug().to_owned();
    publisher.finish();
    engine
        .events()
        .mount_event(crate::events::MountEvent::OnAir {
            service_id,
            mount,
            label: None,
            at: std::time::SystemTime::now(),
        });
}
