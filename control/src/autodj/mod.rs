//! AutoDJ's track picking in the control plane: the library the engine's playout asks for
//! tracks ([`library::DbLibrary`], choosing with [`pick`]) (the calendars are `model::calendar`). Starting
//! stations is the domain's (`domain::autodj`).

pub mod library;
pub mod pick;
