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
