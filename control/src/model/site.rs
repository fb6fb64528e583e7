//! Site-wide system settings (admins set them; stored as key/value rows, read by
//! `db::site::load`).

use serde::Serialize;

/// System settings, with their defaults.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSettings {
    /// Shown in the UI's header and the browser's title.
    pub site_name: String,
    /// Customers may create radio and video services for themselves (with the default
    /// limits of each kind; their reseller's plan still applies).
    pub customers_create_services: bool,
    /// Listener sessions, titles and hourly statistics are kept this many days.
    pub stats_retention_days: i64,
}

/// Retention bounds: at least a month and a bit (the usage of the month running is counted
/// from sessions), at most two years.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 35..=730;

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            site_name: "Tidecast".into(),
            customers_create_services: true,
            stats_retention_days: 180,
        }
    }
}
