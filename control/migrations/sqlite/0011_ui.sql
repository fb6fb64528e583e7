-- The web UI's admin pages: announcements shown on customers' dashboards, and system
-- settings. Keep in step with ../postgres/0011_ui.sql.

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message    TEXT NOT NULL,
    level      TEXT NOT NULL CHECK (level IN ('info', 'warning')),
    author_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

-- One row per setting; values are JSON. Unknown keys are refused by the API.
CREATE TABLE settings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL UNIQUE,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
