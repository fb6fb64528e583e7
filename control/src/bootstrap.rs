//! First-start seeding: the admin account and, with `--demo`, a demo customer.

use anyhow::Context;

use crate::auth::{password, secret};
use crate::db::services::{self, Kind, Limits, NewService};
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
    if users::by_username(db, "admin").await?.is_some() {
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

/// `--demo`: a customer `demo` with a radio station (AutoDJ on) and a video channel. Does
/// nothing when the demo customer exists already.
pub async fn seed_demo(db: &Db) -> anyhow::Result<()> {
    if users::by_username(db, "demo").await?.is_some() {
        return Ok(());
    }
    let pw = secret::random_b64(12);
    let hash = password::hash(pw.clone()).await?;
    let mut tx = db.pool().begin().await?;
    let owner = users::insert(
        &mut *tx,
        &NewUser {
            username: "demo",
            password_hash: &hash,
            email: None,
            role: Role::Customer,
            reseller_id: None,
            plan_id: None,
        },
    )
    .await?;
    let video = Limits {
        dvr_minutes: 60,
        transcode: true,
        ..Kind::Video.default_limits()
    };
    for (name, slug, kind, limits) in [
        (
            "Demo Radio",
            "demo-radio",
            Kind::Radio,
            Kind::Radio.default_limits(),
        ),
        ("Demo TV", "demo-tv", Kind::Video, video),
    ] {
        if services::slug_taken(&mut *tx, slug).await? {
            continue;
        }
        services::insert(
            &mut *tx,
            &NewService {
                owner_id: owner,
                name,
                slug,
                kind: kind.as_str(),
                source_password: &secret::source_password(),
                stream_key: &secret::stream_key(),
                limits,
            },
        )
        .await?;
    }
    audit(&mut *tx, None, "demo.seed", &format!("user {owner} (demo)")).await?;
    tx.commit().await?;
    tracing::warn!(
        "demo: created customer `demo` with password `{pw}` (shown only this once), services demo-radio and demo-tv"
    );
    Ok(())
}
