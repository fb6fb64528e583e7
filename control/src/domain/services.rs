//! Services (radio stations and video channels) as business operations: creating one
//! (a free slug, fresh credentials, inside the reseller's plan), changing it, suspending,
//! rotating its credentials, deleting it; each one transaction, then the engine told.

use serde::Deserialize;
use sqlx::{Any, Transaction};
use tidecast_engine::{ServiceId, SessionRole};

use crate::app::AppState;
use crate::auth::{Caller, secret};
use crate::db::services::{self, NewService, Service, ServiceChanges};
use crate::db::users::{self, Role, User};
use crate::db::{audit, is_unique_violation};
use crate::model::{HlsFormat, Kind, Limits, Status, TargetKind, TargetKinds, TransferAction};

use super::access::{managed_service, manages_service, visible_service};
use super::{Error, Result, audit_in, audit_now, commit_audited, validate};

/// Limits in a request: each field optional, unknown fields refused.
#[derive(schemars::JsonSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsInput {
    pub max_listeners: Option<i64>,
    pub max_bitrate_kbps: Option<i64>,
    pub disk_quota_mb: Option<i64>,
    pub dvr_minutes: Option<i64>,
    pub transcode: Option<bool>,
    pub autodj: Option<bool>,
    /// Monthly data transfer in GB (decimal; 0 for none); fractions allowed.
    pub transfer_gb: Option<f64>,
    pub transfer_action: Option<TransferAction>,
    /// The publish target kinds it may have: any of `rtmp`, `icecast`, `shoutcast`.
    pub restream: Option<Vec<TargetKind>>,
    /// Whether its source may be pulled from a relay URL.
    pub relay: Option<bool>,
}

impl LimitsInput {
    pub fn is_set(&self) -> bool {
        self.max_listeners.is_some()
            || self.max_bitrate_kbps.is_some()
            || self.disk_quota_mb.is_some()
            || self.dvr_minutes.is_some()
            || self.transcode.is_some()
            || self.autodj.is_some()
            || self.transfer_gb.is_some()
            || self.transfer_action.is_some()
            || self.restream.is_some()
            || self.relay.is_some()
    }

    /// `self` over `base`, each value checked.
    pub fn over(self, base: Limits) -> Result<Limits> {
        let r = validate::range;
        Ok(Limits {
            max_listeners: r(
                "limits.max_listeners",
                self.max_listeners.unwrap_or(base.max_listeners),
                0,
                1_000_000,
            )?,
            max_bitrate_kbps: r(
                "limits.max_bitrate_kbps",
                self.max_bitrate_kbps.unwrap_or(base.max_bitrate_kbps),
                8,
                100_000,
            )?,
            disk_quota_mb: r(
                "limits.disk_quota_mb",
                self.disk_quota_mb.unwrap_or(base.disk_quota_mb),
                0,
                100_000_000,
            )?,
            dvr_minutes: r(
                "limits.dvr_minutes",
                self.dvr_minutes.unwrap_or(base.dvr_minutes),
                0,
                525_600,
            )?,
            transcode: self.transcode.unwrap_or(base.transcode),
            autodj: self.autodj.unwrap_or(base.autodj),
            transfer_bytes: match self.transfer_gb {
                None => base.transfer_bytes,
                Some(gb) if gb.is_finite() && (0.0..=1_000_000.0).contains(&gb) => {
                    (gb * 1e9).round() as i64
                }
                Some(_) => {
                    return Err(Error::invalid(
                        "limits.transfer_gb must be between 0 (no limit) and 1000000",
                    ));
                }
            },
            transfer_action: self.transfer_action.unwrap_or(base.transfer_action),
            restream: match &self.restream {
                None => base.restream,
                Some(kinds) => TargetKinds::from_kinds(kinds),
            },
            relay: self.relay.unwrap_or(base.relay),
        })
    }
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// Required for admins and resellers; a customer's own services may leave it out.
    pub owner: Option<i64>,
    pub name: String,
    pub slug: Option<String>,
    pub kind: Kind,
    #[serde(default)]
    pub limits: LimitsInput,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchService {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Accepted only when it equals the current kind (clients often send the whole object).
    pub kind: Option<Kind>,
    pub limits: Option<LimitsInput>,
    /// The primary mount's fallback (radio): another mount of this service, or `null`.
    #[serde(default, deserialize_with = "crate::time::double_option")]
    pub fallback: Option<Option<String>>,
    /// Video: HLS packaging (takes effect when the publisher next connects).
    pub hls: Option<HlsInput>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HlsInput {
    pub segment_seconds: Option<i64>,
    pub end_after_seconds: Option<i64>,
    pub format: Option<HlsFormat>,
    pub low_latency: Option<bool>,
}

/// Checks a reseller's plan for a service with `limits` (the service `except` is being
/// changed, so its current values do not count). Runs inside the transaction that writes,
/// after the reseller's row is locked.
async fn check_plan(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    reseller: &User,
    limits: Limits,
    except: Option<i64>,
) -> Result<()> {
    let Some(plan_id) = reseller.plan_id else {
        return Ok(());
    };
    let Some(plan) = crate::db::plans::by_id(&mut **tx, plan_id).await? else {
        return Ok(());
    };
    let used = services::reseller_usage(&mut **tx, reseller.id, except).await?;
    if let Some(max) = plan.max_services.filter(|_| except.is_none())
        && used.services >= max
    {
        return Err(Error::over_plan(format!(
            "your plan allows {max} services and you have {}",
            used.services
        )));
    }
    if let Some(max) = plan.max_listeners
        && used.listeners + limits.max_listeners > max
    {
        return Err(Error::over_plan(format!(
            "your plan allows {max} listeners in total; {} are given to other services, so this one can have at most {}",
            used.listeners,
            (max - used.listeners).max(0)
        )));
    }
    if let Some(max) = plan.max_disk_mb
        && used.disk_mb + limits.disk_quota_mb > max
    {
        return Err(Error::over_plan(format!(
            "your plan allows {max} MB of disk in total; {} MB are given to other services, so this one can have at most {} MB",
            used.disk_mb,
            (max - used.disk_mb).max(0)
        )));
    }
    Ok(())
}

/// Creates a service (one transaction, committed here).
pub async fn create(state: &AppState, caller: &Caller, body: CreateService) -> Result<Service> {
    let mut tx = state.db.pool().begin().await?;
    let service = create_in(&mut tx, caller, body).await?;
    tx.commit().await?;
    Ok(service)
}

/// Creates a service inside the caller's transaction (provisioning makes the customer and
/// its service in one). A customer may create services for itself when the system settings
/// allow it, with the default limits of the kind (its provider sets limits), inside its
/// reseller's plan.
pub async fn create_in(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    body: CreateService,
) -> Result<Service> {
    let self_service = caller.role() == Role::Customer;
    if self_service {
        if !crate::db::site::load_in(&mut **tx)
            .await?
            .customers_create_services
        {
            return Err(Error::forbidden(
                "services are created by your provider (a reseller or an admin)",
            ));
        }
        if body.limits.is_set() {
            return Err(Error::forbidden(
                "limits are set by your provider; leave them out",
            ));
        }
    }
    let owner_id = match body.owner {
        Some(id) => id,
        None if self_service => caller.id(),
        None => {
            return Err(Error::invalid("owner: the customer who owns the service"));
        }
    };
    if owner_id <= 0 {
        return Err(Error::NotFound("owner"));
    }
    let owner: User = visible_user_in(tx, caller, owner_id)
        .await
        .map_err(|_| Error::NotFound("owner"))?;
    if owner.role() != Role::Customer {
        return Err(Error::invalid("a service's owner must be a customer"));
    }
    let name = validate::name("name", &body.name)?;
    let limits = body.limits.over(body.kind.default_limits())?;
    let explicit_slug = body.slug.is_some();
    let base_slug = match body.slug {
        Some(slug) => {
            validate::slug(&slug)?;
            slug
        }
        None => {
            let s = validate::slugify(&name);
            if s.len() < 2 || validate::slug(&s).is_err() {
                format!("{}-{s}", body.kind.as_str())
                    .trim_end_matches('-')
                    .to_owned()
            } else {
                s
            }
        }
    };

    if caller.role() == Role::Reseller {
        users::lock_row(&mut **tx, caller.id()).await?;
        check_plan(tx, &caller.user, limits, None).await?;
    } else if let Some(reseller_id) = caller.user.reseller_id.filter(|_| self_service) {
        users::lock_row(&mut **tx, reseller_id).await?;
        if let Some(reseller) = users::by_id(&mut **tx, reseller_id).await? {
            check_plan(tx, &reseller, limits, None)
                .await
                .map_err(|e| e.reworded("your plan", "your provider's plan"))?;
        }
    }
    // A generated slug takes the first free of `name`, `name-2`, `name-3`, …
    let mut slug = base_slug.clone();
    let mut n = 1;
    while services::slug_taken(&mut **tx, &slug).await? {
        if explicit_slug {
            return Err(Error::conflict(format!("slug {slug:?} is taken")));
        }
        n += 1;
        slug = format!("{base_slug}-{n}");
    }
    let password = secret::source_password();
    let stream_key = secret::stream_key();
    let id = services::insert(
        &mut **tx,
        &NewService {
            owner_id: owner.id,
            name: &name,
            slug: &slug,
            kind: body.kind,
            source_password: &password,
            stream_key: &stream_key,
            limits,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict(format!("slug {slug:?} is taken"))
        } else {
            e.into()
        }
    })?;
    audit_in(
        tx,
        caller,
        "service.create",
        &format!("service {id} ({slug})"),
    )
    .await?;
    let service = services::by_id(&mut **tx, id)
        .await?
        .ok_or(Error::NotFound("service"))?;
    tracing::info!(by = %caller.user.username, owner = %owner.username, %slug, kind = body.kind.as_str(), "service created");
    Ok(service)
}

/// A user the caller sees, read inside a transaction.
async fn visible_user_in(tx: &mut Transaction<'_, Any>, caller: &Caller, id: i64) -> Result<User> {
    users::by_id(&mut **tx, id)
        .await?
        .filter(|u| super::access::sees_user(caller, u))
        .ok_or(Error::NotFound("user"))
}

/// Changes a service's name, slug, limits (its reseller or an admin), fallback (radio) or
/// HLS packaging (video); the engine follows (a new slug makes sources reconnect; AutoDJ
/// restarts under the new name and limits).
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: PatchService,
) -> Result<Service> {
    let (service, owner) = visible_service(state, caller, id).await?;
    let manages = manages_service(caller, &owner);
    if let Some(kind) = body.kind
        && kind != service.kind
    {
        return Err(Error::invalid("a service's kind cannot be changed"));
    }
    if (body.limits.is_some() || body.slug.is_some()) && !manages {
        return Err(Error::forbidden(
            "only the service's reseller or an admin can change its limits or slug",
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(|n| validate::name("name", n))
        .transpose()?;
    if let Some(slug) = &body.slug {
        validate::slug(slug)?;
    }
    let limits = body.limits.map(|l| l.over(service.limits)).transpose()?;
    if let Some(fallback) = &body.fallback {
        if !service.is_radio() {
            return Err(Error::invalid("fallback mounts are for radio services"));
        }
        if let Some(fb) = fallback {
            super::mounts::check_fallback(state, &service, &service.slug, fb).await?;
        }
    }
    let fallback = body
        .fallback
        .map(|f| f.map(|f| f.trim_start_matches('/').to_owned()));
    if body.hls.is_some() && service.kind != Kind::Video {
        return Err(Error::invalid("HLS settings are for video services"));
    }
    let hls = body.hls.as_ref();
    let segment_secs = hls.and_then(|h| h.segment_seconds);
    if segment_secs.is_some_and(|s| !(1..=10).contains(&s)) {
        return Err(Error::invalid(
            "hls.segment_seconds must be between 1 and 10",
        ));
    }
    let low_latency = hls.and_then(|h| h.low_latency);
    let format_after = hls.and_then(|h| h.format).unwrap_or(service.hls.format);
    let low_latency_after = low_latency.unwrap_or(service.hls.low_latency);
    if low_latency_after && format_after != HlsFormat::Fmp4 {
        return Err(Error::invalid(
            "hls.low_latency needs hls.format \"fmp4\" (LL-HLS parts are CMAF fragments)",
        ));
    }
    let end_after = hls.and_then(|h| h.end_after_seconds);
    if end_after.is_some_and(|s| !(0..=3600).contains(&s)) {
        return Err(Error::invalid(
            "hls.end_after_seconds must be between 0 and 3600",
        ));
    }
    let new_slug = body.slug.clone();

    let mut tx = state.db.pool().begin().await?;
    if let (Some(limits), Role::Reseller) = (limits, caller.role()) {
        users::lock_row(&mut *tx, caller.id()).await?;
        check_plan(&mut tx, &caller.user, limits, Some(service.id)).await?;
    }
    if let Some(slug) = body.slug.as_ref().filter(|s| **s != service.slug)
        && services::slug_taken(&mut *tx, slug).await?
    {
        return Err(Error::conflict(format!("slug {slug:?} is taken")));
    }
    services::update(
        &mut *tx,
        id,
        &ServiceChanges {
            name,
            slug: body.slug,
            limits,
            hls_segment_secs: segment_secs,
            hls_end_after_secs: end_after,
            hls_format: hls.and_then(|h| h.format),
            hls_low_latency: low_latency,
        },
    )
    .await?;
    if let Some(fb) = &fallback {
        services::set_fallback(&mut *tx, id, fb.as_deref()).await?;
    }
    if let Some(new_slug) = new_slug.as_ref().filter(|s| **s != service.slug) {
        // Mounts that fall back to the primary follow its new name.
        crate::db::mounts::rename_fallback(&mut *tx, id, &service.slug, new_slug).await?;
    }
    audit_in(&mut tx, caller, "service.update", &format!("service {id}")).await?;
    let updated = services::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| Error::NotFound("service"))?;
    tx.commit().await?;
    if let Some(fb) = &fallback {
        super::mounts::push_fallback(state, &updated.slug, fb.as_deref());
    }
    if updated.slug != service.slug {
        // Sessions are attached to the old mount name; make sources reconnect to the new one.
        state
            .engine
            .end_service(ServiceId(id), "the service's slug changed");
    }
    super::autodj::follow(state, &service, &updated).await;
    Ok(updated)
}

/// Deletes a service; everything connected to it is dropped. The owner's media library
/// belongs to the customer, not the service: it stays.
pub async fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let (service, owner) = managed_service(state, caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    services::delete(&mut *tx, id).await?;
    let subject = format!("service {id} ({})", service.slug);
    commit_audited(tx, caller, "service.delete", &subject).await?;
    let dropped = state
        .engine
        .end_service(ServiceId(id), "the service was deleted");
    // The owner's media library belongs to the customer, not the service: it stays.
    tracing::info!(by = %caller.user.username, owner = %owner.username, slug = %service.slug, dropped, "service deleted");
    Ok(())
}

/// Suspends or unsuspends a service: its status, an audit line (with `why` when the server
/// itself acts, e.g. the transfer limit), and the engine (suspended: everything connected
/// is dropped; unsuspended: a station's AutoDJ plays again).
pub async fn set_status(
    state: &AppState,
    service: &Service,
    suspend: bool,
    actor: Option<i64>,
    why: Option<&str>,
) -> Result<()> {
    let id = service.id;
    let (status, action) = if suspend {
        (Status::Suspended, "service.suspend")
    } else {
        (Status::Active, "service.unsuspend")
    };
    let mut tx = state.db.pool().begin().await?;
    services::set_status(&mut *tx, id, status).await?;
    let subject = match why {
        Some(why) => format!("service {id} ({}): {why}", service.slug),
        None => format!("service {id} ({})", service.slug),
    };
    audit(&mut *tx, actor, action, &subject).await?;
    tx.commit().await?;
    if suspend {
        // Admission now refuses the service; end whatever is already connected.
        let dropped = state
            .engine
            .end_service(ServiceId(id), "the service was suspended");
        tracing::debug!(slug = %service.slug, dropped, "sessions ended by suspension");
    } else if let Some(s) = services::by_id(state.db.pool(), id).await?
        && super::autodj::wanted(&s)
        && let Err(e) = super::autodj::run(state, &s).await
    {
        // A station whose AutoDJ was on plays again.
        tracing::warn!(slug = %s.slug, "AutoDJ not restarted: {e}");
    }
    Ok(())
}

/// Suspends or unsuspends a service the caller manages.
/// A service of a suspended account stays suspended until the account's suspension is lifted
/// (an admin may still lift the service alone).
pub async fn suspend(state: &AppState, caller: &Caller, id: i64, suspend: bool) -> Result<Service> {
    let (service, owner) = managed_service(state, caller, id).await?;
    if !suspend && caller.role() != Role::Admin {
        let reseller = match owner.reseller_id {
            Some(r) => users::by_id(state.db.pool(), r).await?,
            None => None,
        };
        if owner.suspended_by().is_some() || reseller.is_some_and(|r| r.suspended_by().is_some()) {
            return Err(Error::conflict(format!(
                "the account {} is suspended; lift its suspension (POST /api/v1/users/{}/unsuspend) rather than one service's",
                owner.username, owner.id
            )));
        }
    }
    set_status(state, &service, suspend, Some(caller.id()), None).await?;
    tracing::info!(by = %caller.user.username, slug = %service.slug, "service {}", if suspend { "suspended" } else { "unsuspended" });
    reload(state, id).await
}

async fn reload(state: &AppState, id: i64) -> Result<Service> {
    services::by_id(state.db.pool(), id)
        .await?
        .ok_or(Error::NotFound("service"))
}

/// New source password and stream key. Live sources are dropped (listeners stay):
/// rotation is what one does when a key leaked, and whoever holds the old key must not stay
/// on air.
pub async fn rotate_credentials(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    services::set_credentials(
        &mut *tx,
        id,
        &secret::source_password(),
        &secret::stream_key(),
    )
    .await?;
    commit_audited(
        tx,
        caller,
        "service.rotate_credentials",
        &format!("service {id} ({})", service.slug),
    )
    .await?;
    let dropped = state
        .engine
        .registry()
        .drop_sources(ServiceId(id), "the publish credentials were rotated");
    tracing::info!(by = %caller.user.username, slug = %service.slug, dropped, "publish credentials rotated");
    reload(state, id).await
}

/// Drops the live source (an encoder that reconnects comes back; rotate the credentials to
/// keep it out); the number of sources dropped.
pub async fn stop_source(state: &AppState, caller: &Caller, id: i64) -> Result<usize> {
    let (s, _) = visible_service(state, caller, id).await?;
    let dropped = state
        .engine
        .registry()
        .drop_sources(ServiceId(s.id), "the source was stopped through the API");
    audit_now(
        state,
        caller,
        "service.source_stop",
        &format!("service {id} ({})", s.slug),
    )
    .await?;
    Ok(dropped)
}

/// What listeners and viewers of a service get right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnAir {
    /// A live source: the service's own encoder or a DJ.
    Live,
    /// A relay pulling another server's stream.
    Relay,
    /// A station's AutoDJ, with no live source connected.
    Autodj,
    /// Nothing (or the service is suspended).
    Offline,
}

/// What is on air for `s`: a live source or a relay (both are source sessions; a relay is
/// the only one while it alone is connected), else a station's AutoDJ, else nothing.
pub fn on_air(state: &AppState, s: &Service) -> OnAir {
    if s.is_suspended() {
        return OnAir::Offline;
    }
    let id = ServiceId(s.id);
    let sources = state.engine.registry().count(id, SessionRole::Source);
    let relaying = state
        .engine
        .relays()
        .status(s.id)
        .is_some_and(|st| st.state == tidecast_engine::targets::State::Live);
    match sources {
        1 if relaying => return OnAir::Relay,
        0 => {}
        _ => return OnAir::Live,
    }
    let autodj = state.engine.autodj().status(id).is_some_and(|st| st.on_air);
    if autodj {
        OnAir::Autodj
    } else {
        OnAir::Offline
    }
}

/// Whether a source is on air for `s` right now.
pub fn is_live(state: &AppState, s: &Service) -> bool {
    state
        .engine
        .registry()
        .count(ServiceId(s.id), SessionRole::Source)
        > 0
}

/// Commits `tx` and answers service `id` as it now is (read back inside the transaction,
/// so the answer shows exactly what was written).
pub(crate) async fn commit_and_reload(mut tx: Transaction<'_, Any>, id: i64) -> Result<Service> {
    let updated = services::by_id(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound("service"))?;
    tx.commit().await?;
    Ok(updated)
}
