//! The REST API (`/api/v1`): handlers that extract a request, call the domain layer
//! (`crate::domain`) and present its answer. The table of routes (`routes`) is also the
//! OpenAPI document; `crate::http` mounts it.

pub mod autodj;
pub mod djs;
pub mod dvr;
pub mod error;
pub mod extract;
pub mod history;
pub mod keys;
pub mod login;
pub mod media;
pub mod mounts;
pub mod openapi;
pub mod plans;
pub mod playlists;
pub mod provision;
pub mod recordings;
pub mod relays;
pub mod reports;
pub mod requests;
pub mod services;
pub mod site;
pub mod stats;
pub mod system;
pub mod targets;
pub mod transcode;
pub mod usage;
pub mod users;
pub mod webhooks;

const RANGE: &[(&str, &str, &str)] = &[
    ("from", "integer", "start (unix seconds)"),
    ("to", "integer", "end (unix seconds)"),
    ("mount", "string", "one mount or stream (all by default)"),
];
const HISTORY: &[(&str, &str, &str)] = &[
    ("from", "integer", "start (unix seconds)"),
    ("to", "integer", "end (unix seconds)"),
    (
        "step",
        "integer",
        "seconds per point (whole hours read the hourly rollups)",
    ),
    ("mount", "string", "one mount or stream (all by default)"),
];
const REPORT: &[(&str, &str, &str)] = &[
    ("from", "integer", "start (unix seconds)"),
    ("to", "integer", "end (unix seconds)"),
    ("mount", "string", "one mount or stream (all by default)"),
    (
        "step",
        "integer",
        "seconds per point (the listeners report)",
    ),
    ("format", "string", "json (default) or csv"),
];
const PAGE: &[(&str, &str, &str)] = &[
    ("limit", "integer", "at most this many (default 100)"),
    ("offset", "integer", "skip this many"),
];
const MEDIA_PAGE: &[(&str, &str, &str)] = &[
    ("limit", "integer", "at most this many (default 100)"),
    ("offset", "integer", "skip this many"),
    ("folder", "string", "one folder (\"\" for the top)"),
];
const UPLOAD: &[(&str, &str, &str)] = &[
    ("folder", "string", "the folder to put the files in"),
    (
        "visibility",
        "string",
        "who may play videos' on-demand copies: public, unlisted (default) or private",
    ),
];
const SIGNED_URL: &[(&str, &str, &str)] = &[(
    "ttl",
    "integer",
    "seconds the URL plays for (default 3600, at most 604800)",
)];
const PERIOD: &[(&str, &str, &str)] = &[(
    "period",
    "string",
    "a month, YYYY-MM (this month by default)",
)];

/// Every route of `/api/v1`, with its documentation (`openapi.rs`).
pub fn routes() -> openapi::Routes {
    use openapi::doc;
    openapi::Routes::default()
        .post("/login", login::login, doc("Log in: a bearer token, or a cookie session for the web UI", "auth").body::<login::LoginRequest>().public())
        .post("/logout", login::logout, doc("Log out (ends the token or session)", "auth").no_content())
        .get("/me", users::me, doc("Who is calling", "auth"))
        .get("/me/usage", users::my_usage, doc("A reseller's or customer's usage against its plan", "auth"))
        .post("/provision", provision::provision, doc("Billing: create a customer and a service in one call (idempotent on client_id)", "billing").body::<provision::ProvisionRequest>().created())
        .post("/users/{id}/suspend", provision::suspend_user, doc("Billing: suspend every service of a customer or reseller", "billing"))
        .post("/users/{id}/unsuspend", provision::unsuspend_user, doc("Billing: unsuspend every service of a customer or reseller", "billing"))
        .post("/services/{id}/source/stop", provision::stop_source, doc("Disconnect the service's live sources", "billing"))
        .post("/services/{id}/autodj/restart", provision::restart_autodj, doc("Restart the station's AutoDJ", "billing"))
        .get("/usage", usage::all, doc("Billing: usage of every visible service for a month", "billing").query(PERIOD))
        .get("/system", system::get, doc("The server: CPU, memory, disk, services on air, problems (admins)", "system"))
        .get("/settings", site::get_settings, doc("System settings", "system"))
        .put("/settings", site::put_settings, doc("Change system settings (admins)", "system").body::<crate::domain::site::SettingsInput>())
        .get("/announcements", site::announcements, doc("Announcements shown on dashboards", "system"))
        .post("/announcements", site::announce, doc("Announce something to every user (admins)", "system").body::<crate::domain::site::AnnouncementInput>().created())
        .delete("/announcements/{id}", site::withdraw, doc("Withdraw an announcement (admins)", "system").no_content())
        .post("/users/{id}/login-as", login::login_as, doc("Log in as a customer (admins, resellers; audited)", "users"))
        .post("/users", users::create, doc("Create a user", "users").body::<crate::domain::users::CreateUser>().created())
        .get("/users", users::list, doc("Users the caller manages", "users").query(PAGE))
        .get("/users/{id}", users::get, doc("One user", "users"))
        .patch("/users/{id}", users::patch, doc("Change a user (password, email, plan)", "users").body::<crate::domain::users::PatchUser>())
        .delete("/users/{id}", users::delete, doc("Terminate a user and everything it owns", "users").no_content())
        .post("/reseller-plans", plans::create, doc("Create a reseller plan (admins)", "plans").body::<crate::domain::plans::CreatePlan>().created())
        .get("/reseller-plans", plans::list, doc("Reseller plans", "plans").query(PAGE))
        .get("/reseller-plans/{id}", plans::get, doc("One reseller plan", "plans"))
        .patch("/reseller-plans/{id}", plans::patch, doc("Change a reseller plan", "plans").body::<crate::domain::plans::PatchPlan>())
        .delete("/reseller-plans/{id}", plans::delete, doc("Delete an unused reseller plan", "plans").no_content())
        .post("/api-keys", keys::create, doc("Create an API key (shown once)", "auth").created())
        .get("/api-keys", keys::list, doc("The caller's API keys", "auth"))
        .delete("/api-keys/{id}", keys::revoke, doc("Revoke an API key", "auth").no_content())
        .post("/services", services::create, doc("Create a radio or video service", "services").body::<crate::domain::services::CreateService>().created())
        .get("/services", services::list, doc("Services the caller may see", "services").query(PAGE))
        .get("/services/{id}", services::get, doc("One service: URLs, credentials, limits", "services"))
        .patch("/services/{id}", services::patch, doc("Change a service's name, limits or HLS settings (the kind stays)", "services").body::<crate::domain::services::PatchService>())
        .delete("/services/{id}", services::delete, doc("Terminate a service", "services").no_content())
        .post("/services/{id}/suspend", services::suspend, doc("Suspend a service (its sources and listeners are cut off)", "services"))
        .post("/services/{id}/unsuspend", services::unsuspend, doc("Unsuspend a service", "services"))
        .post("/services/{id}/rotate-credentials", services::rotate_credentials, doc("New source password and stream key", "services"))
        .get("/services/{id}/stats", stats::service, doc("Live figures: source, listeners, now playing, transcoder", "statistics"))
        .get("/services/{id}/usage", usage::service, doc("Disk and data sent this month, against the limits", "statistics").query(PERIOD))
        .get("/services/{id}/stats/history", history::get, doc("Listeners over time, for charts", "statistics").query(HISTORY))
        .get("/services/{id}/stats/report", reports::all, doc("Statistics report: summary, mounts, user agents, tracks", "statistics").query(RANGE))
        .get("/services/{id}/stats/report/{name}", reports::one, doc("One report (summary, mounts, user_agents, tracks, listeners, sessions) as JSON or CSV", "statistics").query(REPORT))
        .get("/services/{id}/webhook", webhooks::get, doc("The service's webhook (null when none)", "webhooks"))
        .put("/services/{id}/webhook", webhooks::put, doc("Set the webhook: URL, secret, events", "webhooks").body::<crate::domain::webhooks::Input>())
        .delete("/services/{id}/webhook", webhooks::delete, doc("Remove the webhook", "webhooks").no_content())
        .post("/services/{id}/webhook/test", webhooks::test, doc("Send a test event now and say how it went", "webhooks"))
        .get("/restream/presets", targets::presets, doc("Ingest URLs of YouTube, Twitch and Facebook, as defaults for RTMP targets", "restream"))
        .post("/services/{id}/targets", targets::create, doc("Send the stream on: RTMP/RTMPS (YouTube, Twitch, Facebook, any RTMP server; a radio station goes as video), Icecast or Shoutcast", "restream").body::<crate::domain::restream::Input>().created())
        .get("/services/{id}/targets", targets::list, doc("Publish targets with their state, bitrate and last error (passwords never shown)", "restream"))
        .delete("/services/{id}/targets/{tid}", targets::delete, doc("Remove a publish target", "restream").no_content())
        .put("/services/{id}/relay", relays::put, doc("Pull the service's source from a URL: rtmp://, rtsp:// (IP cameras), HLS (….m3u8) for video; an Icecast/Shoutcast stream for radio; always or on demand", "restream").body::<crate::domain::relays::Input>())
        .get("/services/{id}/relay", relays::get, doc("The service's relay with its state and last error (null when it has none)", "restream"))
        .delete("/services/{id}/relay", relays::delete, doc("Stop relaying", "restream").no_content())
        .get("/services/{id}/transcode", transcode::get, doc("The transcoding ladder and watermark", "transcoding"))
        .put("/services/{id}/transcode", transcode::put, doc("Set the ladder and watermark", "transcoding").body::<crate::domain::ladder::TranscodeInput>())
        .delete("/services/{id}/transcode", transcode::delete, doc("Stop transcoding (the source is passed through)", "transcoding").no_content())
        .get("/public/{slug}/nowplaying", stats::nowplaying, doc("Now playing, next, history, listeners (public, cacheable)", "public").public())
        .get("/public/{slug}/cover", stats::public_cover, doc("Cover art of the track playing (public)", "public").public().responds("image/*"))
        .get("/public/{slug}/requests", requests::list, doc("Tracks listeners may request (public)", "public").public())
        .post("/public/{slug}/requests", requests::create, doc("Request a track (public, rate-limited)", "public").public().body::<crate::domain::requests::RequestInput>().created())
        .post("/services/{id}/mounts", mounts::create, doc("Add an extra mount", "radio").body::<crate::domain::mounts::CreateMount>().created())
        .get("/services/{id}/mounts", mounts::list, doc("The station's mounts", "radio"))
        .patch("/services/{id}/mounts/{mount}", mounts::patch, doc("Change a mount", "radio").body::<crate::domain::mounts::PatchMount>())
        .delete("/services/{id}/mounts/{mount}", mounts::delete, doc("Remove a mount", "radio").no_content())
        .post("/services/{id}/djs", djs::create, doc("Add a DJ with a login and schedule", "radio").body::<crate::domain::djs::CreateDj>().created())
        .get("/services/{id}/djs", djs::list, doc("The station's DJs", "radio"))
        .patch("/services/{id}/djs/{dj}", djs::patch, doc("Change a DJ", "radio").body::<crate::domain::djs::PatchDj>())
        .delete("/services/{id}/djs/{dj}", djs::delete, doc("Remove a DJ", "radio").no_content())
        .documented("post", "/services/{id}/media", doc("Upload media files (multipart, several at once)", "media").multipart().query(UPLOAD).created())
        .documented("get", "/services/{id}/media", doc("The media library", "media").query(MEDIA_PAGE))
        .get("/services/{id}/media/{mid}", media::get, doc("One media item", "media"))
        .patch("/services/{id}/media/{mid}", media::patch, doc("Edit tags or visibility, or move to a folder", "media").body::<crate::domain::media::MediaPatch>())
        .delete("/services/{id}/media/{mid}", media::delete, doc("Delete a media item", "media").no_content())
        .get("/services/{id}/media/{mid}/cover", media::cover, doc("A media item's cover art", "media").responds("image/*"))
        .get("/services/{id}/media/{mid}/signed-url", media::signed_url, doc("An expiring URL that plays a video whatever its visibility: {\"url\",\"player_url\",\"expires_at\"}", "media").query(SIGNED_URL))
        .post("/services/{id}/media/{mid}/signed-url", media::signed_url, doc("The same as GET (for clients that mint links with POST)", "media").query(SIGNED_URL))
        .post("/services/{id}/playlists", playlists::create, doc("Create a playlist", "autodj").body::<crate::domain::playlists::PlaylistInput>().created())
        .get("/services/{id}/playlists", playlists::list, doc("The station's playlists", "autodj"))
        .get("/services/{id}/playlists/{pid}", playlists::get, doc("One playlist", "autodj"))
        .put("/services/{id}/playlists/{pid}", playlists::replace, doc("Replace a playlist", "autodj").body::<crate::domain::playlists::PlaylistInput>())
        .delete("/services/{id}/playlists/{pid}", playlists::delete, doc("Delete a playlist", "autodj").no_content())
        .get("/services/{id}/autodj", autodj::get, doc("AutoDJ settings and now playing", "autodj"))
        .put("/services/{id}/autodj", autodj::put, doc("AutoDJ settings", "autodj").body::<crate::domain::autodj::SettingsInput>())
        .post("/services/{id}/autodj/start", autodj::start, doc("Start AutoDJ", "autodj"))
        .post("/services/{id}/autodj/stop", autodj::stop, doc("Stop AutoDJ", "autodj"))
        .post("/services/{id}/autodj/skip", autodj::skip, doc("Skip to the next track", "autodj"))
        .get("/services/{id}/dvr", dvr::get, doc("DVR settings", "dvr"))
        .put("/services/{id}/dvr", dvr::put, doc("Turn the DVR on, with a window", "dvr").body::<crate::domain::dvr::Input>())
        .delete("/services/{id}/dvr", dvr::delete, doc("Turn the DVR off", "dvr").no_content())
        .get("/services/{id}/recordings", recordings::list, doc("Recordings exported from the archive", "dvr").query(PAGE))
        .post("/services/{id}/recordings", recordings::create, doc("Export a span of the archive to an MP4 in media", "dvr").body::<crate::domain::recordings::Input>().created())
        .get("/services/{id}/recordings/settings", recordings::get_settings, doc("Whether live DJ sets are recorded", "dvr"))
        .put("/services/{id}/recordings/settings", recordings::put_settings, doc("Record live DJ sets into media", "dvr").body::<crate::domain::recordings::SettingsInput>())
        .get("/services/{id}/recordings/{rid}", recordings::get_one, doc("One recording and its progress", "dvr"))
        // Served by `router` from the finished table (it is built from it).
        .documented("get", "/openapi.json", doc("This document (OpenAPI 3.1)", "system").public())
}
