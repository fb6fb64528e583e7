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

/// A report's filter: one service, sessions or titles in [from, to), one mount or all.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub service: i64,
    pub from: i64,
    pub to: i64,
    pub mount: Option<&'a str>,
}

impl Scope<'_> {
    /// `AND mount = $4` when one mount is asked for (the scope binds it fourth).
    fn mount_sql(&self) -> &'static str {
        if self.mount.is_some() {
            " AND mount = $4"
        } else {
            ""
        }
    }

    fn bind<'q, O>(
        &self,
        q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        let q = q.bind(self.service).bind(self.from).bind(self.to);
        match self.mount {
            Some(m) => q.bind(m.to_owned()),
            None => q,
        }
    }
}

/// Sessions that started in the range: how many, and their total length.
pub async fn sessions_started(db: &Db, s: Scope<'_>) -> sqlx::Result<(i64, i64)> {
    let sql = format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) FROM listener_sessions \
         WHERE service_id = $1 AND started_at >= $2 AND started_at < $3{}",
        s.mount_sql()
    );
    s.bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_one(db.pool())
        .await
}

/// Distinct addresses among the stored sessions that overlap the range.
pub async fn unique_addresses(db: &Db, s: Scope<'_>) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(DISTINCT ip) FROM listener_sessions \
         WHERE service_id = $1 AND ended_at >= $2 AND started_at < $3{}",
        s.mount_sql()
    );
    let (n,): (i64,) = s
        .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// Which of `ips` appear among the stored sessions that overlap the range.
pub async fn known_addresses(db: &Db, s: Scope<'_>, ips: &[String]) -> sqlx::Result<Vec<String>> {
    let mut known = Vec::new();
    let first = if s.mount.is_some() { 5 } else { 4 };
    for chunk in ips.chunks(500) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|i| format!("${}", first + i))
            .collect();
        let sql = format!(
            "SELECT DISTINCT ip FROM listener_sessions \
             WHERE service_id = $1 AND ended_at >= $2 AND started_at < $3{} AND ip IN ({})",
            s.mount_sql(),
            marks.join(", ")
        );
        let mut q = s.bind(sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql)));
        for ip in chunk {
            q = q.bind(ip.clone());
        }
        known.extend(q.fetch_all(db.pool()).await?.into_iter().map(|(ip,)| ip));
    }
    Ok(known)
}

/// Sessions by user agent, most sessions first.
#[derive(Debug, Clone, FromRow)]
pub struct AgentRow {
    pub user_agent: Option<String>,
    pub sessions: i64,
    pub uniques: i64,
    pub listen_ms: i64,
}

pub async fn user_agents(db: &Db, s: Scope<'_>, limit: i64) -> sqlx::Result<Vec<AgentRow>> {
    let sql = format!(
        "SELECT user_agent, COUNT(*) AS sessions, COUNT(DISTINCT ip) AS uniques, \
                CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS listen_ms \
         FROM listener_sessions WHERE service_id = $1 AND started_at >= $2 AND started_at < $3{} \
         GROUP BY user_agent ORDER BY sessions DESC, listen_ms DESC LIMIT {limit}",
        s.mount_sql()
    );
    s.bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(db.pool())
        .await
}

/// Titles played in the range: plays, listeners when they started, last play.
#[derive(Debug, Clone, FromRow)]
pub struct TrackRow {
    pub title: String,
    pub plays: i64,
    pub total_listeners: i64,
    pub max_listeners: i64,
    pub last_played: i64,
}

pub async fn tracks(db: &Db, s: Scope<'_>, limit: i64) -> sqlx::Result<Vec<TrackRow>> {
    let sql = format!(
        "SELECT title, COUNT(*) AS plays, CAST(COALESCE(SUM(listeners), 0) AS BIGINT) AS total_listeners, \
                CAST(COALESCE(MAX(listeners), 0) AS BIGINT) AS max_listeners, MAX(started_at) AS last_played \
         FROM title_history WHERE service_id = $1 AND started_at >= $2 AND started_at < $3{} \
         GROUP BY title ORDER BY plays DESC, last_played DESC LIMIT {limit}",
        s.mount_sql()
    );
    s.bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(db.pool())
        .await
}

/// One stored session, for the sessions export.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub started_at: i64,
    pub duration_ms: i64,
    pub mount: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub bytes: i64,
}

pub async fn sessions(db: &Db, s: Scope<'_>, limit: i64) -> sqlx::Result<Vec<SessionRow>> {
    let sql = format!(
        "SELECT started_at, duration_ms, mount, ip, user_agent, bytes FROM listener_sessions \
         WHERE service_id = $1 AND started_at >= $2 AND started_at < $3{} \
         ORDER BY started_at, id LIMIT {limit}",
        s.mount_sql()
    );
    s.bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_all(db.pool())
        .await
}

/// Titles that started in the range.
pub async fn plays(db: &Db, s: Scope<'_>) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM title_history WHERE service_id = $1 AND started_at >= $2 AND started_at < $3{}",
        s.mount_sql()
    );
    let (n,): (i64,) = s
        .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}
