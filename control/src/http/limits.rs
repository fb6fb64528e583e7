//! The API's one queue in front of the database, taken only once a request's body is in.
//!
//! Every `/api/v1` request (uploads excepted: they stream for minutes outside it) first has
//! its body read, bounded by [`MAX_JSON_BYTES`] and [`BODY_TIMEOUT`], and only then waits
//! for one of [`ApiQueue`]'s permits, first come first served. The permit is held while the
//! handler runs and freed with its answer.
//!
//! Invariant: a client that never sends its body holds no permit; it holds only its own
//! connection (under the connection caps) until the body deadline answers 408. A
//! per-route queue (what `ConcurrencyLimitLayer` on a `Router` gives) would also let four
//! stalled logins block every login; one queue for the whole API serves everyone in turn.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tokio::sync::Semaphore;

use crate::api::error::ApiError;
use crate::api::extract::{MAX_JSON_BYTES, too_large};

/// How long a client has to send a whole API request body once its head is in. A 256 KB
/// body at 64 kbit/s takes 32 s; API bodies are a few hundred bytes.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The permits of the queue in front of the database; cloned into every API route.
#[derive(Debug, Clone)]
pub struct ApiQueue(Arc<Semaphore>);

impl ApiQueue {
    pub fn new(permits: usize) -> Self {
        Self(Arc::new(Semaphore::new(permits)))
    }
}

/// Middleware: reads the body (bounded in size and time), then queues, then runs the
/// handler.
pub async fn after_body(State(queue): State<ApiQueue>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_JSON_BYTES).collect());
    let bytes = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large().into_response(),
        Ok(Err(e)) => {
            return ApiError::bad_request("bad_body", format!("cannot read the request body: {e}"))
                .into_response();
        }
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request body did not arrive within {BODY_TIMEOUT:?}"),
            )
            .into_response();
        }
    };
    // The semaphore is never closed, so acquiring only fails if it were; then run unqueued
    // rather than refuse.
    let _permit = queue.0.acquire().await.ok();
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
