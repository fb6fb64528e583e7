//! Users: admins, resellers and customers.

use sqlx::{Any, Executor, FromRow, Row};

use super::{Db, now};

/// What a user may do; see `crate::domain::access` for the rules.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Reseller,
    Customer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Reseller => "reseller",
            Self::Customer => "customer",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "admin" => Self::Admin,
            "reseller" => Self::Reseller,
            // The schema's CHECK constraint allows nothing else.
            _ => Self::Customer,
        }
    }
}

/// A row of `users`.
#[derive(Clone, FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    role: String,
    pub reseller_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Who suspended the account (`admin` or `reseller`); `NULL` while it is active.
    suspended_by: Option<String>,
}

tidecast_engine::debug_fields!(User {
    id,
    username,
    role,
    ..
});

impl User {
    pub fn role(&self) -> Role {
        Role::parse(&self.role)
    }

    /// The role of whoever suspended this account itself, if it is suspended.
    pub fn suspended_by(&self) -> Option<Role> {
        self.suspended_by.as_deref().map(Role::parse)
    }
}

/// Which users a list covers.
#[derive(Debug, Clone, Copy)]
pub enum UserScope {
    All,
    /// A reseller and its customers.
    ResellerTree(i64),
    /// One user.
    Only(i64),
}

/// A new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub reseller_id: Option<i64>,
    pub plan_id: Option<i64>,
}

const COLUMNS: &str = "id, username, password_hash, email, role, reseller_id, plan_id, created_at, \
    updated_at, suspended_by";
const PREFIXED: &str = "u.id, u.username, u.password_hash, u.email, u.role, u.reseller_id, u.plan_id, \
    u.created_at, u.updated_at, u.suspended_by";

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    u: &NewUser<'_>,
) -> sqlx::Result<i64> {
    let t = now();
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, email, role, reseller_id, plan_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(u.username)
    .bind(u.password_hash)
    .bind(u.email)
    .bind(u.role.as_str())
    .bind(u.reseller_id)
    .bind(u.plan_id)
    .bind(t)
    .fetch_one(exec)
    .await
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// The user behind a live login session (not revoked, not expired), with the session's id
/// and whether the user's reseller is suspended (its customers are suspended with it). One
/// query: this runs on every authenticated request.
pub async fn by_session_hash(db: &Db, token_hash: &str) -> sqlx::Result<Option<(i64, User, bool)>> {
    let row = sqlx::query(sql!(
        "SELECT {PREFIXED}, ls.id AS session_id, r.suspended_by AS reseller_suspended_by \
         FROM login_sessions ls JOIN users u ON u.id = ls.user_id LEFT JOIN users r ON r.id = u.reseller_id \
         WHERE ls.token_hash = $1 AND ls.revoked_at IS NULL AND ls.expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("session_id")?,
            User::from_row(&r)?,
            reseller_suspended(&r)?,
        ))
    })
    .transpose()
}

fn reseller_suspended(r: &sqlx::any::AnyRow) -> sqlx::Result<bool> {
    Ok(r.try_get::<Option<String>, _>("reseller_suspended_by")?
        .is_some())
}

/// The user behind a live API key, with the key's id, when it was last used, and whether
/// the user's reseller is suspended.
pub async fn by_api_key_hash(
    db: &Db,
    key_hash: &str,
) -> sqlx::Result<Option<(i64, Option<i64>, User, bool)>> {
    let row = sqlx::query(sql!(
        "SELECT {PREFIXED}, k.id AS key_id, k.last_used_at AS key_last_used, \
         r.suspended_by AS reseller_suspended_by FROM api_keys k \
         JOIN users u ON u.id = k.user_id LEFT JOIN users r ON r.id = u.reseller_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
    ))
    .bind(key_hash)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("key_id")?,
            r.try_get("key_last_used")?,
            User::from_row(&r)?,
            reseller_suspended(&r)?,
        ))
    })
    .transpose()
}

/// Suspends an account (`by`: the role of who did it) or, with `None`, lifts its suspension.
pub async fn set_suspended<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    by: Option<Role>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET suspended_by = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(by.map(Role::as_str))
        .bind(now())
        .execute(exec)
        .await?;
    Ok(())
}

/// Usernames are unique regardless of case.
pub async fn by_username<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    username: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM users WHERE lower(username) = lower($1)"
    ))
    .bind(username)
    .fetch_optional(exec)
    .await
}

pub async fn list(
    db: &Db,
    scope: UserScope,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<User>, i64)> {
    let (filter, arg) = match scope {
        UserScope::All => ("1 = 1 OR $1 = 0", 0),
        UserScope::ResellerTree(id) => ("id = $1 OR reseller_id = $1", id),
        UserScope::Only(id) => ("id = $1", id),
    };
    let listing = super::Listing {
        columns: COLUMNS,
        from: "users",
        filter,
        order: "id",
    };
    super::page(db, &listing, &[arg], limit, offset).await
}

pub async fn count_customers<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    reseller_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE reseller_id = $1")
        .bind(reseller_id)
        .fetch_one(exec)
        .await
}

pub async fn count_admins<'e, E: Executor<'e, Database = Any>>(exec: E) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(exec)
        .await
}

/// Takes the write lock on a user's row (PostgreSQL: a row lock; SQLite: the database write
/// lock) before a check-then-write such as "is the reseller under its plan?", so two
/// concurrent requests cannot both pass the check. Portable stand-in for `SELECT … FOR
/// UPDATE`, which SQLite lacks.
pub async fn lock_row<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(())
}

/// The changes a PATCH may make; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub password_hash: Option<String>,
    pub email: Option<Option<String>>,
    pub plan_id: Option<Option<i64>>,
}

pub async fn update<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    c: &UserChanges,
) -> sqlx::Result<()> {
    // COALESCE keeps the old value for a NULL parameter; the *_set flags tell "set to NULL"
    // apart from "leave alone" for the nullable columns.
    sqlx::query(
        "UPDATE users SET \
           password_hash = COALESCE($2, password_hash), \
           email = CASE WHEN $3 = 1 THEN $4 ELSE email END, \
           plan_id = CASE WHEN $5 = 1 THEN $6 ELSE plan_id END, \
           updated_at = $7 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.password_hash.as_deref())
    .bind(i64::from(c.email.is_some()))
    .bind(c.email.clone().flatten())
    .bind(i64::from(c.plan_id.is_some()))
    .bind(c.plan_id.flatten())
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

pub async fn delete<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    super::delete_where(exec, "users", &[("id", id)]).await?;
    Ok(())
}
