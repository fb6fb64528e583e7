//! The domain layer: the business rules of the control plane, as functions that take the
//! database (or a transaction) and the engine, write in one transaction per operation, and
//! return a typed [`Error`]. HTTP handlers, background jobs, the engine's admission and the
//! demo seeder call these; nothing here knows about HTTP.

pub mod access;
pub mod autodj;
pub mod djs;
pub mod dvr;
pub mod error;
pub mod grant;
pub mod keys;
pub mod ladder;
pub mod login;
pub mod media;
pub mod mounts;
pub mod plans;
pub mod playlists;
pub mod provision;
pub mod recordings;
pub mod relays;
pub mod requests;
pub mod restream;
pub mod services;
pub mod site;
pub mod target_urls;
pub mod users;
pub mod validate;
pub mod webhooks;

pub use error::{Error, Result};
