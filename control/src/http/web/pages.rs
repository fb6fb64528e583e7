//! The web UI's page: one shell at `/`; `ui.js` routes inside it (`#/services/3`…) and
//! talks to the REST API like any other client. The shell carries who is logged in (from
//! the session cookie) so the first paint needs no request.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::html::{Framing, Page, json_for_script};
use crate::api::users::MeView;
use crate::app::AppState;
use crate::auth::caller::cookie_session;

pub async fn ui(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let me = cookie_session(&state.db, &headers)
        .await
        .map(|(user, csrf, suspended)| MeView::new(&user, Some(csrf), suspended));
    Page {
        title: "Tidecast",
        body_class: "tc-ui",
        styles: &["ui.css"],
        script: "ui.js",
        config: json_for_script(&json!({ "me": me })),
        body: r#"<div id="app"><noscript>The Tidecast control panel needs JavaScript.</noscript></div>"#
            .to_owned(),
        framing: Framing::Deny,
    }
    .render()
}
