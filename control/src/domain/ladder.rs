//! A service's transcoding ladder: the ladder a request asks for, checked against the plan;
//! setting and clearing it (one transaction with its audit line); and the ladder the engine
//! runs, from what is stored.
//!
//! `PUT` with `{"renditions":[…], "watermark":{…}}` sets it; without `renditions` the default
//! ladder (1080p/720p/480p/360p, Apple-authoring-style bitrates) is trimmed from the top to
//! the plan's `max_bitrate_kbps`; `{"renditions":[]}` turns transcoding off. A rendition
//! `{"name":"source"}` offers the source as it arrives, next to the transcoded rungs. An
//! explicit ladder the plan cannot carry is refused with a message that says why. A change
//! applies from the next time the source connects.

use std::sync::Arc;

use serde::Deserialize;
use tidecast_engine::transcode::{LadderSpec, RenditionSpec, WatermarkSpec};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::{self, Service};
use crate::model::ladder::{Ladder, Rendition, SOURCE, Watermark, default_rungs, total_kbps};

use super::access::visible_service;
use super::services::commit_and_reload;
use super::{Error, Result, audit_in};

/// More rungs than this cost more CPU than any player gains from.
const MAX_RUNGS: usize = 6;

pub fn spec_of(r: &Rendition) -> RenditionSpec {
    RenditionSpec {
        name: r.name.clone(),
        width: r.width.unwrap_or(0),
        height: r.height,
        video_kbps: r.video_kbps,
        audio_kbps: r.audio_kbps,
    }
}

/// `PUT` body.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodeInput {
    pub renditions: Option<Vec<RenditionInput>>,
    pub watermark: Option<Watermark>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenditionInput {
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub video_kbps: Option<u32>,
    pub audio_kbps: Option<u32>,
}

/// A radio station's ladder: AAC rungs for its HLS (`{"name","audio_kbps"}`); the default is
/// 48, 96 and 192 kbit/s. Each rung is capped by the plan's `max_bitrate_kbps` (a listener
/// takes one rung, as it would take one mount), a default rung over it is left out.
pub fn radio_ladder_from(input: TranscodeInput, max_kbps: u32) -> Result<Ladder> {
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
        return Err(Error::invalid("watermark: a radio station has no picture"));
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
                return Err(Error::invalid(format!("renditions: at most {MAX_RUNGS}")));
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
                    return Err(Error::invalid(format!(
                        "renditions[{i}].name: 1 to 32 letters, digits, - or _, each once (not \"source\")"
                    )));
                }
                if r.width.is_some() || r.height.is_some() || r.video_kbps.is_some() {
                    return Err(Error::invalid(format!(
                        "renditions[{i}]: a radio rendition is audio only: name and audio_kbps"
                    )));
                }
                let kbps = r.audio_kbps.ok_or_else(|| {
                    Error::invalid(format!("renditions[{i}].audio_kbps is required"))
                })?;
                if !(32..=320).contains(&kbps) {
                    return Err(Error::invalid(format!(
                        "renditions[{i}].audio_kbps must be between 32 and 320"
                    )));
                }
                if !fits(kbps) {
                    return Err(Error::over_plan(format!(
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

/// The ladder a request asks for, checked against the plan's bitrate cap (`max_kbps`, 0 =
/// none). The default ladder is trimmed from the top to fit; an explicit one that does not
/// fit is refused.
pub fn ladder_from(input: TranscodeInput, max_kbps: u32) -> Result<Ladder> {
    let mut ladder = Ladder {
        watermark: input.watermark,
        ..Ladder::default()
    };
    match input.renditions {
        None => {
            let mut rungs = default_rungs();
            while max_kbps > 0 && total_kbps(&rungs) > max_kbps && rungs.len() > 1 {
                rungs.remove(0);
            }
            if max_kbps > 0 && total_kbps(&rungs) > max_kbps {
                return Err(Error::over_plan(format!(
                    "even the smallest default rendition ({} kbps) is over this service's max_bitrate_kbps ({max_kbps}); list renditions that fit",
                    total_kbps(&rungs)
                )));
            }
            ladder.renditions = rungs;
        }
        Some(list) => {
            if list.iter().filter(|r| r.name.trim() != SOURCE).count() > MAX_RUNGS {
                return Err(Error::invalid(format!(
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
                    return Err(Error::invalid(format!(
                        "{}: 1 to 32 letters, digits, - or _",
                        field("name")
                    )));
                }
                if ladder.renditions.iter().any(|x| x.name == name)
                    || (name == SOURCE && ladder.source)
                {
                    return Err(Error::invalid(format!(
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
                        return Err(Error::invalid(format!(
                            "{}: the source rendition is the stream as it arrives; it takes no size or bitrate",
                            field("name")
                        )));
                    }
                    ladder.source = true;
                    continue;
                }
                let height = r
                    .height
                    .ok_or_else(|| Error::invalid(format!("{} is required", field("height"))))?;
                if !(144..=2160).contains(&height) || height % 2 != 0 {
                    return Err(Error::invalid(format!(
                        "{} must be an even number from 144 to 2160",
                        field("height")
                    )));
                }
                if let Some(w) = r.width
                    && (!(160..=3840).contains(&w) || w % 2 != 0)
                {
                    return Err(Error::invalid(format!(
                        "{} must be an even number from 160 to 3840",
                        field("width")
                    )));
                }
                let video_kbps = r.video_kbps.ok_or_else(|| {
                    Error::invalid(format!("{} is required", field("video_kbps")))
                })?;
                if !(100..=20_000).contains(&video_kbps) {
                    return Err(Error::invalid(format!(
                        "{} must be between 100 and 20000",
                        field("video_kbps")
                    )));
                }
                let audio_kbps = r.audio_kbps.unwrap_or(128);
                if !(32..=320).contains(&audio_kbps) {
                    return Err(Error::invalid(format!(
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
            if max_kbps > 0 && total_kbps(&ladder.renditions) > max_kbps {
                return Err(Error::over_plan(format!(
                    "the renditions add up to {} kbps, over this service's max_bitrate_kbps ({max_kbps}); lower their bitrates or drop a rendition",
                    total_kbps(&ladder.renditions)
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
    if !s.limits.transcode {
        return None;
    }
    let mut ladder = s.ladder.get()?.clone();
    // The plan may have been lowered since the ladder was set: the highest rungs give way
    // (radio: each rung is capped, not their sum).
    let max = s.limits.max_kbps();
    if s.is_radio() {
        ladder
            .renditions
            .retain(|r| max == 0 || r.audio_kbps <= max);
    }
    while !s.is_radio()
        && max > 0
        && total_kbps(&ladder.renditions) > max
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
        renditions: ladder.renditions.iter().map(spec_of).collect(),
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
        corner: w.position.into(),
        opacity_pct: w.opacity.min(100),
    })
}

/// The rungs an on-demand video uploaded through `service` gets: the service's own ladder
/// (its video rungs), else the default one. Rungs above the video's height are left out
/// when it is transcoded.
pub fn vod_rungs(service: &Service) -> Vec<Rendition> {
    let stored: Vec<Rendition> = engine_ladder(service)
        .map(|l| {
            l.renditions
                .iter()
                .filter(|r| r.height > 0)
                .map(|r| Rendition {
                    name: r.name.clone(),
                    width: (r.width > 0).then_some(r.width),
                    height: r.height,
                    video_kbps: r.video_kbps,
                    audio_kbps: r.audio_kbps,
                })
                .collect()
        })
        .unwrap_or_default();
    if stored.is_empty() {
        default_rungs()
    } else {
        stored
    }
}

/// Whether service `s` uses media item `media` as its watermark.
pub fn uses_as_watermark(s: &Service, media: i64) -> bool {
    s.ladder
        .get()
        .and_then(|l| l.watermark.as_ref())
        .is_some_and(|w| w.media == media)
}

/// Sets the ladder of service `id` from a request (`PUT …/transcode`); an empty ladder turns
/// transcoding off.
pub async fn set(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: TranscodeInput,
) -> Result<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !service.limits.transcode {
        return Err(Error::over_plan(
            "transcoding is not enabled in this service's plan (limits.transcode); ask its reseller or an admin",
        ));
    }
    let max_kbps = service.limits.max_kbps();
    let mut ladder = if service.is_radio() {
        radio_ladder_from(input, max_kbps)?
    } else {
        ladder_from(input, max_kbps)?
    };
    if let Some(w) = &ladder.watermark {
        let item = crate::db::media::by_id(&state.db, service.owner_id, w.media)
            .await?
            .ok_or_else(|| {
                Error::invalid(format!(
                    "watermark.media: there is no media item {} in this customer's library",
                    w.media
                ))
            })?;
        let file = state.data_dir.join(&item.path);
        if item.kind != "image" || !is_png(&file) {
            return Err(Error::invalid(format!(
                "watermark.media: {} is not a PNG picture (a watermark needs a PNG, ideally with transparency)",
                item.filename
            )));
        }
        ladder.watermark_file = Some(file.display().to_string());
    }
    let on = !ladder.renditions.is_empty() || ladder.source;
    save(state, caller, id, on.then_some(&ladder)).await
}

/// Turns transcoding off (`DELETE …/transcode`).
pub async fn clear(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    visible_service(state, caller, id).await?;
    save(state, caller, id, None).await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: i64,
    ladder: Option<&Ladder>,
) -> Result<Service> {
    let mut tx = state.db.pool().begin().await?;
    services::set_transcode(&mut *tx, id, ladder).await?;
    let what = if ladder.is_some() {
        "set"
    } else {
        "turned off"
    };
    audit_in(
        &mut tx,
        caller,
        "service.transcode",
        &format!("service {id}: ladder {what}"),
    )
    .await?;
    commit_and_reload(tx, id).await
}

fn is_png(path: &std::path::Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == *b"\x89PNG\r\n\x1a\n"
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
