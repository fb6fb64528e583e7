-- Publish targets (restreams): where a service's stream is sent on to. The secret (an
-- Icecast source password, a stream key) is kept apart from the address so lists never
-- show it. Keep in step with ../postgres/0016_targets.sql.
CREATE TABLE publish_targets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('icecast')),
    host       TEXT NOT NULL,
    port       BIGINT NOT NULL,
    mount      TEXT NOT NULL,
    username   TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX publish_targets_service ON publish_targets (service_id);
