//! The call billing modules (WHMCS, Blesta, Clientexec) make to open an account: a customer
//! and its service in one, idempotent on the caller's `client_id` (a retried call answers
//! what the first one made; a different request under the same id is refused).
//!
//! Atomic: the call's record, the customer, the service and their audit lines are written in
//! one transaction, so a failure in any step (a taken slug, the reseller's plan, a crash)
//! leaves nothing behind, and a corrected retry with the same id can run.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::Service;
use crate::db::users::{Role, User};
use crate::db::{is_unique_violation, provisions};

use super::access::{visible_service, visible_user};
use super::{Error, Result, audit_in, services, users};

/// What a provisioning call made (or made earlier, when `replayed`).
#[derive(Debug)]
pub struct Provisioned {
    pub client_id: String,
    pub replayed: bool,
    pub user: User,
    pub service: Service,
}

fn digest(v: &Value) -> String {
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn still_running(client_id: &str) -> Error {
    Error::conflict(format!(
        "a call with client_id {client_id:?} is still running; retry in a few seconds"
    ))
}

/// Makes a customer (`{"username","password","email"?}`) and its service (`{"name","kind",
/// "slug"?,"limits"?}`) for the billing system's order `client_id`.
pub async fn provision(
    state: &AppState,
    caller: &Caller,
    client_id: &str,
    customer: Value,
    service: Value,
) -> Result<Provisioned> {
    if caller.role() == Role::Customer {
        return Err(Error::forbidden("provisioning is for resellers and admins"));
    }
    let client_id = client_id.trim().to_owned();
    if client_id.is_empty()
        || client_id.chars().count() > 200
        || client_id.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "client_id must be 1-200 characters without control characters",
        ));
    }
    let sha = digest(&json!({"customer": customer, "service": service}));
    if let Some(p) = provisions::find(state.db.pool(), caller.id(), &client_id).await? {
        if p.request_sha != sha {
            return Err(Error::conflict(format!(
                "client_id {client_id:?} was used for a different request"
            )));
        }
        return match (p.user_id, p.service_id) {
            (Some(u), Some(s)) => replay(state, caller, client_id, u, s).await,
            // Written by an earlier version that wrote step by step and was cut short: that
            // call did not finish, and this one cannot tell what it left.
            _ => Err(Error::conflict(format!(
                "an earlier call with client_id {client_id:?} did not finish; use a new client_id"
            ))),
        };
    }

    // Everything slow or that can fail on input alone happens before the transaction.
    let mut customer = customer;
    if let Some(obj) = customer.as_object_mut() {
        obj.insert("role".into(), json!("customer"));
    }
    let new_user: users::CreateUser =
        serde_json::from_value(customer).map_err(|e| Error::invalid(format!("customer: {e}")))?;
    let prepared = users::prepare(caller, new_user)
        .await
        .map_err(|e| e.prefixed("customer: "))?;

    let mut tx = state.db.pool().begin().await?;
    let row = provisions::claim(&mut *tx, caller.id(), &client_id, &sha)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                still_running(&client_id)
            } else {
                e.into()
            }
        })?;
    let user = users::create_in(&mut tx, caller, prepared)
        .await
        .map_err(|e| e.prefixed("customer: "))?;
    let mut service = service;
    if let Some(obj) = service.as_object_mut() {
        obj.insert("owner".into(), json!(user.id));
    }
    let new_service: services::CreateService =
        serde_json::from_value(service).map_err(|e| Error::invalid(format!("service: {e}")))?;
    let made = services::create_in(&mut tx, caller, new_service)
        .await
        .map_err(|e| e.prefixed("service: "))?;
    provisions::set_user(&mut *tx, row, user.id).await?;
    provisions::set_service(&mut *tx, row, made.id).await?;
    audit_in(
        &mut tx,
        caller,
        "provision.create",
        &format!("user {} and service {} for {client_id:?}", user.id, made.id),
    )
    .await?;
    tx.commit().await.map_err(|e| {
        // Two calls with one id at once: the other one's commit won.
        if is_unique_violation(&e) {
            still_running(&client_id)
        } else {
            e.into()
        }
    })?;
    tracing::info!(by = %caller.user.username, user = %user.username, service = %made.slug, "provisioned {client_id:?}");
    Ok(Provisioned {
        client_id,
        replayed: false,
        user,
        service: made,
    })
}

async fn replay(
    state: &AppState,
    caller: &Caller,
    client_id: String,
    user: i64,
    service: i64,
) -> Result<Provisioned> {
    let gone = || {
        Error::Gone(format!(
            "what client_id {client_id:?} made has since been deleted"
        ))
    };
    let user = visible_user(state, caller, user)
        .await
        .map_err(|_| gone())?;
    let (service, _) = visible_service(state, caller, service)
        .await
        .map_err(|_| gone())?;
    Ok(Provisioned {
        client_id,
        replayed: true,
        user,
        service,
    })
}

/// Suspends or unsuspends every service of a customer, or of all a reseller's customers;
/// the services changed.
pub async fn set_account_status(
    state: &AppState,
    caller: &Caller,
    id: i64,
    suspend: bool,
) -> Result<Vec<i64>> {
    use crate::db::services::ServiceScope;
    if caller.role() == Role::Customer {
        return Err(Error::forbidden(
            "only admins and resellers suspend accounts",
        ));
    }
    let target = visible_user(state, caller, id).await?;
    if target.id == caller.id() {
        return Err(Error::invalid("you cannot suspend your own account"));
    }
    let scope = match target.role() {
        Role::Customer => ServiceScope::Owner(target.id),
        Role::Reseller => ServiceScope::Reseller(target.id),
        Role::Admin => return Err(Error::invalid("admins have no services to suspend")),
    };
    if !suspend && target.suspended_by() == Some(Role::Admin) && caller.role() != Role::Admin {
        return Err(Error::forbidden(
            "an admin suspended this account; only an admin can lift the suspension",
        ));
    }
    // The account first: from here on it can change nothing, even if a service below fails.
    crate::db::users::set_suspended(state.db.pool(), target.id, suspend.then(|| caller.role()))
        .await?;
    let (all, _) = crate::db::services::list(&state.db, scope, None, i64::MAX, 0).await?;
    let mut changed = Vec::new();
    for s in all {
        if s.is_suspended() == suspend {
            continue;
        }
        services::set_status(
            state,
            &s,
            suspend,
            Some(caller.id()),
            Some(&format!("with every service of user {}", target.username)),
        )
        .await?;
        changed.push(s.id);
    }
    tracing::info!(by = %caller.user.username, user = %target.username, services = changed.len(), "account {}", if suspend { "suspended" } else { "unsuspended" });
    Ok(changed)
}
