//! Site-wide things as business operations: announcements (admins write, everyone logged
//! in reads) and system settings (admins change them; one transaction with its audit line).
//!
//! Invariants: an announcement is 1-2000 characters after trimming, at level info or
//! warning; a site name follows `validate::name`; the statistics retention is within
//! `model::site::RETENTION_DAYS`.

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::now;
use crate::db::site::{self, Announcement};
use crate::db::users::Role;
use crate::model::site::{RETENTION_DAYS, SiteSettings};

use super::{Error, Result, commit_audited, validate};

/// Longest announcement, in characters.
const MAX_MESSAGE: usize = 2000;

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.role() != Role::Admin {
        return Err(Error::forbidden("only admins may do this"));
    }
    Ok(())
}

/// How an announcement is shown.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnouncementLevel {
    #[default]
    Info,
    Warning,
}

impl AnnouncementLevel {
    /// The value the `level` column stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
        }
    }
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementInput {
    pub message: String,
    #[serde(default)]
    pub level: AnnouncementLevel,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SystemSettingsInput")]
pub struct SettingsInput {
    pub site_name: Option<String>,
    pub customers_create_services: Option<bool>,
    pub stats_retention_days: Option<i64>,
}

/// The announcements shown on dashboards, newest first.
pub async fn announcements(state: &AppState) -> Result<Vec<Announcement>> {
    Ok(site::announcements(&state.db).await?)
}

fn message(text: &str) -> Result<&str> {
    let message = text.trim();
    if message.is_empty() {
        return Err(Error::invalid("message: write something to announce"));
    }
    if message.chars().count() > MAX_MESSAGE {
        return Err(Error::invalid(format!(
            "message: at most {MAX_MESSAGE} characters"
        )));
    }
    // Lines are fine; what would make it display other than it reads is not.
    if let Some(c) = message
        .chars()
        .find(|c| !matches!(c, '\n' | '\r' | '\t') && super::validate::hidden(*c))
    {
        return Err(Error::invalid(format!(
            "message: U+{:04X} is an invisible control or formatting character (such as a right-to-left override); remove it",
            u32::from(c)
        )));
    }
    Ok(message)
}

/// Announces something to every user (admins).
pub async fn announce(
    state: &AppState,
    caller: &Caller,
    body: AnnouncementInput,
) -> Result<Announcement> {
    admin_only(caller)?;
    let message = message(&body.message)?;
    let mut tx = state.db.pool().begin().await?;
    let id = site::announce(&mut *tx, message, body.level.as_str(), caller.id()).await?;
    commit_audited(
        tx,
        caller,
        "announcement.create",
        &format!("announcement {id}"),
    )
    .await?;
    Ok(Announcement {
        id,
        message: message.to_owned(),
        level: body.level.as_str().to_owned(),
        author_id: Some(caller.id()),
        created_at: now(),
    })
}

/// Withdraws an announcement (admins).
pub async fn withdraw(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    admin_only(caller)?;
    let mut tx = state.db.pool().begin().await?;
    if !site::withdraw(&mut *tx, id).await? {
        return Err(Error::NotFound("announcement"));
    }
    commit_audited(
        tx,
        caller,
        "announcement.delete",
        &format!("announcement {id}"),
    )
    .await?;
    Ok(())
}

/// The settings in force.
pub async fn settings(state: &AppState) -> Result<SiteSettings> {
    Ok(site::load(&state.db).await?)
}

fn retention(days: i64) -> Result<i64> {
    if RETENTION_DAYS.contains(&days) {
        Ok(days)
    } else {
        Err(Error::invalid(format!(
            "stats_retention_days: {days} is outside {}..={} days",
            RETENTION_DAYS.start(),
            RETENTION_DAYS.end()
        )))
    }
}

/// Changes system settings (admins): every value given, checked first, then written with
/// the audit line in one transaction; the settings now in force.
pub async fn put_settings(
    state: &AppState,
    caller: &Caller,
    body: SettingsInput,
) -> Result<SiteSettings> {
    admin_only(caller)?;
    let name = body
        .site_name
        .map(|n| validate::name("site_name", &n))
        .transpose()?;
    let days = body.stats_retention_days.map(retention).transpose()?;
    let mut tx = state.db.pool().begin().await?;
    if let Some(name) = name {
        let json = serde_json::to_string(&name).map_err(Error::internal)?;
        site::put_setting(&mut *tx, "site_name", &json).await?;
    }
    if let Some(on) = body.customers_create_services {
        site::put_setting(
            &mut *tx,
            "customers_create_services",
            if on { "true" } else { "false" },
        )
        .await?;
    }
    if let Some(days) = days {
        site::put_setting(&mut *tx, "stats_retention_days", &days.to_string()).await?;
    }
    commit_audited(tx, caller, "settings.update", "system settings").await?;
    settings(state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_rules() {
        assert_eq!(message("  hello  ").ok(), Some("hello"));
        assert!(message("   ").is_err());
        assert!(message(&"x".repeat(MAX_MESSAGE)).is_ok());
        assert!(message(&"x".repeat(MAX_MESSAGE + 1)).is_err());
        let input: AnnouncementInput =
            serde_json::from_value(serde_json::json!({"message": "m"})).expect("an announcement");
        assert_eq!(input.level, AnnouncementLevel::Info);
        assert!(
            serde_json::from_value::<AnnouncementInput>(
                serde_json::json!({"message": "m", "level": "urgent"})
            )
            .is_err()
        );
    }

    #[test]
    fn retention_bounds() {
        assert!(
            retention(*RETENTION_DAYS.start()).is_ok() && retention(*RETENTION_DAYS.end()).is_ok()
        );
        assert!(retention(RETENTION_DAYS.start() - 1).is_err());
        assert!(retention(RETENTION_DAYS.end() + 1).is_err());
    }
}
