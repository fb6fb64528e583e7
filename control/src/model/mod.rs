//! The typed service model: what a service is and how it is set up, as enums and structs
//! rather than the strings and JSON the database stores. `db` decodes rows into these once,
//! where they are read; everything above works with the types. The API shows the same
//! values (serde), and the OpenAPI document lists the allowed ones (schemars).

pub mod autodj;
pub mod calendar;
pub mod dvr;
pub mod ladder;
pub mod media;
pub mod relay;
pub mod service;
pub mod site;
pub mod stored;
pub mod target;

pub use service::{
    HlsFormat, HlsSettings, Kind, Limits, Status, TargetKind, TargetKinds, TransferAction,
};
pub use stored::{Stored, Undecodable};
