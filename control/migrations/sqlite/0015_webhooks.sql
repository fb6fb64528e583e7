-- One webhook per service: where events are POSTed, the secret that signs them, which
-- events, and how the last delivery went. Keep in step with ../postgres/0015_webhooks.sql.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  INTEGER NOT NULL UNIQUE REFERENCES services (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,          -- comma-separated event names
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    delivered   BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    last_event  TEXT,
    last_status TEXT,                   -- delivered, retrying, failed
    last_error  TEXT,
    last_at     BIGINT
);
