//! What browsers load from the HTTP port besides the API: the web UI, the players
//! (`/player/<slug>`, `/embed/<slug>`, `/player/vod/<media id>`) and their built assets.

mod assets;
mod html;
mod pages;
mod player;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::ui))
        .route("/assets/{version}/{name}", get(assets::serve))
        .route("/player/{slug}", get(player::page))
        .route("/embed/{slug}", get(player::embed))
        .route("/player/vod/{id}", get(player::vod_page))
        .route("/embed/vod/{id}", get(player::vod_embed))
        .route("/favicon.ico", get(assets::favicon))
}

/// `/assets/<version>/<name>`: the URL a page uses for a built file.
pub fn asset_url(name: &str) -> String {
    format!("/assets/{}/{name}", tidecast_player::VERSION)
}
