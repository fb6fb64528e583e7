//! First-start seeding: the admin account (the demo customer is `crate::demo`).

use anyhow::Context;

use crate::auth::{password, secret};
use crate::db::users::{self, NewUser, Role};
use crate::db::{Db, audit};

/// Creates user `admin` when there is no admin yet: with `TIDECAST_ADMIN_PASSWORD`, or a
/// random password printed once to the log.
pub async fn ensure_admin(db: &Db, env_password: Option<String>) -> anyhow::Result<()> {
    if users::count_admins(db.pool()).await? > 0 {
        return Ok(());
    }
    let (pw, generated) = match env_password.filter(|p| !p.is_empty()) {
        Some(p) => {
            anyhow::ensure!(
                p.chars().count() >= 8,
                "TIDECAST_ADMIN_PASSWORD must be at least 8 characters"
            );
            (p, false)
        }
        None => (secret::random_b64(15), true),
    };
    if users::by_username(db.pool(), "admin").await?.is_some() {
        anyhow::bail!(
            "there is no admin, but a non-admin user is called `admin`; cannot create the first admin"
        );
    }
    let hash = password::hash(pw.clone()).await?;
    let id = users::insert(
        db.pool(),
        &NewUser {
            username: "admin",
            password_hash: &hash,
            email: None,
            role: Role::Admin,
            reseller_id: None,
            plan_id: None,
        },
    )
    .await
    .context("cannot create the first admin")?;
    audit(
        db.pool(),
        None,
        "user.bootstrap",
        &format!("user {id} (admin)"),
    )
    .await?;
    if generated {
        // Printed exactly once, on the start that creates the account.
        tracing::warn!(
            "created the first admin: username `admin`, password `{pw}` (shown only this once; change it after logging in)"
        );
    } else {
        tracing::info!(
            "created the first admin `admin` with the password from TIDECAST_ADMIN_PASSWORD"
        );
    }
    Ok(())
}
