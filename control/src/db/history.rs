//! Stored statistics: title history and listener-session aggregates.

use sqlx::FromRow;

use super::Db;

/// A title that played.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct Play {
    pub title: String,
    pub dj: Option<String>,
    pub started_at: i64,
}

/// The last `n` titles of a service, newest first.
pub async fn recent_titles(db: &Db, service_id: i64, n: i64) -> sqlx::Result<Vec<Play>> {
    sqlx::query_as(
        "SELECT title, dj, started_at FROM title_history WHERE service_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
    )
    .bind(service_id)
    .bind(n)
    .fetch_all(db.pool())
    .await
}

/// Listener sessions that ended since `since` (unix seconds): count, listening hours
/// (in milliseconds) and bytes sent.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct SessionTotals {
    pub sessions: i64,
    pub duration_ms: i64,
    pub bytes: i64,
}

pub async fn session_totals(db: &Db, service_id: i64, since: i64) -> sqlx::Result<SessionTotals> {
    // CAST: PostgreSQL's SUM(bigint) is NUMERIC, which the Any driver cannot decode.
    sqlx::query_as(
        "SELECT COUNT(*) AS sessions, CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS duration_ms, \
                CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes \
         FROM listener_sessions WHERE service_id = $1 AND started_at >= $2",
    )
    .bind(service_id)
    .bind(since)
    .fetch_one(db.pool())
    .await
}

/// (start unix s, duration ms) of the sessions of `service_id` that overlap [from, to),
/// oldest first, at most `limit`.
pub async fn sessions_between(
    db: &Db,
    service_id: i64,
    from: i64,
    to: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    // Sessions are stored when they end, with their start. This scans a service's sessions
    // up to `to`: fine for charts of a few thousand sessions; hourly rollups replace it
    // for long ranges.
    sqlx::query_as(
        "SELECT started_at, duration_ms FROM listener_sessions \
         WHERE service_id = $1 AND started_at < $3 AND started_at * 1000 + duration_ms >= $2 * 1000 \
         ORDER BY started_at LIMIT $4",
    )
    .bind(service_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}
