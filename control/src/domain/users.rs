//! Accounts: admins create anyone, resellers create customers within their plan, and a
//! changed password ends the user's other logins. Each operation is one transaction.

use serde::Deserialize;
use sqlx::{Any, Transaction};

use crate::app::AppState;
use crate::auth::caller::Credential;
use crate::auth::{Caller, password};
use crate::db::users::{self, NewUser, Role, User, UserChanges};
use crate::db::{plans, services, tokens};
use crate::time::double_option;

use super::access::visible_user;
use super::{Error, Result, audit_in, commit_audited, validate};

/// A new account.
#[derive(schemars::JsonSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    #[serde(default = "customer")]
    pub role: Role,
    pub plan: Option<i64>,
}

fn customer() -> Role {
    Role::Customer
}

/// A new account checked and its password hashed: ready to be written (hashing is slow on
/// purpose, so it is done before any transaction begins).
#[derive(Debug)]
pub struct Prepared {
    input: CreateUser,
    hash: String,
    /// The reseller the new customer belongs to (when a reseller creates it).
    reseller_id: Option<i64>,
}

/// Checks that `caller` may create this account and its fields, and hashes its password.
pub async fn prepare(caller: &Caller, input: CreateUser) -> Result<Prepared> {
    let reseller_id = match caller.role() {
        Role::Customer => return Err(Error::forbidden("customers cannot create users")),
        Role::Reseller if input.role != Role::Customer => {
            return Err(Error::forbidden("resellers can only create customers"));
        }
        Role::Reseller if input.plan.is_some() => {
            return Err(Error::forbidden("only an admin can assign reseller plans"));
        }
        Role::Reseller => Some(caller.id()),
        Role::Admin => None,
    };
    validate::username(&input.username)?;
    validate::password(&input.password)?;
    if let Some(email) = &input.email {
        validate::email(email)?;
    }
    if input.plan.is_some() && input.role != Role::Reseller {
        return Err(Error::invalid("plan is only for resellers"));
    }
    let hash = password::hash(input.password.clone()).await?;
    Ok(Prepared {
        input,
        hash,
        reseller_id,
    })
}

/// Creates an account (one transaction, committed here).
pub async fn create(state: &AppState, caller: &Caller, input: CreateUser) -> Result<User> {
    let prepared = prepare(caller, input).await?;
    let mut tx = state.db.pool().begin().await?;
    let user = create_in(&mut tx, caller, prepared).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.user.username, user = %user.username, role = user.role().as_str(), "user created");
    Ok(user)
}

/// Creates an account inside the caller's transaction (provisioning makes the customer and
/// its service in one).
pub async fn create_in(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    prepared: Prepared,
) -> Result<User> {
    let Prepared {
        input,
        hash,
        reseller_id,
    } = prepared;
    if let Some(plan) = input.plan {
        plans::by_id(&mut **tx, plan)
            .await?
            .ok_or_else(|| Error::invalid(format!("reseller plan {plan} does not exist")))?;
    }
    let taken = || Error::conflict(format!("username {:?} is taken", input.username));
    if users::by_username(&mut **tx, &input.username)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    if let Some(reseller) = reseller_id {
        users::lock_row(&mut **tx, reseller).await?;
        let plan = caller_plan(tx, caller).await?;
        if let Some(max) = plan.and_then(|p| p.max_customers) {
            let have = users::count_customers(&mut **tx, reseller).await?;
            if have >= max {
                return Err(Error::over_plan(format!(
                    "your plan allows {max} customers and you have {have}"
                )));
            }
        }
    }
    let id = users::insert(
        &mut **tx,
        &NewUser {
            username: &input.username,
            password_hash: &hash,
            email: input.email.as_deref(),
            role: input.role,
            reseller_id,
            plan_id: input.plan,
        },
    )
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            taken()
        } else {
            e.into()
        }
    })?;
    audit_in(
        tx,
        caller,
        "user.create",
        &format!("user {id} ({})", input.username),
    )
    .await?;
    users::by_id(&mut **tx, id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("user {id} vanished")))
}

/// The reseller plan of a reseller caller, read inside the transaction.
pub async fn caller_plan(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
) -> Result<Option<plans::Plan>> {
    let Some(plan_id) = caller.user.plan_id else {
        return Ok(None);
    };
    Ok(plans::by_id(&mut **tx, plan_id).await?)
}

/// A change to an account.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    pub password: Option<String>,
    /// Required to change one's own password (not when an admin or reseller resets
    /// someone else's): a stolen session alone cannot lock the owner out.
    pub current_password: Option<String>,
    /// With a new password: also revoke every API key of the account (default `false`).
    pub revoke_api_keys: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub plan: Option<Option<i64>>,
}

/// What a password change ended besides the old password.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PasswordChange {
    /// Login sessions ended (every one but the caller's own).
    pub sessions_ended: u64,
    /// API keys revoked (only with `"revoke_api_keys": true`; otherwise they keep working).
    pub api_keys_revoked: u64,
}

/// An account after a change, and what a password change ended.
#[derive(Debug)]
pub struct Patched {
    pub user: User,
    pub password: Option<PasswordChange>,
}

/// Checks that `caller` may set `target`'s password: one's own needs the current password
/// and a login (an API key may not), someone else's is a reset by whoever manages them.
async fn may_set_password(caller: &Caller, target: &User, input: &PatchUser) -> Result<()> {
    if target.id != caller.id() {
        if input.current_password.is_some() {
            return Err(Error::invalid(
                "current_password is only for changing your own password",
            ));
        }
        return Ok(());
    }
    if matches!(caller.credential, Credential::ApiKey(_)) {
        return Err(Error::forbidden(
            "an API key cannot change its own account's password; log in with the password to change it",
        ));
    }
    let Some(current) = input.current_password.clone() else {
        return Err(Error::invalid(
            "current_password is required to change your own password",
        ));
    };
    if !password::verify(current, Some(target.password_hash.clone())).await {
        tracing::warn!(user = %target.username, "password change refused: the current password was wrong");
        return Err(Error::forbidden("current_password is wrong"));
    }
    Ok(())
}

/// Changes a password, email or (admins) a reseller's plan. A changed password ends every
/// other login of that user (the caller's own session survives when it changes its own),
/// and with `revoke_api_keys` every API key of the user too.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: PatchUser,
) -> Result<Patched> {
    let target = visible_user(state, caller, id).await?;
    if let Some(pw) = &input.password {
        validate::password(pw)?;
        may_set_password(caller, &target, &input).await?;
    } else if input.current_password.is_some() || input.revoke_api_keys.is_some() {
        return Err(Error::invalid(
            "current_password and revoke_api_keys go with a new password; revoke one key with DELETE /api/v1/api-keys/{id}",
        ));
    }
    if let Some(Some(email)) = &input.email {
        validate::email(email)?;
    }
    if let Some(plan) = input.plan {
        if caller.role() != Role::Admin {
            return Err(Error::forbidden("only an admin can assign reseller plans"));
        }
        if target.role() != Role::Reseller {
            return Err(Error::invalid("plan is only for resellers"));
        }
        if let Some(plan) = plan {
            plans::by_id(state.db.pool(), plan)
                .await?
                .ok_or_else(|| Error::invalid(format!("reseller plan {plan} does not exist")))?;
        }
    }
    let password_hash = match input.password {
        Some(pw) => Some(password::hash(pw).await?),
        None => None,
    };
    let password_changed = password_hash.is_some();
    let changes = UserChanges {
        password_hash,
        email: input.email,
        plan_id: input.plan,
    };
    let mut tx = state.db.pool().begin().await?;
    users::update(&mut *tx, id, &changes).await?;
    let mut change = None;
    if password_changed {
        let keep = match caller.credential {
            Credential::Session(sid) if caller.id() == id => Some(sid),
            _ => None,
        };
        let sessions_ended = tokens::revoke_user_sessions(&mut *tx, id, keep).await?;
        let api_keys_revoked = if input.revoke_api_keys == Some(true) {
            tokens::revoke_user_api_keys(&mut *tx, id).await?
        } else {
            0
        };
        audit_in(
            &mut tx,
            caller,
            "user.password",
            &format!(
                "user {id}: {sessions_ended} sessions ended, {api_keys_revoked} API keys revoked"
            ),
        )
        .await?;
        change = Some(PasswordChange {
            sessions_ended,
            api_keys_revoked,
        });
    }
    let user = users::by_id(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound("user"))?;
    tx.commit().await?;
    if let Some(c) = change {
        tracing::info!(by = %caller.user.username, user = %target.username, sessions_ended = c.sessions_ended, api_keys_revoked = c.api_keys_revoked, "password changed; other logins ended");
    }
    Ok(Patched {
        user,
        password: change,
    })
}

/// Deletes an account that owns no services and (a reseller) has no customers; its media
/// library's files go with it.
pub async fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let target = visible_user(state, caller, id).await?;
    match caller.role() {
        Role::Customer => return Err(Error::forbidden("customers cannot delete accounts")),
        Role::Reseller if target.id == caller.id() => {
            return Err(Error::forbidden(
                "resellers cannot delete their own account",
            ));
        }
        _ if target.id == caller.id() => {
            return Err(Error::conflict("you cannot delete your own account"));
        }
        _ => {}
    }
    let mut tx = state.db.pool().begin().await?;
    if services::count_by_owner(&mut *tx, id).await? > 0 {
        return Err(Error::conflict(
            "the user still owns services; delete them first",
        ));
    }
    if users::count_customers(&mut *tx, id).await? > 0 {
        return Err(Error::conflict(
            "the reseller still has customers; delete or move them first",
        ));
    }
    users::delete(&mut *tx, id).await?;
    commit_audited(
        tx,
        caller,
        "user.delete",
        &format!("user {id} ({})", target.username),
    )
    .await?;
    // Their media library went with them in the database; its files go too.
    let files = state.data_dir.join("media").join(id.to_string());
    if files.is_dir()
        && let Err(e) = tokio::fs::remove_dir_all(&files).await
    {
        tracing::warn!(user = %target.username, "the deleted user's media files were not all removed from {}: {e}", files.display());
    }
    tracing::info!(by = %caller.user.username, user = %target.username, "user deleted");
    Ok(())
}
