//! Provisioning calls by client id (see `domain::provision`).

use sqlx::{Any, Executor, FromRow};

use super::now;

#[derive(Debug, Clone, FromRow)]
pub struct Provision {
    pub id: i64,
    pub request_sha: String,
    pub user_id: Option<i64>,
    pub service_id: Option<i64>,
    pub created_at: i64,
}

pub async fn find<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    caller: i64,
    client_id: &str,
) -> sqlx::Result<Option<Provision>> {
    sqlx::query_as(
        "SELECT id, request_sha, user_id, service_id, created_at FROM provisions \
         WHERE caller_id = $1 AND client_id = $2",
    )
    .bind(caller)
    .bind(client_id)
    .fetch_optional(exec)
    .await
}

/// Claims `client_id` for a new call; a unique-key error means another call has it.
pub async fn claim<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    caller: i64,
    client_id: &str,
    request_sha: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO provisions (caller_id, client_id, request_sha, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(caller)
    .bind(client_id)
    .bind(request_sha)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn set_user<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    user: i64,
) -> sqlx::Result<()> {
    super::set_column(exec, "provisions", "user_id", id, user).await
}

pub async fn set_service<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    service: i64,
) -> sqlx::Result<()> {
    super::set_column(exec, "provisions", "service_id", id, service).await
}

/// Forgets a call that failed, so a corrected retry with the same id can run.
pub async fn forget<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    super::delete_where(exec, "provisions", &[("id", id)]).await?;
    Ok(())
}
