//! The database in and out of a backup: every table as JSON lines (one object per row,
//! integers and text as they are), read in one consistent snapshot and written back in an
//! order that keeps foreign keys satisfied. The same format for SQLite and PostgreSQL, so
//! a backup restores into either.

use std::io::Write;

use anyhow::{Context, bail};
use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::{Any, AnyConnection, Column, Row};

use crate::db::{Backend, Db};

/// Every table, parents before children (the order the migrations create them). A table
/// the migrations add must be added here: `every_table_is_listed` checks it.
pub const TABLES: &[&str] = &[
    "reseller_plans",
    "users",
    "login_sessions",
    "api_keys",
    "services",
    "audit_log",
    "djs",
    "listener_sessions",
    "title_history",
    "listener_hours",
    "mounts",
    "media",
    "playlists",
    "playlist_items",
    "autodj_plays",
    "song_requests",
    "recordings",
    "announcements",
    "settings",
    "provisions",
    "webhooks",
    "publish_targets",
    "relays",
    "server_secrets",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
}

/// The tables in the database (migrations' own bookkeeping aside).
pub async fn present(conn: &mut AnyConnection, backend: Backend) -> anyhow::Result<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'"
        }
    };
    Ok(sqlx::query_scalar(sql).fetch_all(conn).await?)
}

/// A table's columns and whether each holds integers or text.
pub async fn columns(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> anyhow::Result<Vec<(String, Kind)>> {
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"
            )))
            .fetch_all(conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(conn)
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(name, ty)| {
            let ty = ty.to_ascii_lowercase();
            let kind = if ty.contains("int") {
                Kind::Int
            } else {
                Kind::Text
            };
            (name, kind)
        })
        .collect())
}

/// Writes every row of `table` as a JSON line to `out`; returns the row count.
pub async fn export(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let cols = columns(conn, backend, table).await?;
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM {table} ORDER BY id"
    )))
    .fetch(&mut *conn);
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        let mut obj = Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            let kind = cols
                .iter()
                .find(|(name, _)| name == col.name())
                .map_or(Kind::Text, |(_, k)| *k);
            let v = match kind {
                Kind::Int => match row.try_get::<Option<i64>, _>(i) {
                    Ok(v) => v.map_or(Value::Null, Value::from),
                    Err(_) => row
                        .try_get::<Option<i32>, _>(i)
                        .with_context(|| format!("{table}.{}", col.name()))?
                        .map_or(Value::Null, Value::from),
                },
                Kind::Text => row
                    .try_get::<Option<String>, _>(i)
                    .with_context(|| format!("{table}.{}", col.name()))?
                    .map_or(Value::Null, Value::from),
            };
            obj.insert(col.name().to_owned(), v);
        }
        serde_json::to_writer(&mut *out, &Value::Object(obj))?;
        out.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

/// Whether every table of the restore's target is empty.
pub async fn all_empty(conn: &mut AnyConnection) -> anyhow::Result<Option<String>> {
    for table in TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut *conn)
                .await?;
        if n > 0 {
            return Ok(Some((*table).to_owned()));
        }
    }
    Ok(None)
}

/// Inserts the JSON lines of `lines` into `table` (inside the caller's transaction).
pub async fn import(
    tx: &mut sqlx::Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<u64> {
    let cols = columns(tx, backend, table).await?;
    if cols.is_empty() {
        bail!("this Tidecast has no table {table}");
    }
    let mut n = 0;
    for line in lines {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Map<String, Value> =
            serde_json::from_str(&line).with_context(|| format!("a row of {table} is not JSON"))?;
        let present: Vec<&(String, Kind)> =
            cols.iter().filter(|(c, _)| row.contains_key(c)).collect();
        if let Some(unknown) = row.keys().find(|k| !cols.iter().any(|(c, _)| c == *k)) {
            bail!("{table}.{unknown} is not a column this Tidecast knows");
        }
        let names: Vec<&str> = present.iter().map(|(c, _)| c.as_str()).collect();
        let marks: Vec<String> = (1..=present.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (c, kind) in &present {
            let v = &row[c.as_str()];
            q = match (kind, v) {
                (Kind::Int, Value::Null) => q.bind(None::<i64>),
                (Kind::Int, Value::Number(x)) => q.bind(
                    x.as_i64()
                        .with_context(|| format!("{table}.{c}: {x} is not an integer"))?,
                ),
                (Kind::Text, Value::Null) => q.bind(None::<String>),
                (Kind::Text, Value::String(s)) => q.bind(s.clone()),
                (_, other) => bail!("{table}.{c}: unexpected value {other}"),
            };
        }
        q.execute(&mut **tx)
            .await
            .with_context(|| format!("restoring a row of {table}"))?;
        n += 1;
    }
    if backend == Backend::Postgres && cols.iter().any(|(c, _)| c == "id") {
        // Identity columns were given explicit ids: move each sequence past them.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(n)
}

/// The newest migration the database has run.
pub async fn schema_version(db: &Db) -> anyhow::Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .context("the database has no Tidecast schema (was the server ever started on it?)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_table_is_listed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        let mut conn = db.pool().acquire().await.unwrap_or_else(|e| panic!("{e}"));
        let mut have = present(&mut conn, Backend::Sqlite)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        have.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(have, listed, "backup::tables::TABLES must list every table");
    }
}
