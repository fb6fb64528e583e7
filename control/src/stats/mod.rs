//! Statistics: what the engine reports (listener sessions, titles, who is on air), stored
//! for reports, plus live figures read from the engine.

pub mod recorder;

pub use recorder::Recorder;
