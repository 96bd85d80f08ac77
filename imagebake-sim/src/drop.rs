//! A response that closes the connection without an HTTP answer, for the
//! `DropBefore`/`DropAfter` faults of every simulator.
//!
//! hyper writes nothing and closes the connection when a response body
//! fails before its first byte, so the client gets no status line: reqwest
//! returns an error with `is_request() == true` and `status() == None`
//! (source "client error (SendRequest)": the connection closed before the
//! response) — as when a peer resets the connection mid-request.

use axum::body::{Body, Bytes};
use axum::response::Response;

/// A response whose body fails at once: the connection is closed and the
/// client receives no status line.
pub fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the simulator"))
    });
    Response::new(Body::from_stream(failing))
}

/// What an injected fault does before the operation runs: `Some(answer)`
/// ends the request (`status` gives the service's error for a
/// `Fault::Status`, `throttled` its throttling answer); a `Slow` fault waits
/// here.
#[cfg_attr(not(feature = "triton"), allow(dead_code))]
pub(crate) async fn fault_before(
    fault: Option<&crate::Fault>,
    status: impl FnOnce(u16) -> Response,
    throttled: impl FnOnce() -> Response,
) -> Option<Response> {
    use crate::Fault;
    match fault? {
        Fault::Status(s) => Some(status(*s)),
        Fault::Throttle => Some(throttled()),
        Fault::DropBefore => Some(dropped_connection()),
        Fault::Slow(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        Fault::FailResource | Fault::DropAfter | Fault::LateAnswer(_) => None,
    }
}

/// What an injected fault does after the operation ran (a late answer, a
/// dropped connection), and HEAD answers without a body.
#[cfg_attr(not(feature = "triton"), allow(dead_code))]
pub(crate) async fn fault_after(
    fault: Option<&crate::Fault>,
    method: &axum::http::Method,
    response: Response,
) -> Response {
    use crate::Fault;
    match fault {
        Some(Fault::LateAnswer(d)) => tokio::time::sleep(*d).await,
        Some(Fault::DropAfter) => return dropped_connection(),
        _ => {}
    }
    if method == axum::http::Method::HEAD {
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    response
}
