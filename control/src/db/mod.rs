//! The control plane's database: SQLite (embedded default) or PostgreSQL, from one code path.
//!
//! Queries go through sqlx's `Any` driver with SQL both dialects accept: `$1` placeholders
//! (SQLite reads them as numbered parameters), `RETURNING`, integers for times (unix
//! seconds) and booleans (0/1). Only the migrations differ per dialect, and they create the
//! same tables and columns; a test checks that the two schemas agree.

/// `format!` for SQL text assembled from this crate's own constant fragments (column lists,
/// scope filters), never from input: input always goes through bind parameters.
macro_rules! sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

pub mod djs;
pub mod health;
pub mod history;
pub mod media;
pub mod mounts;
pub mod plans;
pub mod playlists;
pub mod provisions;
pub mod recordings;
pub mod relays;
pub mod requests;
pub mod services;
pub mod site;
pub mod targets;
pub mod tokens;
pub mod users;
pub mod vod;
pub mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow, install_default_drivers};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, FromRow};

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to the control plane's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    health: std::sync::Arc<health::Health>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The newest migration this build knows (both dialects have the same numbers).
pub fn latest_migration() -> i64 {
    SQLITE_MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`); a SQLite file and its folder are
    /// created when missing.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            (Backend::Sqlite, prepare_sqlite_url(url)?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Backend::Postgres, url.to_owned())
        } else {
            anyhow::bail!("unsupported database URL (use sqlite://… or postgres://…)");
        };
        let options = AnyPoolOptions::new()
            .max_connections(Self::max_connections(backend))
            .acquire_timeout(Duration::from_secs(10))
            // A ping per checkout doubles the round trips of short queries; a dead
            // connection fails its query instead and is replaced.
            .test_before_acquire(false);
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; foreign keys are off by default
                    // in SQLite; busy_timeout makes a second writer wait instead of failing.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot open database {}", crate::config::redact_url(&url)))?;
        Ok(Self {
            pool,
            backend,
            health: Default::default(),
        })
    }

    /// Brings the schema up to date; safe to run at every start.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        Ok(())
    }

    /// Pool size, measured on the API benchmark (BENCHMARKS.md). SQLite takes a global
    /// mutex in its allocator, so connections beyond the core count only contend (8
    /// connections gave half the throughput of 2 on 2 cores). PostgreSQL does its work in
    /// its own processes; a few per core keeps it busy without queueing inside it.
    fn max_connections(backend: Backend) -> u32 {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        match backend {
            Backend::Sqlite => cores.max(2),
            Backend::Postgres => (2 * cores).max(4),
        }
    }

    /// How many API requests may run at once: twice the pool, so the pool is always busy
    /// while at most a pool's worth of requests wait inside it (its wait queue is not
    /// first-come-first-served; an unbounded queue there starved requests for seconds).
    pub fn api_concurrency(&self) -> usize {
        2 * Self::max_connections(self.backend) as usize
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers (see [`health`]).
    pub fn health(&self) -> &health::Health {
        &self.health
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (at shutdown, so SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the folder of a SQLite file and asks SQLite to create the file if it is missing.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!("the SQLite database must be a file (got {url:?})");
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create database folder {}", parent.display()))?;
    }
    // Validate the URL the way sqlx will read it, so a typo fails here with a clear message.
    let with_mode = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    sqlx::sqlite::SqliteConnectOptions::from_str(&with_mode)
        .with_context(|| format!("invalid SQLite URL {url:?}"))?;
    Ok(with_mode)
}

/// Now, in unix seconds: how the database stores times.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The error of a row whose `column` holds a value this build does not know (the schema's
/// CHECKs allow only known ones: a newer build's value, or a hand edit).
pub fn unknown_value(column: &'static str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown value {value:?}").into(),
    }
}

/// Whether a database error is a unique-constraint violation (a duplicate name).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Whether a database error is a foreign-key violation (something still refers to the row).
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_foreign_key_violation())
}

/// Adds an audit-log line: who did what to which object. Best effort inside the caller's
/// transaction or connection.
pub async fn audit<'e, E>(
    exec: E,
    actor: Option<i64>,
    action: &str,
    subject: &str,
) -> sqlx::Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("INSERT INTO audit_log (actor_id, action, subject, at) VALUES ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(now())
        .execute(exec)
        .await?;
    Ok(())
}

/// SQL text assembled by [`sql!`].
type Sql = AssertSqlSafe<String>;

/// A row type the modules here decode with [`FromRow`].
pub(crate) trait Decoded: for<'r> FromRow<'r, AnyRow> + Send + Unpin {}
impl<T: for<'r> FromRow<'r, AnyRow> + Send + Unpin> Decoded for T {}

/// `select` (this crate's SQL, see [`sql!`]) with its `$1`, `$2`, … bound to `args` in order,
/// ready to fetch: the reads of the modules here that take only ids start from it.
pub(crate) fn select<'q, T: Decoded>(
    select: Sql,
    args: &[i64],
) -> sqlx::query::QueryAs<'q, Any, T, <Any as sqlx::Database>::Arguments> {
    args.iter().fold(sqlx::query_as(select), |q, &a| q.bind(a))
}

/// The row `select` finds with `args`, if any (a read by a unique key).
pub(crate) async fn row<'e, T: Decoded>(
    exec: impl Executor<'e, Database = Any>,
    select: Sql,
    args: &[i64],
) -> sqlx::Result<Option<T>> {
    self::select(select, args).fetch_optional(exec).await
}

/// A listing the API pages through: `SELECT {columns} FROM {from} WHERE {filter} ORDER BY
/// {order}`, each of them this crate's constant SQL; the filter's `$1`, `$2`, … are the
/// arguments [`page`] is given.
pub(crate) struct Listing<'a> {
    pub columns: &'a str,
    pub from: &'a str,
    pub filter: &'a str,
    pub order: &'a str,
}

/// One page of a listing (`limit` rows after the first `offset`) and how many rows the whole
/// listing has.
pub(crate) async fn page<T: Decoded>(
    db: &Db,
    listing: &Listing<'_>,
    args: &[i64],
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<T>, i64)> {
    let Listing {
        columns,
        from,
        filter,
        order,
    } = listing;
    // The page's limit and offset are bound after the filter's own arguments.
    let (l, o) = (args.len() + 1, args.len() + 2);
    let select =
        sql!("SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order} LIMIT ${l} OFFSET ${o}");
    let items = self::select(select, &[args, &[limit, offset]].concat())
        .fetch_all(db.pool())
        .await?;
    let count = sql!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let (total,): (i64,) = self::select(count, args).fetch_one(db.pool()).await?;
    Ok((items, total))
}

/// Sets one column of the row of `table` with this id (`table` and `column` are the caller's
/// constants).
pub(crate) async fn set_column<'e, 'q, E, V>(
    exec: E,
    table: &'static str,
    column: &'static str,
    id: i64,
    value: V,
) -> sqlx::Result<()>
where
    E: Executor<'e, Database = Any>,
    V: 'q + Send + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    sqlx::query(sql!("UPDATE {table} SET {column} = $2 WHERE id = $1"))
        .bind(id)
        .bind(value)
        .execute(exec)
        .await?;
    Ok(())
}

/// Deletes the rows of `table` where every `(column, value)` of `key` holds (the columns are
/// the caller's constants); whether there was any.
pub(crate) async fn delete_where<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    table: &'static str,
    key: &[(&'static str, i64)],
) -> sqlx::Result<bool> {
    let filter = key
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("{column} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut q = sqlx::query(sql!("DELETE FROM {table} WHERE {filter}"));
    for &(_, value) in key {
        q = q.bind(value);
    }
    Ok(q.execute(exec).await?.rows_affected() > 0)
}
