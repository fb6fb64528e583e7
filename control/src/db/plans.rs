//! Reseller plans: how many customers, services, listeners and disk a reseller may hand out.

use sqlx::{Any, Executor, FromRow};

use super::{Db, Listing, now};

/// A row of `reseller_plans`; `None` is unlimited.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct Plan {
    pub id: i64,
    pub name: String,
    pub max_customers: Option<i64>,
    pub max_services: Option<i64>,
    pub max_listeners: Option<i64>,
    pub max_disk_mb: Option<i64>,
    #[serde(skip)]
    pub created_at: i64,
    #[serde(skip)]
    pub updated_at: i64,
}

/// A plan's limits, for insert and update.
#[derive(Debug, Clone, Default)]
pub struct PlanFields {
    pub name: String,
    pub max_customers: Option<i64>,
    pub max_services: Option<i64>,
    pub max_listeners: Option<i64>,
    pub max_disk_mb: Option<i64>,
}

const COLUMNS: &str =
    "id, name, max_customers, max_services, max_listeners, max_disk_mb, created_at, updated_at";

pub async fn insert<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    p: &PlanFields,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO reseller_plans (name, max_customers, max_services, max_listeners, max_disk_mb, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(&p.name)
    .bind(p.max_customers)
    .bind(p.max_services)
    .bind(p.max_listeners)
    .bind(p.max_disk_mb)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<Option<Plan>> {
    super::row(
        exec,
        sql!("SELECT {COLUMNS} FROM reseller_plans WHERE id = $1"),
        &[id],
    )
    .await
}

/// All plans, or only the one with `only` as id.
pub async fn list(
    db: &Db,
    only: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Plan>, i64)> {
    let listing = Listing {
        columns: COLUMNS,
        from: "reseller_plans",
        filter: "($1 = -1 OR id = $1)",
        order: "id",
    };
    super::page(db, &listing, &[only.unwrap_or(-1)], limit, offset).await
}

/// Replaces a plan's name and limits.
pub async fn update<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    id: i64,
    p: &PlanFields,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reseller_plans SET name = $2, max_customers = $3, max_services = $4, \
           max_listeners = $5, max_disk_mb = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(&p.name)
    .bind(p.max_customers)
    .bind(p.max_services)
    .bind(p.max_listeners)
    .bind(p.max_disk_mb)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

/// How many resellers are on a plan.
pub async fn users_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1")
        .bind(id)
        .fetch_one(exec)
        .await
}

pub async fn delete<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    super::delete_where(exec, "reseller_plans", &[("id", id)]).await?;
    Ok(())
}
