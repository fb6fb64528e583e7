//! A service's webhook as business operations: whoever sees the service sets, removes and
//! tests it.
//!
//! Invariants: the URL is http(s), at most 2000 characters, and reaches an address the
//! server may reach (`outbound`; checked here and again at every delivery); the secret is
//! 16-200 characters without control characters (made when none is given); the events are a
//! non-empty subset of `webhooks::EVENTS`, stored in that list's order without repeats.

use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::secret::{random_b64, token};
use crate::db::now;
use crate::db::webhooks::{self, Webhook};
use crate::webhooks::{EVENTS, deliver};

use super::access::visible_service;
use super::{Error, Result, commit_audited};

/// What a request sets.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookInput")]
pub struct Input {
    pub url: String,
    pub secret: Option<String>,
    /// Event names (all by default). Strings rather than an enum so that an unknown name
    /// is answered with the list of known ones.
    pub events: Option<Vec<String>>,
}

/// How a test delivery went.
#[derive(Debug)]
pub struct TestOutcome {
    pub delivered: bool,
    pub error: Option<String>,
}

/// The webhook of service `id`, if it has one.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<Option<Webhook>> {
    let (service, _) = visible_service(state, caller, id).await?;
    Ok(webhooks::get(&state.db, service.id).await?)
}

/// The events a request names, checked, in `EVENTS`' order without repeats.
fn events(asked: Option<Vec<String>>) -> Result<String> {
    let asked = asked.unwrap_or_else(|| EVENTS.iter().map(|e| (*e).to_owned()).collect());
    if asked.is_empty() {
        return Err(Error::invalid(
            "events: name at least one (or DELETE the webhook)",
        ));
    }
    if let Some(bad) = asked.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(Error::invalid(format!(
            "events: {bad:?} is not one of {}",
            EVENTS.join(", ")
        )));
    }
    let chosen: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| asked.iter().any(|x| x == e))
        .collect();
    Ok(chosen.join(","))
}

fn secret(given: Option<String>) -> Result<String> {
    match given {
        Some(s) if !(16..=200).contains(&s.chars().count()) => {
            Err(Error::invalid("secret: 16 to 200 characters"))
        }
        Some(s) if s.chars().any(char::is_control) => {
            Err(Error::invalid("secret: no control characters"))
        }
        Some(s) => Ok(s),
        None => Ok(random_b64(32)),
    }
}

/// Sets (or replaces) the webhook of service `id`; its delivery record starts again.
pub async fn put(state: &AppState, caller: &Caller, id: i64, body: Input) -> Result<Webhook> {
    let (service, _) = visible_service(state, caller, id).await?;
    let url = body.url.trim();
    if url.len() > 2000 {
        return Err(Error::invalid("url: at most 2000 characters"));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|e| Error::invalid(format!("url: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid("url: must start with https:// (or http://)"));
    }
    state
        .outbound
        .resolve(&parsed)
        .await
        .map_err(|e| Error::invalid(format!("url: {e}")))?;
    let secret = secret(body.secret)?;
    let events = events(body.events)?;
    let mut tx = state.db.pool().begin().await?;
    webhooks::put(&mut *tx, service.id, parsed.as_str(), &secret, &events).await?;
    commit_audited(
        tx,
        caller,
        "webhook.set",
        &format!(
            "service {} webhook to {}",
            service.id,
            parsed.host_str().unwrap_or("")
        ),
    )
    .await?;
    webhooks::get(&state.db, service.id)
        .await?
        .ok_or(Error::NotFound("webhook"))
}

/// Removes the webhook of service `id`.
pub async fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let (service, _) = visible_service(state, caller, id).await?;
    let mut tx = state.db.pool().begin().await?;
    if !webhooks::delete(&mut *tx, service.id).await? {
        return Err(Error::NotFound("webhook"));
    }
    commit_audited(
        tx,
        caller,
        "webhook.delete",
        &format!("service {} webhook", service.id),
    )
    .await?;
    Ok(())
}

/// Sends a `test` event now (one attempt, no retries), records how it went and says so.
pub async fn test(state: &AppState, caller: &Caller, id: i64) -> Result<TestOutcome> {
    let (service, _) = visible_service(state, caller, id).await?;
    let hook = webhooks::get(&state.db, service.id)
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    let delivery = token("whd");
    let body = json!({
        "id": delivery,
        "event": "test",
        "at": now(),
        "service": { "id": service.id, "slug": service.slug, "name": service.name, "kind": service.kind },
        "data": { "message": "A test from Tidecast: this webhook works." },
    })
    .to_string();
    let result = deliver::attempt(
        &state.outbound,
        &hook.url,
        &hook.secret,
        "test",
        &delivery,
        body.as_bytes(),
    )
    .await;
    let (status, error) = match result {
        Ok(()) => ("delivered", None),
        Err(e) => ("failed", Some(e)),
    };
    webhooks::record(&state.db, service.id, "test", status, error.as_deref()).await?;
    Ok(TestOutcome {
        delivered: error.is_none(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_known_ordered_and_unique() {
        let all = events(None).expect("all events");
        assert_eq!(all, EVENTS.join(","));
        let two = events(Some(vec![
            EVENTS[1].to_owned(),
            EVENTS[0].to_owned(),
            EVENTS[1].to_owned(),
        ]))
        .expect("two events");
        assert_eq!(two, format!("{},{}", EVENTS[0], EVENTS[1]));
        assert!(events(Some(vec![])).is_err());
        let e = events(Some(vec!["sunrise".into()])).expect_err("an unknown event");
        assert!(e.to_string().contains("\"sunrise\" is not one of"), "{e}");
    }

    #[test]
    fn secrets() {
        assert!(secret(Some("short".into())).is_err());
        assert!(secret(Some(format!("{}\u{7}", "x".repeat(20)))).is_err());
        assert_eq!(secret(Some("x".repeat(16))).ok(), Some("x".repeat(16)));
        assert!(secret(None).is_ok_and(|s| s.len() >= 16));
    }
}
