//! The HTML5 audio and video players and their embed code, served by `control` at
//! `/player/<slug>` and `/embed/<slug>`.
//!
//! Part of the workspace layout from the start; the players themselves (and the npm build
//! that brings hls.js) arrive with the web UI.
