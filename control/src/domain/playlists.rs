//! A station's AutoDJ playlists as business operations: who may change them, what a valid
//! playlist is (its kind's rules, a calendar that reads, tracks of the owner's library or one
//! of its folders), and the write with its audit line.
//!
//! Invariants: a scheduled playlist has a calendar; an interval playlist has exactly one
//! trigger (every N songs, every N minutes, at minute M) and only a timed one interrupts;
//! other kinds have no trigger; a playlist lists media ids or a folder, never both, and
//! every id is in the station owner's library.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::media;
use crate::db::playlists::{self, PlaylistFields, PlaylistRow};
use crate::db::services::Service;
use crate::model::Kind;
use crate::model::calendar::Calendar;

use super::access::service_of_kind;
use super::{Error, Result, commit_audited};

/// Tracks a playlist may list.
const MAX_TRACKS: usize = 10_000;

/// When a playlist plays.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PlaylistKind {
    /// Picked by weight among the other rotation playlists (within its calendar, if any).
    #[default]
    Rotation,
    /// Plays while its calendar is on.
    Scheduled,
    /// Plays one track on a trigger (every N songs, every N minutes, at minute M).
    Interval,
}

impl PlaylistKind {
    /// The value the `kind` column stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rotation => "rotation",
            Self::Scheduled => "scheduled",
            Self::Interval => "interval",
        }
    }
}

/// In which order a playlist's tracks play.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PlayOrder {
    #[default]
    Shuffle,
    Sequential,
    Random,
}

impl PlayOrder {
    /// The value the `play_order` column stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shuffle => "shuffle",
            Self::Sequential => "sequential",
            Self::Random => "random",
        }
    }
}

/// A playlist as a request gives it (the whole of it: `PUT` replaces).
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistInput {
    pub name: String,
    #[serde(default)]
    pub kind: PlaylistKind,
    #[serde(default)]
    pub order: PlayOrder,
    #[serde(default)]
    pub media: Option<Vec<i64>>,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub schedule: Option<Calendar>,
    #[serde(default)]
    pub every_n_songs: Option<i64>,
    #[serde(default)]
    pub every_n_minutes: Option<i64>,
    #[serde(default)]
    pub at_minute: Option<i64>,
    #[serde(default)]
    pub interrupts: bool,
    #[serde(default)]
    pub allow_requests: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The radio station `id` as the caller sees it.
pub async fn station(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    service_of_kind(
        state,
        caller,
        id,
        Kind::Radio,
        "playlists are for radio services",
    )
    .await
}

/// A checked playlist: its fields and its tracks.
struct Checked {
    name: String,
    kind: PlaylistKind,
    order: PlayOrder,
    weight: i64,
    folder: Option<String>,
    schedule: Option<Calendar>,
    every: Option<i64>,
    minutes: Option<i64>,
    at_minute: Option<i64>,
    interrupts: bool,
    media: Vec<i64>,
    allow_requests: bool,
    enabled: bool,
}

impl Checked {
    fn fields(&self) -> PlaylistFields<'_> {
        PlaylistFields {
            name: &self.name,
            kind: self.kind.as_str(),
            play_order: self.order.as_str(),
            weight: self.weight,
            folder: self.folder.as_deref(),
            schedule: self.schedule.as_ref(),
            every_n_songs: self.every,
            every_n_minutes: self.minutes,
            at_minute: self.at_minute,
            interrupts: self.interrupts,
            allow_requests: self.allow_requests,
            enabled: self.enabled,
        }
    }
}

/// The kind's trigger rules (see the module's invariants).
fn check_triggers(input: &PlaylistInput) -> Result<()> {
    let triggers = [
        input.every_n_songs.is_some(),
        input.every_n_minutes.is_some(),
        input.at_minute.is_some(),
    ]
    .iter()
    .filter(|t| **t)
    .count();
    if input.kind != PlaylistKind::Interval {
        if triggers > 0 || input.interrupts {
            return Err(Error::invalid(
                "every_n_songs, every_n_minutes, at_minute and interrupts are for interval playlists",
            ));
        }
        return Ok(());
    }
    if triggers != 1 {
        return Err(Error::invalid(
            "an interval playlist needs one of every_n_songs (1 to 100), every_n_minutes (1 to 180) or at_minute (0 to 59)",
        ));
    }
    if input.every_n_songs.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(Error::invalid("every_n_songs must be between 1 and 100"));
    }
    if input
        .every_n_minutes
        .is_some_and(|n| !(1..=180).contains(&n))
    {
        return Err(Error::invalid("every_n_minutes must be between 1 and 180"));
    }
    if input.at_minute.is_some_and(|m| !(0..=59).contains(&m)) {
        return Err(Error::invalid("at_minute must be between 0 and 59"));
    }
    if input.interrupts && input.every_n_songs.is_some() {
        return Err(Error::invalid(
            "interrupts is for timed interval playlists (every_n_minutes or at_minute)",
        ));
    }
    Ok(())
}

async fn check(state: &AppState, service: &Service, input: PlaylistInput) -> Result<Checked> {
    let name = super::validate::name("name", &input.name)?;
    let weight = input.weight.unwrap_or(3);
    if !(1..=25).contains(&weight) {
        return Err(Error::invalid("weight must be between 1 and 25"));
    }
    if let Some(c) = &input.schedule {
        c.validate()
            .map_err(|e| Error::invalid(format!("schedule: {e}")))?;
    }
    if input.kind == PlaylistKind::Scheduled && input.schedule.is_none() {
        return Err(Error::invalid(
            "schedule is required for a scheduled playlist",
        ));
    }
    check_triggers(&input)?;
    let (folder, ids) = match (input.folder, input.media) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "give either media (a list of ids) or folder, not both",
            ));
        }
        (Some(f), None) => {
            let f = crate::media::store::clean_folder(&f).map_err(Error::invalid)?;
            (Some(f), Vec::new())
        }
        (None, ids) => (None, ids.unwrap_or_default()),
    };
    if ids.len() > MAX_TRACKS {
        return Err(Error::invalid(format!(
            "media: at most {MAX_TRACKS} tracks"
        )));
    }
    let owned = media::owned(&state.db, service.owner_id, &ids).await?;
    if let Some(bad) = ids.iter().find(|id| !owned.contains(id)) {
        return Err(Error::invalid(format!(
            "media: {bad} is not in this station's media library"
        )));
    }
    Ok(Checked {
        name,
        kind: input.kind,
        order: input.order,
        weight,
        folder,
        schedule: input.schedule,
        every: input.every_n_songs,
        minutes: input.every_n_minutes,
        at_minute: input.at_minute,
        interrupts: input.interrupts,
        media: ids,
        allow_requests: input.allow_requests,
        enabled: input.enabled,
    })
}

async fn reload(state: &AppState, id: i64, pid: i64) -> Result<PlaylistRow> {
    playlists::by_id(&state.db, id, pid)
        .await?
        .ok_or(Error::NotFound("playlist"))
}

/// Creates a playlist of station `id`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: PlaylistInput,
) -> Result<PlaylistRow> {
    let service = station(state, caller, id).await?;
    let c = check(state, &service, input).await?;
    let mut tx = state.db.pool().begin().await?;
    let pid = playlists::insert(&mut tx, id, &c.fields(), &c.media).await?;
    commit_audited(
        tx,
        caller,
        "playlist.create",
        &format!("playlist {pid} ({}) of service {id}", c.name),
    )
    .await?;
    reload(state, id, pid).await
}

/// The playlists of station `id`.
pub async fn list(state: &AppState, caller: &Caller, id: i64) -> Result<Vec<PlaylistRow>> {
    let service = station(state, caller, id).await?;
    Ok(playlists::for_service(&state.db, service.id).await?)
}

/// One playlist of station `id`.
pub async fn get(state: &AppState, caller: &Caller, id: i64, pid: i64) -> Result<PlaylistRow> {
    station(state, caller, id).await?;
    reload(state, id, pid).await
}

/// Replaces a playlist (the whole of it, as `create` takes it).
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    id: i64,
    pid: i64,
    input: PlaylistInput,
) -> Result<PlaylistRow> {
    let service = station(state, caller, id).await?;
    let c = check(state, &service, input).await?;
    let mut tx = state.db.pool().begin().await?;
    if !playlists::update(&mut tx, id, pid, &c.fields(), Some(&c.media)).await? {
        return Err(Error::NotFound("playlist"));
    }
    commit_audited(
        tx,
        caller,
        "playlist.update",
        &format!("playlist {pid} ({}) of service {id}", c.name),
    )
    .await?;
    reload(state, id, pid).await
}

/// Deletes a playlist of station `id`.
pub async fn delete(state: &AppState, caller: &Caller, id: i64, pid: i64) -> Result<()> {
    station(state, caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    if !playlists::delete(&mut *tx, id, pid).await? {
        return Err(Error::NotFound("playlist"));
    }
    commit_audited(
        tx,
        caller,
        "playlist.delete",
        &format!("playlist {pid} of service {id}"),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> PlaylistInput {
        serde_json::from_value(json).expect("a playlist input")
    }

    #[test]
    fn kind_and_order_default_and_refuse_unknown_values() {
        let p = input(serde_json::json!({"name": "x"}));
        assert_eq!(
            (p.kind, p.order, p.enabled),
            (PlaylistKind::Rotation, PlayOrder::Shuffle, true)
        );
        let p = input(serde_json::json!({"name": "x", "kind": "interval", "order": "random"}));
        assert_eq!((p.kind.as_str(), p.order.as_str()), ("interval", "random"));
        assert!(
            serde_json::from_value::<PlaylistInput>(
                serde_json::json!({"name": "x", "kind": "daily"})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<PlaylistInput>(
                serde_json::json!({"name": "x", "order": "alpha"})
            )
            .is_err()
        );
    }

    #[test]
    fn triggers() {
        let ok = |j| check_triggers(&input(j)).is_ok();
        assert!(ok(
            serde_json::json!({"name": "x", "kind": "interval", "at_minute": 0, "interrupts": true})
        ));
        assert!(ok(
            serde_json::json!({"name": "x", "kind": "interval", "every_n_songs": 4})
        ));
        assert!(!ok(serde_json::json!({"name": "x", "kind": "interval"})));
        assert!(!ok(
            serde_json::json!({"name": "x", "kind": "interval", "every_n_songs": 2, "at_minute": 5})
        ));
        assert!(!ok(
            serde_json::json!({"name": "x", "kind": "interval", "at_minute": 60})
        ));
        assert!(!ok(
            serde_json::json!({"name": "x", "kind": "interval", "every_n_songs": 2, "interrupts": true})
        ));
        assert!(!ok(
            serde_json::json!({"name": "x", "kind": "rotation", "every_n_minutes": 5})
        ));
        assert!(!ok(
            serde_json::json!({"name": "x", "kind": "scheduled", "interrupts": true})
        ));
    }
}
