-- Recordings: spans of a video service's DVR archive exported to MP4, and a radio
-- station's live DJ sets recorded to files; each ends as a media item. Keep in step with
-- ../postgres/0009_recordings.sql.

CREATE TABLE recordings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('export', 'live_set')),
    from_ms     INTEGER NOT NULL,          -- unix ms: the span asked for (export) or the set's start
    to_ms       INTEGER NOT NULL,          -- unix ms: the span's end, or the set's end so far
    status      TEXT NOT NULL CHECK (status IN ('exporting', 'recording', 'done', 'failed')),
    progress_permille INTEGER NOT NULL,
    label       TEXT NOT NULL,          -- who or what: the DJ of a set, or the export's range
    media_id    INTEGER REFERENCES media (id) ON DELETE SET NULL,
    error       TEXT,                   -- why it failed, in the user's words
    file        TEXT,                   -- a set being recorded: its file, relative to the data folder
    created_at  INTEGER NOT NULL
);
CREATE INDEX recordings_service ON recordings (service_id, id);

-- A radio station's setting: record every live DJ set into the media library.
ALTER TABLE services ADD COLUMN record_sets INTEGER NOT NULL DEFAULT 0;
