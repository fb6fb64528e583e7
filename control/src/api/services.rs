//! `/api/v1/services`: radio stations and video channels.
//!
//! Admins and resellers create and manage services for customers (a reseller within its
//! plan); a customer sees its own services, renames them and rotates their credentials.
//! Publish credentials are in every answer: whoever may see a service is its owner, its
//! reseller or an admin, exactly the people who may know them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tidecast_engine::{ServiceId, SessionRole};

use crate::auth::{Caller, secret};
use crate::db::services::{self, Kind, Limits, NewService, Service, ServiceChanges, ServiceScope};
use crate::db::users::{self, Role, User};
use crate::db::{audit, is_unique_violation};

use super::access::{managed_service, visible_service, visible_user};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page, PathId};
use super::state::AppState;
use super::time::rfc3339;
use super::validate;

/// Limits in a request: each field optional, unknown fields refused.
#[derive(schemars::JsonSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsInput {
    max_listeners: Option<i64>,
    max_bitrate_kbps: Option<i64>,
    disk_quota_mb: Option<i64>,
    dvr_minutes: Option<i64>,
    transcode: Option<bool>,
    autodj: Option<bool>,
    /// Monthly data transfer in GB (decimal; 0 for none); fractions allowed.
    transfer_gb: Option<f64>,
    transfer_action: Option<crate::db::services::TransferAction>,
    /// The publish target kinds it may have: any of `rtmp`, `icecast`, `shoutcast`.
    restream: Option<Vec<String>>,
    /// Whether its source may be pulled from a relay URL.
    relay: Option<bool>,
}

impl LimitsInput {
    fn is_set(&self) -> bool {
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
    fn over(self, base: Limits) -> ApiResult<Limits> {
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
                    return Err(ApiError::invalid(
                        "limits.transfer_gb must be between 0 (no limit) and 1000000",
                    ));
                }
            },
            transfer_action: self.transfer_action.unwrap_or(base.transfer_action),
            restream: match &self.restream {
                None => base.restream,
                Some(names) => crate::db::services::TargetKinds::from_names(names)
                    .map_err(|e| ApiError::invalid(format!("limits.restream: {e}")))?,
            },
            relay: self.relay.unwrap_or(base.relay),
        })
    }
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// Required for admins and resellers; a customer's own services may leave it out.
    owner: Option<i64>,
    name: String,
    slug: Option<String>,
    kind: Kind,
    #[serde(default)]
    limits: LimitsInput,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchService {
    name: Option<String>,
    slug: Option<String>,
    /// Accepted only when it equals the current kind (clients often send the whole object).
    kind: Option<Kind>,
    limits: Option<LimitsInput>,
    /// The primary mount's fallback (radio): another mount of this service, or `null`.
    #[serde(default, deserialize_with = "super::time::double_option")]
    fallback: Option<Option<String>>,
    /// Video: HLS packaging (takes effect when the publisher next connects).
    hls: Option<HlsInput>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HlsInput {
    segment_seconds: Option<i64>,
    end_after_seconds: Option<i64>,
    format: Option<HlsFormat>,
    low_latency: Option<bool>,
}

#[derive(schemars::JsonSchema, Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum HlsFormat {
    Ts,
    Fmp4,
}

/// A video service's HLS packaging.
#[derive(Debug, Serialize)]
struct HlsView {
    /// Target segment duration; segments still start on keyframes, so a longer keyframe
    /// interval makes longer segments.
    segment_seconds: i64,
    /// How long after the publisher leaves the playlist gets `#EXT-X-ENDLIST` (a publisher
    /// that reconnects sooner continues it).
    end_after_seconds: i64,
    /// `ts` (MPEG-TS, every player) or `fmp4` (CMAF).
    format: String,
    /// LL-HLS: partial segments of a third of a second and blocking playlist reload, for
    /// players 2-3 s behind live (fmp4 only).
    low_latency: bool,
}

/// A service as the API shows it.
#[derive(Debug, Serialize)]
pub struct ServiceView {
    id: i64,
    name: String,
    slug: String,
    kind: String,
    status: String,
    /// Whether a source is on air right now.
    live: bool,
    owner: i64,
    limits: Limits,
    publish: Publish,
    urls: Urls,
    /// Radio: the mount listeners hear while this one has no source.
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
    /// Video: how the stream is packaged as HLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    hls: Option<HlsView>,
    created_at: String,
    updated_at: String,
}

/// Publish credentials: `{"icecast":{…}}` for radio, `{"rtmp":{…}}` for video.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Publish {
    Icecast {
        host: String,
        port: u16,
        mount: String,
        username: &'static str,
        password: String,
    },
    Rtmp {
        url: String,
        stream_key: String,
    },
}

#[derive(Debug, Serialize)]
struct Urls {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    hls: String,
    player: String,
    embed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dvr: Option<String>,
}

fn view(state: &AppState, headers: &HeaderMap, s: &Service) -> ServiceView {
    let request_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let links = &state.links;
    let host = links.host(request_host);
    let host_in_url = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let base = links.http_base(request_host);
    let radio = s.kind == "radio";
    let publish = if radio {
        Publish::Icecast {
            host,
            port: links.icecast_port,
            mount: format!("/{}", s.slug),
            username: "source",
            password: s.source_password.clone(),
        }
    } else {
        Publish::Rtmp {
            url: format!("rtmp://{host_in_url}:{}/live", links.rtmp_port),
            stream_key: s.stream_key.clone(),
        }
    };
    let urls = Urls {
        listen: radio.then(|| format!("http://{host_in_url}:{}/{}", links.icecast_port, s.slug)),
        hls: format!("{base}/hls/{}/index.m3u8", s.slug),
        player: format!("{base}/player/{}", s.slug),
        embed: format!("{base}/embed/{}", s.slug),
        dvr: (!radio).then(|| format!("{base}/hls/{}/dvr.m3u8", s.slug)),
    };
    ServiceView {
        id: s.id,
        name: s.name.clone(),
        slug: s.slug.clone(),
        kind: s.kind.clone(),
        status: s.status.clone(),
        live: state
            .engine
            .registry()
            .count(ServiceId(s.id), SessionRole::Source)
            > 0,
        owner: s.owner_id,
        limits: s.limits(),
        publish,
        urls,
        fallback: s.fallback.clone(),
        hls: (!radio).then_some(HlsView {
            segment_seconds: s.hls_segment_secs,
            end_after_seconds: s.hls_end_after_secs,
            format: s.hls_format.clone(),
            low_latency: s.hls_low_latency != 0,
        }),
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

/// Checks a reseller's plan for a service with `limits` (the service `except` is being
/// changed, so its current values do not count). Runs inside the transaction that writes,
/// after the reseller's row is locked.
async fn check_plan(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    reseller: &User,
    limits: Limits,
    except: Option<i64>,
) -> ApiResult<()> {
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
        return Err(ApiError::over_plan(format!(
            "your plan allows {max} services and you have {}",
            used.services
        )));
    }
    if let Some(max) = plan.max_listeners
        && used.listeners + limits.max_listeners > max
    {
        return Err(ApiError::over_plan(format!(
            "your plan allows {max} listeners in total; {} are given to other services, so this one can have at most {}",
            used.listeners,
            (max - used.listeners).max(0)
        )));
    }
    if let Some(max) = plan.max_disk_mb
        && used.disk_mb + limits.disk_quota_mb > max
    {
        return Err(ApiError::over_plan(format!(
            "your plan allows {max} MB of disk in total; {} MB are given to other services, so this one can have at most {} MB",
            used.disk_mb,
            (max - used.disk_mb).max(0)
        )));
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    // A customer may create services for itself when the system settings allow it, with
    // the default limits of the kind (its provider sets limits), inside its reseller's plan.
    let self_service = caller.role() == Role::Customer;
    if self_service {
        if !super::site::load(&state.db)
            .await?
            .customers_create_services
        {
            return Err(ApiError::forbidden(
                "services are created by your provider (a reseller or an admin)",
            ));
        }
        if body.limits.is_set() {
            return Err(ApiError::forbidden(
                "limits are set by your provider; leave them out",
            ));
        }
    }
    let owner_id = match body.owner {
        Some(id) => id,
        None if self_service => caller.id(),
        None => {
            return Err(ApiError::invalid(
                "owner: the customer who owns the service",
            ));
        }
    };
    if owner_id <= 0 {
        return Err(ApiError::not_found("owner"));
    }
    let owner: User = visible_user(&state, &caller, owner_id)
        .await
        .map_err(|_| ApiError::not_found("owner"))?;
    if owner.role() != Role::Customer {
        return Err(ApiError::invalid("a service's owner must be a customer"));
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

    let mut tx = state.db.pool().begin().await?;
    if caller.role() == Role::Reseller {
        users::lock_row(&mut *tx, caller.id()).await?;
        check_plan(&mut tx, &caller.user, limits, None).await?;
    } else if let Some(reseller_id) = caller.user.reseller_id.filter(|_| self_service) {
        users::lock_row(&mut *tx, reseller_id).await?;
        if let Some(reseller) = users::by_id(&mut *tx, reseller_id).await? {
            check_plan(&mut tx, &reseller, limits, None)
                .await
                .map_err(|e| e.reworded("your plan", "your provider's plan"))?;
        }
    }
    // A generated slug takes the first free of `name`, `name-2`, `name-3`, …
    let mut slug = base_slug.clone();
    let mut n = 1;
    while services::slug_taken(&mut *tx, &slug).await? {
        if explicit_slug {
            return Err(ApiError::conflict(format!("slug {slug:?} is taken")));
        }
        n += 1;
        slug = format!("{base_slug}-{n}");
    }
    let password = secret::source_password();
    let stream_key = secret::stream_key();
    let id = services::insert(
        &mut *tx,
        &NewService {
            owner_id: owner.id,
            name: &name,
            slug: &slug,
            kind: body.kind.as_str(),
            source_password: &password,
            stream_key: &stream_key,
            limits,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::conflict(format!("slug {slug:?} is taken"))
        } else {
            e.into()
        }
    })?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.create",
        &format!("service {id} ({slug})"),
    )
    .await?;
    let service = services::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    tx.commit().await?;
    tracing::info!(by = %caller.user.username, owner = %owner.username, %slug, kind = body.kind.as_str(), "service created");
    Ok((StatusCode::CREATED, Json(view(&state, &headers, &service))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    page: Page,
) -> ApiResult<Json<List<ServiceView>>> {
    let scope = match caller.role() {
        Role::Admin => ServiceScope::All,
        Role::Reseller => ServiceScope::Reseller(caller.id()),
        Role::Customer => ServiceScope::Owner(caller.id()),
    };
    let (items, total) =
        services::list(&state.db, scope, page.owner, page.limit, page.offset).await?;
    Ok(Json(List {
        items: items.iter().map(|s| view(&state, &headers, s)).collect(),
        total,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(view(&state, &headers, &service)))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchService>,
) -> ApiResult<Json<ServiceView>> {
    let (service, owner) = visible_service(&state, &caller, id).await?;
    let manages = super::access::manages_service(&caller, &owner);
    if let Some(kind) = body.kind
        && kind.as_str() != service.kind
    {
        return Err(ApiError::invalid("a service's kind cannot be changed"));
    }
    if (body.limits.is_some() || body.slug.is_some()) && !manages {
        return Err(ApiError::forbidden(
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
    let limits = body.limits.map(|l| l.over(service.limits())).transpose()?;
    if let Some(fallback) = &body.fallback {
        if service.kind != "radio" {
            return Err(ApiError::invalid("fallback mounts are for radio services"));
        }
        if let Some(fb) = fallback {
            super::mounts::check_fallback(&state, &service, &service.slug, fb).await?;
        }
    }
    let fallback = body
        .fallback
        .map(|f| f.map(|f| f.trim_start_matches('/').to_owned()));
    if body.hls.is_some() && service.kind != "video" {
        return Err(ApiError::invalid("HLS settings are for video services"));
    }
    let hls = body.hls.as_ref();
    let segment_secs = hls.and_then(|h| h.segment_seconds);
    if segment_secs.is_some_and(|s| !(1..=10).contains(&s)) {
        return Err(ApiError::invalid(
            "hls.segment_seconds must be between 1 and 10",
        ));
    }
    let low_latency = hls.and_then(|h| h.low_latency);
    let format_after = match hls.and_then(|h| h.format) {
        Some(HlsFormat::Fmp4) => "fmp4",
        Some(HlsFormat::Ts) => "ts",
        None => service.hls_format.as_str(),
    };
    let low_latency_after = low_latency.unwrap_or(service.hls_low_latency != 0);
    if low_latency_after && format_after != "fmp4" {
        return Err(ApiError::invalid(
            "hls.low_latency needs hls.format \"fmp4\" (LL-HLS parts are CMAF fragments)",
        ));
    }
    let end_after = hls.and_then(|h| h.end_after_seconds);
    if end_after.is_some_and(|s| !(0..=3600).contains(&s)) {
        return Err(ApiError::invalid(
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
        return Err(ApiError::conflict(format!("slug {slug:?} is taken")));
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
            hls_format: hls.and_then(|h| h.format).map(|f| {
                match f {
                    HlsFormat::Ts => "ts",
                    HlsFormat::Fmp4 => "fmp4",
                }
                .to_owned()
            }),
            hls_low_latency: low_latency,
        },
    )
    .await?;
    if let Some(fb) = &fallback {
        sqlx::query("UPDATE services SET fallback = $2 WHERE id = $1")
            .bind(id)
            .bind(fb.as_deref())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(new_slug) = new_slug.as_ref().filter(|s| **s != service.slug) {
        // Mounts that fall back to the primary follow its new name.
        sqlx::query("UPDATE mounts SET fallback = $3 WHERE service_id = $1 AND fallback = $2")
            .bind(id)
            .bind(&service.slug)
            .bind(new_slug)
            .execute(&mut *tx)
            .await?;
    }
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.update",
        &format!("service {id}"),
    )
    .await?;
    let updated = services::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    tx.commit().await?;
    if let Some(fb) = &fallback {
        super::mounts::push_fallback(&state, &updated.slug, fb.as_deref());
    }
    if updated.slug != service.slug {
        // Sessions are attached to the old mount name; make sources reconnect to the new one.
        state
            .engine
            .end_service(ServiceId(id), "the service's slug changed");
    }
    follow_autodj(&state, &service, &updated).await;
    Ok(Json(view(&state, &headers, &updated)))
}

/// AutoDJ after a change to its station: off when the plan no longer has it, restarted
/// (new mount name, limits) when it should play.
async fn follow_autodj(state: &AppState, before: &Service, after: &Service) {
    let sid = ServiceId(after.id);
    let wanted = after.kind == "radio"
        && after.autodj != 0
        && !after.is_suspended()
        && crate::autodj::Settings::of(after).enabled;
    if !wanted {
        if state.engine.autodj().stop(sid) {
            tracing::info!(slug = %after.slug, "AutoDJ stopped: no longer in the station's plan");
        }
        return;
    }
    let changed = before.slug != after.slug
        || before.autodj != after.autodj
        || before.max_bitrate_kbps != after.max_bitrate_kbps
        || before.max_listeners != after.max_listeners
        || before.name != after.name
        || !state.engine.autodj().is_running(sid);
    if changed && let Err(e) = crate::autodj::start(state, after).await {
        tracing::warn!(slug = %after.slug, "AutoDJ not restarted: {e}");
    }
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let (service, owner) = managed_service(&state, &caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    services::delete(&mut *tx, id).await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.delete",
        &format!("service {id} ({})", service.slug),
    )
    .await?;
    tx.commit().await?;
    let dropped = state
        .engine
        .end_service(ServiceId(id), "the service was deleted");
    // The owner's media library belongs to the customer, not the service: it stays.
    tracing::info!(by = %caller.user.username, owner = %owner.username, slug = %service.slug, dropped, "service deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_status(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    id: i64,
    suspend: bool,
) -> ApiResult<Json<ServiceView>> {
    let (service, _) = managed_service(&state, &caller, id).await?;
    apply_status(&state, &service, suspend, Some(caller.id()), None).await?;
    tracing::info!(by = %caller.user.username, slug = %service.slug, "service {}", if suspend { "suspended" } else { "unsuspended" });
    let updated = services::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    Ok(Json(view(&state, &headers, &updated)))
}

/// Suspends or unsuspends a service: its status, an audit line (with `why` when the server
/// itself acts, e.g. the transfer limit), and the engine (suspended: everything connected
/// is dropped; unsuspended: a station's AutoDJ plays again).
pub async fn apply_status(
    state: &AppState,
    service: &crate::db::services::Service,
    suspend: bool,
    actor: Option<i64>,
    why: Option<&str>,
) -> ApiResult<()> {
    let id = service.id;
    let (status, action) = if suspend {
        ("suspended", "service.suspend")
    } else {
        ("active", "service.unsuspend")
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
        && s.kind == "radio"
        && s.autodj != 0
        && crate::autodj::Settings::of(&s).enabled
        && let Err(e) = crate::autodj::start(state, &s).await
    {
        // A station whose AutoDJ was on plays again.
        tracing::warn!(slug = %s.slug, "AutoDJ not restarted: {e}");
    }
    Ok(())
}

pub async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    set_status(state, caller, headers, id, true).await
}

pub async fn unsuspend(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    set_status(state, caller, headers, id, false).await
}

/// New source password and stream key. Live sources are dropped (listeners stay): rotation is what one does
/// when a key leaked, and whoever holds the old key must not stay on air.
pub async fn rotate_credentials(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    services::set_credentials(
        &mut *tx,
        id,
        &secret::source_password(),
        &secret::stream_key(),
    )
    .await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.rotate_credentials",
        &format!("service {id} ({})", service.slug),
    )
    .await?;
    tx.commit().await?;
    let dropped = state
        .engine
        .registry()
        .drop_sources(ServiceId(id), "the publish credentials were rotated");
    tracing::info!(by = %caller.user.username, slug = %service.slug, dropped, "publish credentials rotated");
    let updated = services::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    Ok(Json(view(&state, &headers, &updated)))
}
