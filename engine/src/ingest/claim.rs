//! A granted publisher takes its stream: HLS packaging, the DVR recorder, the session, the
//! "on air" event, the restream tap and the transcoding ladder. RTMP publishers and relays
//! (which pull what a publisher would push) share it, so a relayed stream is treated like a
//! pushed one everywhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Ingest;
use super::publisher::Publisher;
use crate::admission::{Grant, SegmentFormat};
use crate::hls::live::{AlreadyLive, Lifetimes, Packaging};
use crate::ladder::LadderPlan;
use crate::registry::{SessionGuard, SessionRole};

/// LL-HLS part target: a third of a second (10 frames at 30 fps).
const PART_SECS: f64 = 1.0 / 3.0;

impl Ingest {
    /// Claims `grant`'s stream for a new publisher from `remote`, shown as `who`. Refused
    /// while another publisher is on it.
    pub fn claim(
        &self,
        grant: &Grant,
        remote: SocketAddr,
        who: &str,
    ) -> Result<(Publisher, SessionGuard), AlreadyLive> {
        let id = crate::ids::PublisherId::new();
        let packaging = Packaging {
            format: grant.hls.format,
            target_secs: grant.hls.segment_secs,
            part_target: (grant.hls.low_latency && grant.hls.format == SegmentFormat::Fmp4)
                .then_some(PART_SECS),
        };
        let stream =
            self.hls
                .publish(&grant.mount, grant.service_id, id, grant.limits, packaging)?;
        // DVR: the service records, this server keeps archives.
        let dvr = grant.dvr.zip(self.dvr.clone());
        if let Some((retention, dvr)) = &dvr {
            match dvr.recorder(grant.service_id, &grant.mount, *retention) {
                Ok(r) => stream.set_recorder(Some(Box::new(r))),
                Err(e) => {
                    tracing::error!(stream = %grant.mount, "DVR not recording (live is not affected): {e}");
                }
            }
        }
        let session = self.registry.open_session(
            grant.service_id,
            &grant.mount,
            SessionRole::Source,
            remote,
            who,
        );
        tracing::info!(%remote, stream = %grant.mount, "{who} connected");
        self.events.mount_event(crate::events::MountEvent::OnAir {
            service_id: grant.service_id,
            mount: grant.mount.clone(),
            label: Some(grant.label.clone()),
            at: std::time::SystemTime::now(),
        });
        let mut publisher = Publisher::new(
            id,
            Arc::clone(&self.hls),
            stream,
            f64::from(grant.hls.segment_secs),
            Lifetimes {
                end_after: Duration::from_secs(grant.hls.end_after_secs.into()),
                ..Lifetimes::default()
            },
            remote,
        )
        .with_tap(self.taps.get(&grant.mount));
        if let Some(spec) = grant.transcode.clone().filter(|_| grant.limits.transcode) {
            match &self.transcoder {
                Some(transcoder) => {
                    publisher = publisher.with_ladder(LadderPlan {
                        spec,
                        transcoder: Arc::clone(transcoder),
                        streams: Arc::clone(&self.hls),
                        service_id: grant.service_id,
                        limits: grant.limits,
                        packaging,
                        mounts: None,
                        dvr: dvr.map(|(r, d)| (d, r)),
                        taps: Some(Arc::clone(&self.taps)),
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
    pub fn off_air(&self, publisher: Publisher) {
        let service_id = publisher.service_id();
        let mount = publisher.stream_slug().to_owned();
        publisher.finish();
        self.events.mount_event(crate::events::MountEvent::OnAir {
            service_id,
            mount,
            label: None,
            at: std::time::SystemTime::now(),
        });
    }
}
