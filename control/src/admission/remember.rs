//! Admission answers remembered for a database outage.
//!
//! While the database is away nothing about a service can change, so an encoder that drops
//! and reconnects, a source's title update and a new listener can be answered as they were
//! last answered. Publish credentials are remembered as a SHA-256 digest (never the secret
//! itself) with their grant, for an hour after they were last checked against the database,
//! so a key rotated away stops working once the hour is over even through an outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tidecast_engine::{Decision, PublishRequest};

/// How long after its last check a publish answer may stand in for the database.
const PUBLISH_TTL: Duration = Duration::from_secs(3600);
/// The most publish answers kept; past it the oldest half is forgotten.
const MAX_PUBLISH: usize = 10_000;

/// What the database last said to each set of publish credentials it allowed.
#[derive(Debug, Default)]
pub struct Remembered {
    publish: Mutex<HashMap<[u8; 32], (Decision, Instant)>>,
}

/// The credentials' digest; `None` for a relay (the control plane's own source).
fn digest(req: &PublishRequest) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    match req {
        PublishRequest::Rtmp {
            app, stream_key, ..
        } => {
            for part in ["rtmp", app, stream_key] {
                h.update(part.len().to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        PublishRequest::Icecast {
            mount,
            username,
            password,
            ..
        } => {
            for part in ["icecast", mount, username, password] {
                h.update(part.len().to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        PublishRequest::Relay { .. } => return None,
    }
    Some(h.finalize().into())
}

impl Remembered {
    /// Records what the database answered: an allow is remembered, anything else forgets.
    pub fn publish_checked(&self, req: &PublishRequest, decision: &Decision) {
        let (Some(key), Ok(mut map)) = (digest(req), self.publish.lock()) else {
            return;
        };
        if matches!(decision, Decision::Allow(_)) {
            if map.len() >= MAX_PUBLISH {
                let mut ages: Vec<Instant> = map.values().map(|(_, t)| *t).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, (_, t)| *t > cut);
            }
            map.insert(key, (decision.clone(), Instant::now()));
        } else {
            map.remove(&key);
        }
    }

    /// The answer the database gave these credentials within the last hour, if it allowed them.
    pub fn publish(&self, req: &PublishRequest) -> Option<Decision> {
        let key = digest(req)?;
        let map = self.publish.lock().ok()?;
        map.get(&key)
            .filter(|(_, at)| at.elapsed() < PUBLISH_TTL)
            .map(|(d, _)| d.clone())
    }
}

#[cfg(test)]
mod tests {
    use tidecast_engine::DenyReason;

    use super::*;

    fn rtmp(key: &str) -> PublishRequest {
        PublishRequest::Rtmp {
            app: "live".into(),
            stream_key: key.into(),
            remote: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn only_allowed_credentials_are_remembered_and_a_refusal_forgets() {
        let r = Remembered::default();
        let deny = Decision::deny(DenyReason::NotFound, "no");
        r.publish_checked(&rtmp("a"), &deny);
        assert_eq!(r.publish(&rtmp("a")), None);
        let allow = Decision::Allow(tidecast_engine::Grant {
            service_id: tidecast_engine::ServiceId(1),
            mount: "a".into(),
            limits: Default::default(),
            priority: 50,
            label: "source".into(),
            lifetime: None,
            fallback: None,
            hls: Default::default(),
            transcode: None,
            dvr: None,
            record_set: false,
        });
        r.publish_checked(&rtmp("a"), &allow);
        assert_eq!(r.publish(&rtmp("a")), Some(allow.clone()));
        assert_eq!(r.publish(&rtmp("b")), None, "other credentials are not");
        r.publish_checked(&rtmp("a"), &deny);
        assert_eq!(r.publish(&rtmp("a")), None);
    }
}
