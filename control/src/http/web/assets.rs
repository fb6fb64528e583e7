//! Serves the built UI and player files, gzipped for browsers that take it. The version in
//! the path is a hash of the files, so they are cached forever; a request for another
//! version (a page cached before an upgrade) gets the current file, not a 404.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::headers::{ANY_ORIGIN, IMMUTABLE, NO_CACHE, set_encoding, set_fixed, wants_gzip};

pub async fn serve(Path((version, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(asset) = tidecast_player::asset(&name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let gzip = wants_gzip(&headers);
    let cache = if version == tidecast_player::VERSION {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let mut resp = if gzip { asset.gzip } else { asset.body }.into_response();
    let h = resp.headers_mut();
    // Players embedded on other sites load these from here.
    set_fixed(
        h,
        &[
            (header::CONTENT_TYPE, asset.content_type),
            cache,
            ANY_ORIGIN,
        ],
    );
    set_encoding(h, gzip);
    resp
}

/// A wave in the brand colour, so browsers asking for `/favicon.ico` get an icon, not a 404.
const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#12161c"/><path d="M4 19c4 0 4-6 8-6s4 6 8 6 4-6 8-6" fill="none" stroke="#2bb3a3" stroke-width="3" stroke-linecap="round"/></svg>"##;

pub async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}
