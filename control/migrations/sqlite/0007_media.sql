-- The media library (one per customer, shared by its services), AutoDJ playlists and what
-- AutoDJ played. Keep in step with ../postgres/0007_media.sql.

CREATE TABLE media (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    folder        TEXT NOT NULL,          -- '' or 'a/b': a path of the customer's choosing
    filename      TEXT NOT NULL,          -- as uploaded (shown, never used as a path)
    path          TEXT NOT NULL,          -- where it is, relative to the data folder
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('audio', 'video', 'image')),
    title         TEXT NOT NULL,
    artist        TEXT NOT NULL,
    album         TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    bitrate_kbps  INTEGER,
    loudness_mlufs INTEGER,                  -- EBU R128 integrated loudness × 1000; NULL: silent/none
    cue_in_ms     INTEGER NOT NULL,
    cue_out_ms    INTEGER NOT NULL,
    cover_path    TEXT,                   -- cover art found in the tags, relative to the data folder
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX media_owner_hash ON media (owner_id, sha256);
CREATE INDEX media_owner_folder ON media (owner_id, folder);

CREATE TABLE playlists (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id     INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('rotation', 'scheduled', 'interval')),
    play_order     TEXT NOT NULL CHECK (play_order IN ('shuffle', 'sequential', 'random')),
    weight         INTEGER NOT NULL,
    folder         TEXT,                  -- made from a folder: follows its contents
    schedule_json  TEXT,                  -- scheduled/rotation hours; see api/playlists.rs
    every_n_songs  INTEGER,                  -- interval playlists: every N songs,
    every_n_minutes INTEGER,                 -- or every N minutes,
    at_minute      INTEGER,                  -- or at minute M of each hour;
    interrupts     INTEGER NOT NULL,         -- 1: cuts into the track playing when due
    allow_requests INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX playlists_service ON playlists (service_id);

CREATE TABLE playlist_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    media_id    INTEGER NOT NULL REFERENCES media (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX playlist_items_order ON playlist_items (playlist_id, position);
CREATE INDEX playlist_items_media ON playlist_items (media_id);

-- Every track AutoDJ put on air: the station's history, and what repeat protection reads.
CREATE TABLE autodj_plays (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    media_id    INTEGER,                     -- no foreign key: history outlives deleted files
    playlist_id INTEGER,
    title       TEXT NOT NULL,
    artist      TEXT NOT NULL,
    album       TEXT NOT NULL,
    played_at   INTEGER NOT NULL
);
CREATE INDEX autodj_plays_service_time ON autodj_plays (service_id, played_at);

-- Listeners' song requests: played by AutoDJ before its playlists, oldest first.
CREATE TABLE song_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id   INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    media_id     INTEGER NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    ip           TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    played_at    INTEGER
);
CREATE INDEX song_requests_service_time ON song_requests (service_id, requested_at);

-- AutoDJ settings as JSON {"enabled","format","bitrate_kbps","crossfade_s","target_lufs"};
-- NULL: never set up.
ALTER TABLE services ADD COLUMN autodj_json TEXT;
