-- DJs: people who may go live on a radio service with their own credentials and priority.
-- Keep in step with ../postgres/0002_djs.sql.
CREATE TABLE djs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id     INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    username       TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    priority       INTEGER NOT NULL,   -- 1..100; the service's own `source` login is 50
    scheduled_only INTEGER NOT NULL,   -- 1: may connect only inside a slot of `schedule`
    schedule       TEXT NOT NULL,      -- JSON: [{"days":["mon",…],"start":"HH:MM","duration_minutes":N}], UTC
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX djs_service_username ON djs (service_id, lower(username));
