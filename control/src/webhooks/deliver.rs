//! One webhook delivery: the signed POST, its attempts and back-off.
//!
//! The body is signed like Stripe's webhooks, so receivers can use the same code:
//! `X-Tidecast-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Including
//! the time lets a receiver refuse old replays. Redirects are not followed (a redirect could
//! lead to an address the policy refuses), every attempt checks the address again, and an
//! attempt that gets no answer within 10 s has failed.

use std::time::Duration;

use ring::hmac;

use crate::outbound::Policy;

/// Waits before each attempt: at once, then 5 s, 30 s, 2 min and 10 min later.
pub const BACKOFF: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `t=<unix>,v1=<hex>`: the signature header's value.
pub fn signature(secret: &str, unix: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(unix.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix},v1={hex}")
}

/// One attempt. `Ok` when the receiver answered 2xx; otherwise what went wrong, in words.
pub async fn attempt(
    policy: &Policy,
    url: &str,
    secret: &str,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let addrs = policy.resolve(&parsed).await.map_err(|e| e.to_string())?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .no_proxy()
        .resolve_to_addrs(&host, &addrs)
        .user_agent(concat!("Tidecast-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let now = crate::db::now();
    let resp = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("x-tidecast-event", event)
        .header("x-tidecast-delivery", delivery)
        .header("x-tidecast-signature", signature(secret, now, body))
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!(
            "answered HTTP {} (redirects are not followed)",
            status.as_u16()
        ))
    } else {
        Err(format!("answered HTTP {}", status.as_u16()))
    }
}

/// A failed request in a user's words, with the cause underneath.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let cause = causes.last().cloned().unwrap_or_else(|| e.to_string());
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        format!("request failed: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_time_dot_body() {
        // Checked against an independent computation (Python:
        // hmac.new(b"secret", b"1700000000.{}", hashlib.sha256).hexdigest()).
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
