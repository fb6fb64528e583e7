//! nDVR: every segment of a stream kept on disk for a window of time, findable by time, and
//! intact across crashes (work in progress on this branch: the index first).

pub mod index;
