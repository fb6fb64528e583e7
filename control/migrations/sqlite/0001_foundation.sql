-- Foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql: the same
-- tables, columns and constraints; only the dialect differs. Times are unix seconds,
-- booleans 0/1, so the shared query code reads both databases the same way.

CREATE TABLE reseller_plans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    max_customers INTEGER,          -- NULL: unlimited
    max_services  INTEGER,
    max_listeners INTEGER,          -- sum of the services' max_listeners
    max_disk_mb   INTEGER,          -- sum of the services' disk_quota_mb
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX reseller_plans_name ON reseller_plans (lower(name));

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email         TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reseller', 'customer')),
    reseller_id   INTEGER REFERENCES users (id) ON DELETE RESTRICT,   -- the reseller a customer belongs to
    plan_id       INTEGER REFERENCES reseller_plans (id) ON DELETE RESTRICT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE INDEX users_reseller ON users (reseller_id);

CREATE TABLE login_sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the token; the token itself is never stored
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,         -- first characters of the key, to recognise it in lists
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE services (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('radio', 'video')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    source_password  TEXT NOT NULL,
    stream_key       TEXT NOT NULL UNIQUE,
    max_listeners    INTEGER NOT NULL,
    max_bitrate_kbps INTEGER NOT NULL,
    disk_quota_mb    INTEGER NOT NULL,
    dvr_minutes      INTEGER NOT NULL,
    transcode        INTEGER NOT NULL,
    autodj           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX services_owner ON services (owner_id);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id INTEGER,                   -- no foreign key: the trail outlives deleted users
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    at       INTEGER NOT NULL
);
