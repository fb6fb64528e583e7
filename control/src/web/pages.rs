//! The web UI's page: one shell at `/`; `ui.js` routes inside it (`#/services/3`…) and
//! talks to the REST API like any other client.

use axum::response::Response;

use super::html::{Framing, Page};

pub async fn ui() -> Response {
    Page {
        title: "Tidecast",
        body_class: "tc-ui",
        styles: &["ui.css"],
        script: "ui.js",
        config: "{}".to_owned(),
        body: r#"<div id="app"><noscript>The Tidecast control panel needs JavaScript.</noscript></div>"#
            .to_owned(),
        framing: Framing::Deny,
    }
    .render()
}
