-- Statistics that answer a year quickly: hourly rollups of listener sessions, per mount and
-- for the whole service (mount ''), and what reports need from the raw rows. Keep in step
-- with ../postgres/0014_rollups.sql.

-- When a session ended (unix s): finds the sessions that overlap an hour by index.
ALTER TABLE listener_sessions ADD COLUMN ended_at BIGINT NOT NULL DEFAULT 0;
UPDATE listener_sessions SET ended_at = started_at + duration_ms / 1000;
CREATE INDEX listener_sessions_ended ON listener_sessions (ended_at);

-- Listeners connected to the mount when the title started (per-track reports).
ALTER TABLE title_history ADD COLUMN listeners BIGINT NOT NULL DEFAULT 0;

-- One row per (service, mount, hour) that had listeners. peak: most at once; sessions:
-- sessions that started in the hour; uniques: distinct addresses listening in it;
-- listen_ms: listening time inside the hour; bytes: sent by the sessions that ended in it.
CREATE TABLE listener_hours (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    mount      TEXT NOT NULL,
    hour       BIGINT NOT NULL,
    peak       BIGINT NOT NULL,
    sessions   BIGINT NOT NULL,
    uniques    BIGINT NOT NULL,
    listen_ms  BIGINT NOT NULL,
    bytes      BIGINT NOT NULL,
    UNIQUE (service_id, mount, hour)
);
CREATE INDEX listener_hours_hour ON listener_hours (hour);
CREATE INDEX listener_sessions_service_ended ON listener_sessions (service_id, ended_at);
CREATE INDEX title_history_time ON title_history (started_at);
