//! A JSON settings column (a ladder, AutoDJ or DVR settings, …) decoded once, where its row
//! is read. A stored value that does not decode is kept as [`Stored::Undecodable`]: it is
//! logged (once per value), shown as a problem on the admin dashboard and in the service's
//! stats, and never silently read as "off".

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde::de::DeserializeOwned;

/// A settings column as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Stored<T> {
    /// Never set (NULL): the defaults apply.
    #[default]
    Unset,
    Set(T),
    /// Set, but the stored text does not decode (a hand edit, a downgrade).
    Undecodable(Undecodable),
}

/// Why a stored setting could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored {what} cannot be read ({error}); set it again")]
pub struct Undecodable {
    /// What the column holds, in a user's words ("transcoding ladder").
    pub what: &'static str,
    pub error: String,
}

impl<T> Stored<T> {
    /// The value, when one is set and readable.
    pub fn get(&self) -> Option<&T> {
        match self {
            Self::Set(v) => Some(v),
            _ => None,
        }
    }

    /// Why the stored value cannot be used, if it cannot.
    pub fn problem(&self) -> Option<&Undecodable> {
        match self {
            Self::Undecodable(u) => Some(u),
            _ => None,
        }
    }
}

impl<T: DeserializeOwned> Stored<T> {
    /// Decodes `json`, the column holding `what` of `owner()` (e.g. "service 7"; named only
    /// when it fails: rows are decoded on every list request). A failure is logged the first
    /// time this process meets that value.
    pub fn decode(owner: impl FnOnce() -> String, what: &'static str, json: Option<&str>) -> Self {
        let Some(json) = json else {
            return Self::Unset;
        };
        match serde_json::from_str(json) {
            Ok(v) => Self::Set(v),
            Err(e) => {
                let problem = Undecodable {
                    what,
                    error: e.to_string(),
                };
                let owner = owner();
                if first_sighting(&owner, what, json) {
                    tracing::error!(%owner, "{problem}");
                }
                Self::Undecodable(problem)
            }
        }
    }
}

impl<T: serde::Serialize> Stored<T> {
    /// As stored: `None` for NULL. An undecodable value is never written back (callers
    /// replace it with a new value or clear it).
    pub fn to_json(&self) -> Option<String> {
        self.get().and_then(|v| serde_json::to_string(v).ok())
    }
}

/// Whether this (owner, column, text) has not been logged yet: rows are read on every
/// request, the log should say it once.
fn first_sighting(owner: &str, what: &'static str, json: &str) -> bool {
    use std::hash::{Hash, Hasher};
    /// (owner, column, hash of the text) already logged.
    type Seen = HashSet<(String, &'static str, u64)>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    json.hash(&mut h);
    let key = (owner.to_owned(), what, h.finish());
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    seen.insert(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct S {
        on: bool,
    }

    #[test]
    fn null_set_and_broken_are_told_apart() {
        assert_eq!(
            Stored::<S>::decode(|| "service 1".into(), "test", None),
            Stored::Unset
        );
        assert_eq!(
            Stored::<S>::decode(|| "service 1".into(), "test", Some(r#"{"on":true}"#)).get(),
            Some(&S { on: true })
        );
        let broken = Stored::<S>::decode(
            || "service 1".into(),
            "test settings",
            Some(r#"{"on":"yes"}"#),
        );
        assert!(broken.get().is_none());
        let p = broken.problem().expect("a problem");
        assert!(
            p.to_string()
                .starts_with("the stored test settings cannot be read")
        );
    }
}
