//! Login sessions and API keys. Only SHA-256 digests of the tokens are stored: a copy of the
//! database does not let anyone log in.

use sqlx::FromRow;

use super::{Db, now};

/// A row of `api_keys`.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Stores a new login session; returns its id.
pub async fn insert_session<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    user_id: i64,
    token_hash: &str,
    expires_at: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO login_sessions (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(now())
    .bind(expires_at)
    .fetch_one(exec)
    .await
}

pub async fn revoke_session(db: &Db, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Revokes every login session of a user but `keep` (after a password change); how many.
pub async fn revoke_user_sessions<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    user_id: i64,
    keep: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE login_sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(keep.unwrap_or(-1))
    .bind(now())
    .execute(exec)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every live API key of a user (a password change that asks for it); how many.
pub async fn revoke_user_api_keys<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    user_id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(done.rows_affected())
}

pub async fn insert_api_key<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    user_id: i64,
    name: &str,
    prefix: &str,
    key_hash: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn touch_api_key(db: &Db, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now())
        .execute(db.pool())
        .await?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

/// A user's keys (revoked ones included, so the list shows when each was revoked); all
/// users' keys with `None`.
pub async fn list_api_keys(
    db: &Db,
    user_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ApiKey>, i64)> {
    let listing = super::Listing {
        columns: KEY_COLUMNS,
        from: "api_keys",
        filter: "($1 = -1 OR user_id = $1)",
        order: "id",
    };
    super::page(db, &listing, &[user_id.unwrap_or(-1)], limit, offset).await
}

pub async fn api_key_by_id(db: &Db, id: i64) -> sqlx::Result<Option<ApiKey>> {
    super::row(
        db.pool(),
        sql!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
        &[id],
    )
    .await
}

pub async fn revoke_api_key<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now())
        .execute(exec)
        .await?;
    Ok(())
}
