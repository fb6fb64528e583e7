//! The engine's admission trait, answered from the database: who may publish or listen
//! is decided here, what they are granted is the domain's (`domain::grant`).
//!
//! The engine asks; this decides from the service's row: does the mount or stream key
//! exist, do the credentials match, is the service suspended, which limits apply.

mod remember;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tidecast_engine::admission::BoxFuture;
use tidecast_engine::{
    Admission, Decision, DenyReason, Grant, PlayRequest, PublishRequest, ServiceId,
};

use crate::auth::{password, secret};
use crate::db::services::{self, Service};
use crate::db::users::{self, Role};
use crate::db::{Db, djs, media, mounts};
use crate::domain::grant::{self, Target, engine_hls, engine_ladder, engine_limits, grant_for};
use crate::model::Kind;
use crate::schedule;

fn allow(s: &Service, target: &Target, label: &str) -> Decision {
    Decision::Allow(grant_for(s, target, label))
}

/// Admission backed by the control plane's database.
#[derive(Debug, Clone)]
pub struct DbAdmission {
    db: Db,
    /// The last answer for each mount a listener asked for, so listeners keep being admitted
    /// while the database is away (nothing about a service can change then). Bounded by the
    /// number of mounts that exist.
    known: Arc<Mutex<HashMap<String, (Service, Target)>>>,
    /// Publish answers, likewise (see [`remember`]).
    remembered: Arc<remember::Remembered>,
}

impl DbAdmission {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            known: Arc::default(),
            remembered: Arc::default(),
        }
    }
}

fn unavailable(err: sqlx::Error) -> Decision {
    tracing::error!("admission: database error: {err}");
    Decision::deny(
        DenyReason::Unavailable,
        "the server cannot check credentials right now; try again",
    )
}

fn is_unavailable(d: &Decision) -> bool {
    matches!(d, Decision::Deny(denial) if denial.reason == DenyReason::Unavailable)
}

/// `/jazz`, `jazz` → `jazz`.
fn mount_slug(mount: &str) -> &str {
    mount.trim_start_matches('/')
}

impl DbAdmission {
    /// Publish admission: from the database, or while it is away from what it last said
    /// about the same credentials (an encoder reconnecting, a title update); credentials it
    /// never saw are refused at once rather than after the pool's wait.
    async fn publish(&self, req: &PublishRequest) -> Decision {
        if self.db.health().is_up() {
            let decision = self.publish_from_db(req).await;
            if !is_unavailable(&decision) {
                self.remembered.publish_checked(req, &decision);
                return decision;
            }
        }
        self.remembered.publish(req).unwrap_or_else(|| {
            Decision::deny(
                DenyReason::Unavailable,
                "the server cannot check credentials right now (its database is away); try again",
            )
        })
    }

    async fn publish_from_db(&self, req: &PublishRequest) -> Decision {
        match req {
            PublishRequest::Rtmp {
                app, stream_key, ..
            } => {
                if app != "live" {
                    return Decision::deny(
                        DenyReason::NotFound,
                        format!("unknown RTMP application {app:?}; use /live"),
                    );
                }
                let service = match services::by_stream_key(&self.db, stream_key).await {
                    Ok(s) => s,
                    Err(e) => return unavailable(e),
                };
                match service {
                    Some(s) if s.kind != Kind::Video => {
                        Decision::deny(DenyReason::NotFound, "unknown stream key")
                    }
                    Some(s) if s.is_suspended() => {
                        Decision::deny(DenyReason::Suspended, "the service is suspended")
                    }
                    Some(s) => self.video_grant(&s, "RTMP publisher").await,
                    None => Decision::deny(DenyReason::NotFound, "unknown stream key"),
                }
            }
            PublishRequest::Relay { service_id, from } => {
                let s = match services::by_id(self.db.pool(), service_id.0).await {
                    Ok(Some(s)) => s,
                    Ok(None) => return Decision::deny(DenyReason::NotFound, "no such service"),
                    Err(e) => return unavailable(e),
                };
                if s.is_suspended() {
                    return Decision::deny(DenyReason::Suspended, "the service is suspended");
                }
                if !s.limits.relay {
                    return Decision::deny(
                        DenyReason::LimitReached,
                        "the service's plan does not include relays",
                    );
                }
                let label = format!("relay from {from}");
                if s.kind == Kind::Video {
                    return self.video_grant(&s, &label).await;
                }
                let g = grant_for(&s, &Target::primary(&s), &label);
                if s.limits.transcode {
                    match grant::with_feeds(&self.db, &s, g).await {
                        Ok(g) => Decision::Allow(g),
                        Err(e) => unavailable(e),
                    }
                } else {
                    Decision::Allow(g)
                }
            }
            PublishRequest::Icecast {
                mount,
                username,
                password,
                ..
            } => {
                let service = match self.resolve(mount_slug(mount)).await {
                    Ok(s) => s,
                    Err(e) => return unavailable(e),
                };
                let Some((s, target)) = service.filter(|(s, _)| s.kind == Kind::Radio) else {
                    return Decision::deny(DenyReason::NotFound, format!("no radio mount {mount}"));
                };
                // Credentials first: nobody learns that a service is suspended without them.
                let decision = if username == "source" {
                    if !secret::equal(password, &s.source_password) {
                        return Decision::deny(
                            DenyReason::BadCredentials,
                            "wrong username or password",
                        );
                    }
                    allow(&s, &target, "source")
                } else {
                    self.dj(&s, &target, username, password).await
                };
                if s.is_suspended() && matches!(decision, Decision::Allow(_)) {
                    return Decision::deny(DenyReason::Suspended, "the service is suspended");
                }
                match decision {
                    // A source on the primary mount feeds the extra mounts, if the plan
                    // allows transcoding.
                    Decision::Allow(g) if s.limits.transcode && target.mount == s.slug => {
                        match grant::with_feeds(&self.db, &s, g).await {
                            Ok(g) => Decision::Allow(g),
                            Err(e) => unavailable(e),
                        }
                    }
                    other => other,
                }
            }
        }
    }

    /// A video service's publisher (pushed or relayed) on its stream.
    async fn video_grant(&self, s: &Service, label: &str) -> Decision {
        let target = Target {
            mount: s.slug.clone(),
            fallback: None,
        };
        let mut g = grant_for(s, &target, label);
        // The DVR keeps what the media library leaves of the disk quota.
        if let Some(dvr) = g.dvr.as_mut() {
            match media::bytes_used(self.db.pool(), s.owner_id).await {
                Ok(used) => {
                    dvr.max_bytes = dvr
                        .max_bytes
                        .saturating_sub(u64::try_from(used).unwrap_or(0));
                }
                Err(e) => return unavailable(e),
            }
        }
        Decision::Allow(g)
    }

    /// A DJ's own login: its password, its schedule, its priority.
    async fn dj(&self, s: &Service, target: &Target, username: &str, password: &str) -> Decision {
        let dj = match djs::by_login(&self.db, &s.slug, username).await {
            Ok(d) => d,
            Err(e) => return unavailable(e),
        };
        let ok = password::verify(
            password.to_owned(),
            dj.as_ref().map(|d| d.password_hash.clone()),
        )
        .await;
        let Some(dj) = dj.filter(|_| ok) else {
            return Decision::deny(DenyReason::BadCredentials, "wrong username or password");
        };
        let lifetime = if dj.scheduled_only {
            match schedule::remaining(dj.slots(), chrono::Utc::now()).and_then(|d| d.to_std().ok())
            {
                // The session ends with the slot.
                Some(left) => Some(left),
                None => {
                    return Decision::deny(
                        DenyReason::OutsideSchedule,
                        format!(
                            "DJ {} may only connect during a scheduled slot",
                            dj.username
                        ),
                    );
                }
            }
        } else {
            None
        };
        Decision::Allow(Grant {
            service_id: ServiceId(s.id),
            mount: target.mount.clone(),
            limits: engine_limits(s),
            priority: u8::try_from(dj.priority.clamp(1, 100)).unwrap_or(1),
            label: format!("DJ {}", dj.username),
            lifetime,
            fallback: target.fallback.clone(),
            hls: engine_hls(s),
            transcode: engine_ladder(s),
            dvr: crate::domain::dvr::retention(s),
            record_set: grant::records_sets(s, target),
        })
    }

    async fn play(&self, req: &PlayRequest) -> Decision {
        match self.resolve_for_listener(mount_slug(&req.mount)).await {
            Err(e) => unavailable(e),
            Ok(None) => Decision::deny(DenyReason::NotFound, format!("no mount {}", req.mount)),
            Ok(Some((s, _))) if s.is_suspended() => {
                Decision::deny(DenyReason::Suspended, "the service is suspended")
            }
            Ok(Some((s, target))) => allow(&s, &target, "listener"),
        }
    }

    /// [`Self::resolve`], remembered: while the database is away (known to the health
    /// monitor, or failing now), a mount that resolved before resolves as it did then.
    async fn resolve_for_listener(&self, name: &str) -> sqlx::Result<Option<(Service, Target)>> {
        let fresh = if self.db.health().is_up() {
            self.resolve(name).await
        } else {
            Err(sqlx::Error::PoolTimedOut)
        };
        let Ok(mut known) = self.known.lock() else {
            return fresh;
        };
        match fresh {
            Ok(Some(found)) => {
                known.insert(name.to_owned(), found.clone());
                Ok(Some(found))
            }
            Ok(None) => {
                known.remove(name);
                Ok(None)
            }
            Err(e) if crate::db::health::is_connection_error(&e) => match known.get(name) {
                Some(found) => Ok(Some(found.clone())),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The service and mount a mount name belongs to.
    async fn resolve(&self, name: &str) -> sqlx::Result<Option<(Service, Target)>> {
        if let Some(s) = services::by_slug(&self.db, name).await? {
            let target = Target::primary(&s);
            return Ok(Some((s, target)));
        }
        let Some(m) = mounts::by_name(&self.db, name).await? else {
            return Ok(None);
        };
        let service = services::by_id(self.db.pool(), m.service_id).await?;
        Ok(service.map(|s| {
            (
                s,
                Target {
                    mount: m.name,
                    fallback: m.fallback,
                },
            )
        }))
    }
}

impl Admission for DbAdmission {
    fn admit_publish<'a>(&'a self, req: &'a PublishRequest) -> BoxFuture<'a, Decision> {
        Box::pin(self.publish(req))
    }

    fn admit_play<'a>(&'a self, req: &'a PlayRequest) -> BoxFuture<'a, Decision> {
        Box::pin(self.play(req))
    }

    fn is_admin<'a>(&'a self, username: &'a str, password: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let user = match users::by_username(self.db.pool(), username).await {
                Ok(u) => u.filter(|u| u.role() == Role::Admin),
                Err(e) => {
                    tracing::error!("admission: database error: {e}");
                    return false;
                }
            };
            password::verify(password.to_owned(), user.map(|u| u.password_hash)).await
        })
    }
}
