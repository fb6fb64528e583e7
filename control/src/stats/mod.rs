//! Statistics: what the engine reports (listener sessions, titles, who is on air), stored
//! for reports, plus live figures read from the engine.

pub mod csv;
pub mod recorder;
pub mod rollup;
pub mod spool;

pub use recorder::Recorder;
