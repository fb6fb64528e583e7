-- Listener sessions and title history, reported by the engine. Keep in step with
-- ../postgres/0003_stats.sql. Both belong to a service and go with it.
CREATE TABLE listener_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    mount       TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    bytes       INTEGER NOT NULL
);
CREATE INDEX listener_sessions_service_time ON listener_sessions (service_id, started_at);

CREATE TABLE title_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    mount      TEXT NOT NULL,
    title      TEXT NOT NULL,
    dj         TEXT,                -- who was on air when it started
    started_at INTEGER NOT NULL
);
CREATE INDEX title_history_service_time ON title_history (service_id, started_at);
