//! `/api/v1/services/{id}/transcode`: a video service's adaptive-bitrate ladder.
//!
//! `PUT` with `{"renditions":[…], "watermark":{…}}` sets it; without `renditions` the default
//! ladder (1080p/720p/480p/360p, Apple-authoring-style bitrates) is trimmed from the top to
//! the plan's `max_bitrate_kbps`; `{"renditions":[]}` or `DELETE` turns transcoding off. A
//! rendition `{"name":"source"}` offers the source as it arrives, next to the transcoded
//! rungs. An explicit ladder the plan cannot carry is refused with a 422 that says why.
//! A change applies from the next time the source connects. While a source is live, `GET`
//! also says which rungs run for it (a rung's bitrate is capped at the source's) and which
//! are skipped, and why (`"live"`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tidecast_engine::transcode::{Corner, LadderSpec, RenditionSpec, WatermarkSpec};

use crate::auth::Caller;
use crate::db::audit;
use crate::db::services::{self, Service};

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use super::state::AppState;

/// The pass-through rendition's name.
pub const SOURCE: &str = "source";
/// More rungs than this cost more CPU than any player gains from.
const MAX_RUNGS: usize = 6;

/// A rung as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub name: String,
    /// Absent: the source's aspect ratio at this height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// 0 for an audio-only rung (radio).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub video_kbps: u32,
    pub audio_kbps: u32,
}

impl From<&Rendition> for RenditionSpec {
    fn from(r: &Rendition) -> Self {
        Self {
            name: r.name.clone(),
            width: r.width.unwrap_or(0),
            height: r.height,
            video_kbps: r.video_kbps,
            audio_kbps: r.audio_kbps,
        }
    }
}

impl From<&RenditionSpec> for Rendition {
    fn from(r: &RenditionSpec) -> Self {
        Self {
            name: r.name.clone(),
            width: (r.width > 0).then_some(r.width),
            height: r.height,
            video_kbps: r.video_kbps,
            audio_kbps: r.audio_kbps,
        }
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A radio station's ladder: AAC rungs for its HLS (`{"name","audio_kbps"}`); the default is
/// 48, 96 and 192 kbit/s. Each rung is capped by the plan's `max_bitrate_kbps` (a listener
/// takes one rung, as it would take one mount), a default rung over it is left out.
pub fn radio_ladder_from(input: TranscodeInput, max_kbps: u32) -> Result<Ladder, ApiError> {
    let fits = |kbps: u32| max_kbps == 0 || kbps <= max_kbps;
    let rung = |name: String, audio_kbps| Rendition {
        name,
        width: None,
        height: 0,
        video_kbps: 0,
        audio_kbps,
    };
    let mut ladder = Ladder {
        watermark: None,
        ..Ladder::default()
    };
    if input.watermark.is_some() {
        return Err(ApiError::invalid(
            "watermark: a radio station has no picture",
        ));
    }
    match input.renditions {
        None => {
            ladder.renditions = [48, 96, 192]
                .into_iter()
                .filter(|k| fits(*k))
                .map(|k| rung(format!("aac{k}"), k))
                .collect();
        }
        Some(list) => {
            if list.len() > MAX_RUNGS {
                return Err(ApiError::invalid(format!(
                    "renditions: at most {MAX_RUNGS}"
                )));
            }
            for (i, r) in list.into_iter().enumerate() {
                let name = r.name.trim().to_owned();
                if name.is_empty()
                    || name.len() > 32
                    || name == SOURCE
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    || ladder.renditions.iter().any(|x| x.name == name)
                {
                    return Err(ApiError::invalid(format!(
                        "renditions[{i}].name: 1 to 32 letters, digits, - or _, each once (not \"source\")"
                    )));
                }
                if r.width.is_some() || r.height.is_some() || r.video_kbps.is_some() {
                    return Err(ApiError::invalid(format!(
                        "renditions[{i}]: a radio rendition is audio only: name and audio_kbps"
                    )));
                }
                let kbps = r.audio_kbps.ok_or_else(|| {
                    ApiError::invalid(format!("renditions[{i}].audio_kbps is required"))
                })?;
                if !(32..=320).contains(&kbps) {
                    return Err(ApiError::invalid(format!(
                        "renditions[{i}].audio_kbps must be between 32 and 320"
                    )));
                }
                if !fits(kbps) {
                    return Err(ApiError::over_plan(format!(
                        "renditions[{i}].audio_kbps ({kbps}) is over this station's max_bitrate_kbps ({max_kbps})"
                    )));
                }
                ladder.renditions.push(rung(name, kbps));
            }
        }
    }
    ladder
        .renditions
        .sort_by_key(|r| std::cmp::Reverse(r.audio_kbps));
    Ok(ladder)
}

/// A service's ladder as stored (`services.transcode_json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ladder {
    /// Whether the source is offered as it arrives (`{"name":"source"}` in the request).
    #[serde(default)]
    pub source: bool,
    pub renditions: Vec<Rendition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<WatermarkIn>,
    /// The watermark's picture on disk (resolved from its media item when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_file: Option<String>,
}

/// `PUT` body.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodeInput {
    renditions: Option<Vec<RenditionInput>>,
    watermark: Option<WatermarkIn>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenditionInput {
    name: String,
    width: Option<u32>,
    height: Option<u32>,
    video_kbps: Option<u32>,
    audio_kbps: Option<u32>,
}

#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkIn {
    pub media: i64,
    #[serde(default = "default_position")]
    pub position: String,
    /// 0.0 ..= 1.0, stored as a percentage.
    #[serde(default = "default_opacity", with = "percent")]
    #[schemars(with = "f64", range(min = 0.0, max = 1.0))]
    pub opacity: u8,
}

fn default_position() -> String {
    "top-right".into()
}

fn default_opacity() -> u8 {
    80
}

/// Opacity travels as a 0..1 number and is kept as a whole percentage.
mod percent {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(*v) / 100.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(serde::de::Error::custom("opacity must be between 0 and 1"));
        }
        Ok((v * 100.0).round() as u8)
    }
}

/// What `GET` answers.
#[derive(Debug, Serialize)]
pub struct TranscodeView {
    /// Whether the service's plan allows transcoding (`limits.transcode`).
    allowed: bool,
    enabled: bool,
    renditions: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watermark: Option<WatermarkIn>,
    /// Sum of the transcoded rungs' bitrates, against the plan's `max_bitrate_kbps`.
    total_kbps: u32,
    max_bitrate_kbps: i64,
    applies: &'static str,
    /// While a source is live with a ladder: which rungs run and which are skipped, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveRungs>,
}

/// The rungs the engine runs for the source on air.
#[derive(Debug, Serialize)]
struct LiveRungs {
    running: Vec<RunningRung>,
    skipped: Vec<SkippedRung>,
}

#[derive(Debug, Serialize)]
struct RunningRung {
    name: String,
    /// As encoded: a rung's bitrate above the source's is capped at the source's.
    video_kbps: u32,
}

#[derive(Debug, Serialize)]
struct SkippedRung {
    name: String,
    reason: String,
}

/// What the engine runs for `s`'s live source, if one is on air with a ladder.
fn live_rungs(state: &AppState, s: &Service) -> Option<LiveRungs> {
    let plan = state.engine.hls().get(&s.slug)?.rungs()?;
    Some(LiveRungs {
        running: plan
            .running
            .iter()
            .map(|r| RunningRung {
                name: r.name.clone(),
                video_kbps: r.video_kbps,
            })
            .collect(),
        skipped: plan
            .skipped
            .iter()
            .map(|r| SkippedRung {
                name: r.name.clone(),
                reason: r.reason.to_string(),
            })
            .collect(),
    })
}

/// Apple's HLS authoring guidance, rounded: what a service gets when it turns transcoding
/// on without naming its rungs.
pub fn default_rungs() -> Vec<Rendition> {
    let rung = |name: &str, height, video_kbps, audio_kbps| Rendition {
        name: name.into(),
        width: None,
        height,
        video_kbps,
        audio_kbps,
    };
    vec![
        rung("1080p", 1080, 5000, 128),
        rung("720p", 720, 3000, 128),
        rung("480p", 480, 1400, 96),
        rung("360p", 360, 800, 96),
    ]
}

fn total(rungs: &[Rendition]) -> u32 {
    rungs.iter().map(|r| r.video_kbps + r.audio_kbps).sum()
}

/// The ladder a request asks for, checked against the plan's bitrate cap (`max_kbps`, 0 =
/// none). The default ladder is trimmed from the top to fit; an explicit one that does not
/// fit is refused.
pub fn ladder_from(input: TranscodeInput, max_kbps: u32) -> Result<Ladder, ApiError> {
    let mut ladder = Ladder {
        watermark: input.watermark,
        ..Ladder::default()
    };
    match input.renditions {
        None => {
            let mut rungs = default_rungs();
            while max_kbps > 0 && total(&rungs) > max_kbps && rungs.len() > 1 {
                rungs.remove(0);
            }
            if max_kbps > 0 && total(&rungs) > max_kbps {
                return Err(ApiError::over_plan(format!(
                    "even the smallest default rendition ({} kbps) is over this service's max_bitrate_kbps ({max_kbps}); list renditions that fit",
                    total(&rungs)
                )));
            }
            ladder.renditions = rungs;
        }
        Some(list) => {
            if list.iter().filter(|r| r.name.trim() != SOURCE).count() > MAX_RUNGS {
                return Err(ApiError::invalid(format!(
                    "renditions: at most {MAX_RUNGS} transcoded renditions and the source"
                )));
            }
            for (i, r) in list.into_iter().enumerate() {
                let field = |f: &str| format!("renditions[{i}].{f}");
                let name = r.name.trim().to_owned();
                if name.is_empty()
                    || name.len() > 32
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(ApiError::invalid(format!(
                        "{}: 1 to 32 letters, digits, - or _",
                        field("name")
                    )));
                }
                if ladder.renditions.iter().any(|x| x.name == name)
                    || (name == SOURCE && ladder.source)
                {
                    return Err(ApiError::invalid(format!(
                        "{}: \"{name}\" is listed twice",
                        field("name")
                    )));
                }
                if name == SOURCE {
                    if r.width.is_some()
                        || r.height.is_some()
                        || r.video_kbps.is_some()
                        || r.audio_kbps.is_some()
                    {
                        return Err(ApiError::invalid(format!(
                            "{}: the source rendition is the stream as it arrives; it takes no size or bitrate",
                            field("name")
                        )));
                    }
                    ladder.source = true;
                    continue;
                }
                let height = r
                    .height
                    .ok_or_else(|| ApiError::invalid(format!("{} is required", field("height"))))?;
                if !(144..=2160).contains(&height) || height % 2 != 0 {
                    return Err(ApiError::invalid(format!(
                        "{} must be an even number from 144 to 2160",
                        field("height")
                    )));
                }
                if let Some(w) = r.width
                    && (!(160..=3840).contains(&w) || w % 2 != 0)
                {
                    return Err(ApiError::invalid(format!(
                        "{} must be an even number from 160 to 3840",
                        field("width")
                    )));
                }
                let video_kbps = r.video_kbps.ok_or_else(|| {
                    ApiError::invalid(format!("{} is required", field("video_kbps")))
                })?;
                if !(100..=20_000).contains(&video_kbps) {
                    return Err(ApiError::invalid(format!(
                        "{} must be between 100 and 20000",
                        field("video_kbps")
                    )));
                }
                let audio_kbps = r.audio_kbps.unwrap_or(128);
                if !(32..=320).contains(&audio_kbps) {
                    return Err(ApiError::invalid(format!(
                        "{} must be between 32 and 320",
                        field("audio_kbps")
                    )));
                }
                ladder.renditions.push(Rendition {
                    name,
                    width: r.width,
                    height,
                    video_kbps,
                    audio_kbps,
                });
            }
            if max_kbps > 0 && total(&ladder.renditions) > max_kbps {
                return Err(ApiError::over_plan(format!(
                    "the renditions add up to {} kbps, over this service's max_bitrate_kbps ({max_kbps}); lower their bitrates or drop a rendition",
                    total(&ladder.renditions)
                )));
            }
        }
    }
    // Highest first: the order of the master playlist after the source.
    ladder.renditions.sort_by(|a, b| {
        b.height
            .cmp(&a.height)
            .then(b.video_kbps.cmp(&a.video_kbps))
    });
    Ok(ladder)
}

/// The stored ladder of `s`, if it has one and its plan allows transcoding, as the engine
/// runs it.
pub fn engine_ladder(s: &Service) -> Option<Arc<LadderSpec>> {
    if s.transcode == 0 {
        return None;
    }
    let mut ladder: Ladder = serde_json::from_str(s.transcode_json.as_deref()?).ok()?;
    // The plan may have been lowered since the ladder was set: the highest rungs give way
    // (radio: each rung is capped, not their sum).
    let max = u32::try_from(s.max_bitrate_kbps).unwrap_or(0);
    if s.kind == "radio" {
        ladder
            .renditions
            .retain(|r| max == 0 || r.audio_kbps <= max);
    }
    while s.kind != "radio"
        && max > 0
        && total(&ladder.renditions) > max
        && !ladder.renditions.is_empty()
    {
        let dropped = ladder.renditions.remove(0);
        tracing::warn!(
            service = s.id,
            "rendition {} left out: the ladder is over the plan's max_bitrate_kbps ({max})",
            dropped.name
        );
    }
    if ladder.renditions.is_empty() && !ladder.source {
        return None;
    }
    Some(Arc::new(LadderSpec {
        renditions: ladder.renditions.iter().map(RenditionSpec::from).collect(),
        passthrough: ladder.source,
        watermark: engine_watermark(s, &ladder),
        feeds: Vec::new(),
    }))
}

/// The ladder's watermark as the transcoder takes it, if its picture is still on disk.
fn engine_watermark(s: &Service, ladder: &Ladder) -> Option<WatermarkSpec> {
    let w = ladder.watermark.as_ref()?;
    let file = std::path::PathBuf::from(ladder.watermark_file.as_deref()?);
    if !file.is_file() {
        tracing::warn!(
            service = s.id,
            "watermark left out: its picture {} is gone",
            file.display()
        );
        return None;
    }
    Some(WatermarkSpec {
        path: file,
        corner: match w.position.as_str() {
            "top-left" => Corner::TopLeft,
            "bottom-left" => Corner::BottomLeft,
            "bottom-right" => Corner::BottomRight,
            _ => Corner::TopRight,
        },
        opacity_pct: w.opacity.min(100),
    })
}

fn view(s: &Service) -> TranscodeView {
    let ladder: Option<Ladder> = s
        .transcode_json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok());
    let ladder = ladder.unwrap_or_default();
    let mut renditions = Vec::new();
    if ladder.source {
        renditions.push(serde_json::json!({ "name": SOURCE }));
    }
    renditions.extend(
        ladder
            .renditions
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok()),
    );
    TranscodeView {
        allowed: s.transcode != 0,
        enabled: s.transcode != 0 && !renditions.is_empty(),
        total_kbps: total(&ladder.renditions),
        renditions,
        watermark: ladder.watermark,
        max_bitrate_kbps: s.max_bitrate_kbps,
        applies: "from the next time the source connects",
        live: None,
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<TranscodeView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(TranscodeView {
        live: live_rungs(&state, &service),
        ..view(&service)
    }))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<TranscodeInput>,
) -> ApiResult<Json<TranscodeView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if service.transcode == 0 {
        return Err(ApiError::over_plan(
            "transcoding is not enabled in this service's plan (limits.transcode); ask its reseller or an admin",
        ));
    }
    let max_kbps = u32::try_from(service.max_bitrate_kbps).unwrap_or(0);
    let mut ladder = if service.kind == "radio" {
        radio_ladder_from(body, max_kbps)?
    } else {
        ladder_from(body, max_kbps)?
    };
    if let Some(w) = &ladder.watermark {
        if !matches!(
            w.position.as_str(),
            "top-left" | "top-right" | "bottom-left" | "bottom-right"
        ) {
            return Err(ApiError::invalid(
                "watermark.position must be top-left, top-right, bottom-left or bottom-right",
            ));
        }
        let item = crate::db::media::by_id(&state.db, service.owner_id, w.media)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "watermark.media: there is no media item {} in this customer's library",
                    w.media
                ))
            })?;
        let file = state.data_dir.join(&item.path);
        if item.kind != "image" || !is_png(&file) {
            return Err(ApiError::invalid(format!(
                "watermark.media: {} is not a PNG picture (a watermark needs a PNG, ideally with transparency)",
                item.filename
            )));
        }
        ladder.watermark_file = Some(file.display().to_string());
    }
    let json = (!ladder.renditions.is_empty() || ladder.source)
        .then(|| serde_json::to_string(&ladder))
        .transpose()
        .map_err(ApiError::internal)?;
    save(&state, &caller, id, json.as_deref()).await
}

fn is_png(path: &std::path::Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == *b"\x89PNG\r\n\x1a\n"
}

/// Whether any of a customer's services uses media item `media` as its watermark.
pub fn uses_as_watermark(s: &Service, media: i64) -> bool {
    s.transcode_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Ladder>(j).ok())
        .and_then(|l| l.watermark)
        .is_some_and(|w| w.media == media)
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<TranscodeView>> {
    visible_service(&state, &caller, id).await?;
    save(&state, &caller, id, None).await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: i64,
    json: Option<&str>,
) -> ApiResult<Json<TranscodeView>> {
    let mut tx = state.db.pool().begin().await?;
    services::set_transcode(&mut *tx, id, json).await?;
    let what = if json.is_some() { "set" } else { "turned off" };
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.transcode",
        &format!("service {id}: ladder {what}"),
    )
    .await?;
    let updated = services::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    tx.commit().await?;
    Ok(Json(TranscodeView {
        live: live_rungs(state, &updated),
        ..view(&updated)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> TranscodeInput {
        serde_json::from_str(json).expect("input")
    }

    #[test]
    fn the_default_ladder_is_trimmed_from_the_top_to_the_plan() {
        let all = ladder_from(input("{}"), 0).expect("fits");
        assert_eq!(all.renditions.len(), 4);
        let six_mbit = ladder_from(input("{}"), 6000).expect("fits");
        let names: Vec<_> = six_mbit
            .renditions
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["720p", "480p", "360p"]);
        assert!(ladder_from(input("{}"), 500).is_err());
    }

    #[test]
    fn an_explicit_ladder_is_checked_and_sorted() {
        let ok = ladder_from(
            input(r#"{"renditions":[{"name":"360p","height":360,"video_kbps":800},{"name":"source"},{"name":"720p","width":1280,"height":720,"video_kbps":2500,"audio_kbps":128}]}"#),
            6000,
        )
        .expect("fits");
        assert!(ok.source);
        assert_eq!(ok.renditions[0].name, "720p");
        assert_eq!(ok.renditions[1].audio_kbps, 128);
        for bad in [
            r#"{"renditions":[{"name":"a","height":720,"video_kbps":5900}]}"#,
            r#"{"renditions":[{"name":"a b","height":720,"video_kbps":900}]}"#,
            r#"{"renditions":[{"name":"a","height":721,"video_kbps":900}]}"#,
            r#"{"renditions":[{"name":"a","height":720}]}"#,
            r#"{"renditions":[{"name":"a","height":720,"video_kbps":900},{"name":"a","height":360,"video_kbps":500}]}"#,
            r#"{"renditions":[{"name":"source","height":720}]}"#,
        ] {
            assert!(ladder_from(input(bad), 6000).is_err(), "{bad}");
        }
        let off = ladder_from(input(r#"{"renditions":[]}"#), 6000).expect("off");
        assert!(off.renditions.is_empty() && !off.source);
    }
}
