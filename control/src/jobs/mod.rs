//! Background jobs: loops that run for the server's lifetime, each stopped by the server's
//! shutdown token and awaited before the database closes. Like HTTP handlers, they call the
//! domain layer, never a handler.

pub mod live_sets;
pub mod restream;
pub mod transfer_limits;
pub mod vod;
