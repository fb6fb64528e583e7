//! Who may see and change what. Every handler loads its object through these functions, so
//! tenant isolation is decided in one place:
//!
//! - an admin sees and manages everything;
//! - a reseller sees itself and its customers, and manages its customers and their services;
//! - a customer sees itself and its own services.
//!
//! An object the caller may not see is answered exactly like a missing one (404), so nobody
//! learns what other tenants have.
//!
//! A suspended account (or a customer of a suspended reseller) sees what it saw but changes
//! nothing — not even its own suspension — until whoever may lift it does
//! ([`may_change`], applied to every request that is not a read).

use crate::auth::Caller;
use crate::auth::caller::Suspension;
use crate::db::services::{self, Service};
use crate::db::users::{self, Role, User};

use super::{Error, Result};
use crate::app::AppState;

/// Refuses any change by a suspended caller: reads stay allowed, so a suspended customer
/// still sees its services and statistics, but a suspended reseller cannot unsuspend its
/// customers or their services, create anything, or change its own account.
pub fn may_change(caller: &Caller) -> Result<()> {
    match caller.suspension {
        None => Ok(()),
        Some(Suspension::Own) => Err(Error::forbidden(
            "your account is suspended: you can look but not change anything until the suspension is lifted",
        )),
        Some(Suspension::Reseller) => Err(Error::forbidden(
            "your reseller's account is suspended: you can look but not change anything until the suspension is lifted",
        )),
    }
}

/// Whether `caller` may see `target`.
pub fn sees_user(caller: &Caller, target: &User) -> bool {
    match caller.role() {
        Role::Admin => true,
        Role::Reseller => target.id == caller.id() || target.reseller_id == Some(caller.id()),
        Role::Customer => target.id == caller.id(),
    }
}

/// Loads a user the caller may see, else 404.
pub async fn visible_user(state: &AppState, caller: &Caller, id: i64) -> Result<User> {
    users::by_id(state.db.pool(), id)
        .await?
        .filter(|u| sees_user(caller, u))
        .ok_or_else(|| Error::NotFound("user"))
}

/// Whether `caller` sees a service owned by `owner`.
pub fn sees_service(caller: &Caller, owner: &User) -> bool {
    match caller.role() {
        Role::Admin => true,
        Role::Reseller => owner.reseller_id == Some(caller.id()),
        Role::Customer => owner.id == caller.id(),
    }
}

/// Whether `caller` manages (limits, suspension, deletion) services owned by `owner`.
pub fn manages_service(caller: &Caller, owner: &User) -> bool {
    match caller.role() {
        Role::Admin => true,
        Role::Reseller => owner.reseller_id == Some(caller.id()),
        Role::Customer => false,
    }
}

/// Loads a service the caller may see, with its owner, else 404.
pub async fn visible_service(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(Service, User)> {
    let not_found = || Error::NotFound("service");
    let service = services::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(not_found)?;
    let owner = users::by_id(state.db.pool(), service.owner_id)
        .await?
        .ok_or_else(not_found)?;
    if !sees_service(caller, &owner) {
        return Err(not_found());
    }
    Ok((service, owner))
}

/// Loads a service the caller manages: 404 if it may not even see it, 403 if it may see but
/// not manage it (a customer trying to suspend its own service).
pub async fn managed_service(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(Service, User)> {
    let (service, owner) = visible_service(state, caller, id).await?;
    if !manages_service(caller, &owner) {
        return Err(Error::forbidden(
            "only the service's reseller or an admin may do this",
        ));
    }
    Ok((service, owner))
}

/// Loads a service the caller may see that is of `kind` (else `Invalid` with `why`: the
/// feature is for the other kind).
pub async fn service_of_kind(
    state: &AppState,
    caller: &Caller,
    id: i64,
    kind: crate::model::Kind,
    why: &str,
) -> Result<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    if service.kind != kind {
        return Err(Error::invalid(why));
    }
    Ok(service)
}
