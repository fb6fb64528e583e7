-- Restream, widened: RTMP/RTMPS and Shoutcast targets besides Icecast (the kind check is
-- rebuilt: SQLite cannot alter a CHECK), whether a target speaks TLS, which rendition a
-- video target sends (NULL: the source as it comes), and for a radio station sent as video
-- the picture settings; relays (a service's source pulled from a URL); and the plan's say
-- in which target kinds a service may use and whether it may relay.
-- Keep in step with ../postgres/0017_restream.sql.
CREATE TABLE publish_targets_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('icecast', 'shoutcast', 'rtmp')),
    host       TEXT NOT NULL,
    port       BIGINT NOT NULL,
    mount      TEXT NOT NULL,
    username   TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    tls        INTEGER NOT NULL DEFAULT 0,
    rendition  TEXT,
    video_json TEXT
);
INSERT INTO publish_targets_new (id, service_id, kind, host, port, mount, username, secret, created_at)
    SELECT id, service_id, kind, host, port, mount, username, secret, created_at FROM publish_targets;
DROP TABLE publish_targets;
ALTER TABLE publish_targets_new RENAME TO publish_targets;
CREATE INDEX publish_targets_service ON publish_targets (service_id);

CREATE TABLE relays (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL UNIQUE REFERENCES services (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    mode       TEXT NOT NULL CHECK (mode IN ('always', 'on_demand')),
    -- RTSP: interleaved over the TCP connection, or RTP over UDP.
    rtsp_transport TEXT NOT NULL DEFAULT 'tcp' CHECK (rtsp_transport IN ('tcp', 'udp')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Comma-separated target kinds the plan allows; relaying allowed (1) or not.
ALTER TABLE services ADD COLUMN restream TEXT NOT NULL DEFAULT 'rtmp,icecast,shoutcast';
ALTER TABLE services ADD COLUMN relay INTEGER NOT NULL DEFAULT 1;
