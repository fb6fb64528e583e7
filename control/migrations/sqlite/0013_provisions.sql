-- Billing systems' provisioning calls, by the caller's own request id, so a retried call
-- answers what the first one made instead of making it twice. Keep in step with
-- ../postgres/0013_provisions.sql.
CREATE TABLE provisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    caller_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    request_sha TEXT NOT NULL,          -- the request's digest: a different request with the same id is refused
    user_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    service_id  BIGINT REFERENCES services (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (caller_id, client_id)
);
