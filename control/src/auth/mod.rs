//! Who is asking: passwords, tokens, and the request extractor that resolves a caller.

pub mod caller;
pub mod password;
pub mod secret;
pub mod throttle;

pub use caller::Caller;
