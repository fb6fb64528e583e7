//! The media library on disk: uploads streamed into place, files inspected at import.

pub mod inspect;
pub mod orphans;
pub mod rescan;
pub mod store;
