//! Reseller plans as business operations: what a reseller may hand out. Admins manage
//! plans; a reseller sees its own plan (another plan is a 404, like a missing one);
//! customers have none. Each limit is unlimited (`None`) or 0..=1e9; a plan in use cannot
//! be deleted.

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::plans::{self, Plan, PlanFields};
use crate::db::users::Role;
use crate::time::double_option;

use super::{Error, Result, commit_audited, validate};

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    pub name: String,
    pub max_customers: Option<i64>,
    pub max_services: Option<i64>,
    pub max_listeners: Option<i64>,
    pub max_disk_mb: Option<i64>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchPlan {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub max_customers: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub max_services: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub max_listeners: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub max_disk_mb: Option<Option<i64>>,
}

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.role() == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("only an admin can manage reseller plans"))
    }
}

fn check(fields: PlanFields) -> Result<PlanFields> {
    let limit = |field: &str, v: Option<i64>| -> Result<Option<i64>> {
        v.map(|v| validate::range(field, v, 0, 1_000_000_000))
            .transpose()
    };
    Ok(PlanFields {
        name: validate::name("name", &fields.name)?,
        max_customers: limit("max_customers", fields.max_customers)?,
        max_services: limit("max_services", fields.max_services)?,
        max_listeners: limit("max_listeners", fields.max_listeners)?,
        max_disk_mb: limit("max_disk_mb", fields.max_disk_mb)?,
    })
}

async fn reload(state: &AppState, id: i64) -> Result<Plan> {
    plans::by_id(state.db.pool(), id)
        .await?
        .ok_or(Error::NotFound("plan"))
}

/// Creates a plan (admins).
pub async fn create(state: &AppState, caller: &Caller, body: CreatePlan) -> Result<Plan> {
    admin_only(caller)?;
    let fields = check(PlanFields {
        name: body.name,
        max_customers: body.max_customers,
        max_services: body.max_services,
        max_listeners: body.max_listeners,
        max_disk_mb: body.max_disk_mb,
    })?;
    let mut tx = state.db.pool().begin().await?;
    let id = plans::insert(&mut *tx, &fields).await.map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            Error::conflict(format!("a plan named {:?} exists", fields.name))
        } else {
            e.into()
        }
    })?;
    commit_audited(
        tx,
        caller,
        "plan.create",
        &format!("plan {id} ({})", fields.name),
    )
    .await?;
    reload(state, id).await
}

/// A page of the plans the caller sees and how many there are: every plan for admins, its
/// own (or none) for a reseller; customers have none to see.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Plan>, i64)> {
    let only = match caller.role() {
        Role::Admin => None,
        Role::Reseller => match caller.user.plan_id {
            Some(id) => Some(id),
            None => return Ok((Vec::new(), 0)),
        },
        Role::Customer => return Err(Error::forbidden("customers have no reseller plan")),
    };
    Ok(plans::list(&state.db, only, limit, offset).await?)
}

/// A plan the caller sees, else 404.
pub async fn visible(state: &AppState, caller: &Caller, id: i64) -> Result<Plan> {
    let visible = match caller.role() {
        Role::Admin => true,
        Role::Reseller => caller.user.plan_id == Some(id),
        Role::Customer => false,
    };
    let plan = plans::by_id(state.db.pool(), id).await?;
    plan.filter(|_| visible).ok_or(Error::NotFound("plan"))
}

/// Changes a plan (admins); what the request leaves out stays, `null` makes it unlimited.
pub async fn patch(state: &AppState, caller: &Caller, id: i64, body: PatchPlan) -> Result<Plan> {
    let plan = visible(state, caller, id).await?;
    admin_only(caller)?;
    let fields = check(PlanFields {
        name: body.name.unwrap_or(plan.name),
        max_customers: body.max_customers.unwrap_or(plan.max_customers),
        max_services: body.max_services.unwrap_or(plan.max_services),
        max_listeners: body.max_listeners.unwrap_or(plan.max_listeners),
        max_disk_mb: body.max_disk_mb.unwrap_or(plan.max_disk_mb),
    })?;
    let mut tx = state.db.pool().begin().await?;
    plans::update(&mut *tx, id, &fields).await?;
    commit_audited(tx, caller, "plan.update", &format!("plan {id}")).await?;
    reload(state, id).await
}

/// Deletes a plan no reseller is on (admins).
pub async fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    visible(state, caller, id).await?;
    admin_only(caller)?;
    let mut tx = state.db.pool().begin().await?;
    let users = plans::users_on(&mut *tx, id).await?;
    if users > 0 {
        return Err(Error::conflict(format!(
            "{users} reseller(s) are on this plan; move them first"
        )));
    }
    plans::delete(&mut *tx, id).await?;
    commit_audited(tx, caller, "plan.delete", &format!("plan {id}")).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_unlimited_or_in_range() {
        let fields = |max_services| PlanFields {
            name: " Gold ".into(),
            max_services,
            ..PlanFields::default()
        };
        let ok = check(fields(None)).expect("an unlimited plan");
        assert_eq!((ok.name.as_str(), ok.max_services), ("Gold", None));
        assert_eq!(
            check(fields(Some(0))).ok().and_then(|f| f.max_services),
            Some(0)
        );
        let e = check(fields(Some(-1))).expect_err("a negative limit");
        assert!(
            e.to_string().starts_with("max_services must be between"),
            "{e}"
        );
        assert!(check(fields(Some(1_000_000_001))).is_err());
    }
}
