//! A radio station's DJs as business operations: whoever sees the service (its customer,
//! reseller or an admin) manages its DJs. A DJ has a login of its own (never `source`, the
//! service's), a priority and a weekly schedule; a `scheduled_only` DJ needs at least one
//! slot. Passwords are hashed before any transaction; each write and its audit line are one
//! transaction.

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{Caller, password};
use crate::db::djs::{self, Dj, DjFields};
use crate::model::Kind;
use crate::schedule::{self, Slot};

use super::access::service_of_kind;
use super::{Error, Result, commit_audited, validate};

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDj {
    pub username: String,
    pub password: String,
    pub priority: i64,
    #[serde(default)]
    pub scheduled_only: bool,
    #[serde(default)]
    pub schedule: Vec<Slot>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDj {
    pub username: Option<String>,
    pub password: Option<String>,
    pub priority: Option<i64>,
    pub scheduled_only: Option<bool>,
    pub schedule: Option<Vec<Slot>>,
}

fn check(username: &str, priority: i64, scheduled_only: bool, slots: &[Slot]) -> Result<()> {
    validate::username(username)?;
    if username.eq_ignore_ascii_case("source") {
        return Err(Error::invalid(
            "`source` is the service's own login; pick another DJ name",
        ));
    }
    validate::range("priority", priority, 1, 100)?;
    if slots.len() > 100 {
        return Err(Error::invalid("at most 100 schedule slots"));
    }
    for slot in slots {
        schedule::validate(slot).map_err(|m| Error::invalid(format!("schedule: {m}")))?;
    }
    if scheduled_only && slots.is_empty() {
        return Err(Error::invalid(
            "scheduled_only needs at least one schedule slot",
        ));
    }
    Ok(())
}

/// The radio service `id` as the caller sees it.
pub async fn radio(state: &AppState, caller: &Caller, id: i64) -> Result<i64> {
    let service = service_of_kind(state, caller, id, Kind::Radio, "DJs are for radio services");
    Ok(service.await?.id)
}

/// A taken DJ name is said as such (the unique index decides, so two requests cannot race).
fn conflict_on_duplicate(e: sqlx::Error, username: &str) -> Error {
    if crate::db::is_unique_violation(&e) {
        Error::conflict(format!("this service already has a DJ called {username:?}"))
    } else {
        e.into()
    }
}

async fn dj(state: &AppState, service: i64, dj_id: i64) -> Result<Dj> {
    djs::by_id(&state.db, service, dj_id)
        .await?
        .ok_or(Error::NotFound("DJ"))
}

/// Adds a DJ to station `id`.
pub async fn create(state: &AppState, caller: &Caller, id: i64, body: CreateDj) -> Result<Dj> {
    let service = radio(state, caller, id).await?;
    check(
        &body.username,
        body.priority,
        body.scheduled_only,
        &body.schedule,
    )?;
    validate::password(&body.password)?;
    let hash = password::hash(body.password).await?;
    let fields = DjFields {
        username: &body.username,
        password_hash: &hash,
        priority: body.priority,
        scheduled_only: body.scheduled_only,
        schedule: &body.schedule,
    };
    let mut tx = state.db.pool().begin().await?;
    let dj_id = djs::insert(&mut *tx, service, &fields)
        .await
        .map_err(|e| conflict_on_duplicate(e, &body.username))?;
    commit_audited(
        tx,
        caller,
        "dj.create",
        &format!("dj {dj_id} ({}) of service {service}", body.username),
    )
    .await?;
    dj(state, service, dj_id).await
}

/// A page of station `id`'s DJs and how many it has.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Dj>, i64)> {
    let service = radio(state, caller, id).await?;
    Ok(djs::list(&state.db, service, limit, offset).await?)
}

/// Changes a DJ; what the request leaves out stays.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: i64,
    dj_id: i64,
    body: PatchDj,
) -> Result<Dj> {
    let service = radio(state, caller, id).await?;
    let current = dj(state, service, dj_id).await?;
    let username = body.username.unwrap_or_else(|| current.username.clone());
    let priority = body.priority.unwrap_or(current.priority);
    let scheduled_only = body.scheduled_only.unwrap_or(current.scheduled_only);
    let slots = body.schedule.unwrap_or_else(|| current.slots().to_vec());
    check(&username, priority, scheduled_only, &slots)?;
    let hash = match body.password {
        Some(pw) => {
            validate::password(&pw)?;
            password::hash(pw).await?
        }
        None => current.password_hash.clone(),
    };
    let fields = DjFields {
        username: &username,
        password_hash: &hash,
        priority,
        scheduled_only,
        schedule: &slots,
    };
    let mut tx = state.db.pool().begin().await?;
    djs::update(&mut *tx, dj_id, &fields)
        .await
        .map_err(|e| conflict_on_duplicate(e, &username))?;
    commit_audited(
        tx,
        caller,
        "dj.update",
        &format!("dj {dj_id} of service {service}"),
    )
    .await?;
    dj(state, service, dj_id).await
}

/// Removes a DJ of station `id`.
pub async fn delete(state: &AppState, caller: &Caller, id: i64, dj_id: i64) -> Result<()> {
    let service = radio(state, caller, id).await?;
    let dj = dj(state, service, dj_id).await?;
    let mut tx = state.db.pool().begin().await?;
    djs::delete(&mut *tx, dj.id).await?;
    commit_audited(
        tx,
        caller,
        "dj.delete",
        &format!("dj {dj_id} ({}) of service {service}", dj.username),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(check("night-owl", 5, false, &[]).is_ok());
        assert!(
            check("Source", 5, false, &[]).is_err(),
            "the service's own login"
        );
        assert!(
            check("night-owl", 0, false, &[]).is_err()
                && check("night-owl", 101, false, &[]).is_err()
        );
        assert!(
            check("night-owl", 5, true, &[]).is_err(),
            "scheduled_only without slots"
        );
        assert!(check("x", 5, false, &[]).is_err(), "too short a username");
    }
}
