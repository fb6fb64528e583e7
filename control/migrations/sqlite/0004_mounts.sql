-- Extra mounts of a radio service, and the fallback of its primary mount.
-- Keep in step with ../postgres/0004_mounts.sql.
-- Mount names share the Icecast port's namespace with service slugs (a primary mount is
-- named after its service's slug); the API keeps the two apart.
CREATE TABLE mounts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id   INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name         TEXT NOT NULL UNIQUE,
    format       TEXT NOT NULL CHECK (format IN ('mp3', 'aac', 'opus')),
    bitrate_kbps INTEGER NOT NULL,
    fallback     TEXT,              -- mount name listeners move to while this one has no source
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX mounts_service ON mounts (service_id);

ALTER TABLE services ADD COLUMN fallback TEXT;   -- the primary mount's fallback
