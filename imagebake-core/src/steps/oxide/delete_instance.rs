//! Removing an instance and its boot disk: the undos [`CreateInstance`]
//! registers, also used by the sweep; and the removal of any other Oxide
//! resource by a single delete ([`remove_by_delete`]).
//!
//! Each removal is a wait until the resource is gone, bounded by the undo's
//! time limit, not by an attempt count: a look or a delete that fails
//! transiently (throttled, 503, a lost answer) is "not yet", tried again at
//! the next look. The wait is the one retry loop: its calls are sent once
//! each ([`removal_client`]). (A run of faults longer than the client's
//! attempts used to end the undo at once and leak the resource: the chaos
//! load test's detached boot disk of a deleted instance.)
//!
//! [`CreateInstance`]: super::CreateInstance

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use imagebake_http::{ErrorMeta, Idempotency, Poll, RetryPolicy, WaitOptions};
use oxide_client::{DiskState, InstanceState};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{OxideApi, found};
use crate::engine::wait;
use crate::{Error, Removal};

/// A look's result with a transient failure (throttled, 503, lost answer
/// of a repeatable request, connection refused) turned into "not yet".
fn transient<T>(r: Result<Poll<T>, oxide_client::Error>) -> Result<Poll<T>, oxide_client::Error> {
    match r {
        Err(e)
            if e.failure()
                .is_some_and(|f| f.verdict(Idempotency::Idempotent).is_retry()) =>
        {
            Ok(Poll::Pending(format!("transient error: {e}")))
        }
        r => r,
    }
}

/// The client of a removal's looks and deletes: each call sent once, the
/// removal's wait retrying.
fn removal_client(a: &OxideApi) -> oxide_client::Client {
    a.client.with_retry(RetryPolicy::never())
}

/// The wait options of a removal within `timeout`, until `cancel`.
fn options(a: &OxideApi, timeout: Duration, cancel: &CancellationToken) -> WaitOptions {
    WaitOptions::new(timeout, a.waits.poll_cap).cancel_on(cancel.clone())
}

/// Deletes with `call` (given the client to send it with) until it has worked or the resource is gone (404),
/// within `timeout`, until `cancel`: a transient failure is tried again.
/// `what` names the resource (`snapshot 1234…`).
pub(crate) async fn remove_by_delete<F, Fut>(
    a: &OxideApi,
    what: &str,
    timeout: Duration,
    cancel: &CancellationToken,
    call: F,
) -> Result<Removal, Error>
where
    F: Fn(oxide_client::Client) -> Fut,
    Fut: Future<Output = Result<(), oxide_client::Error>>,
{
    let c = removal_client(a);
    wait(
        format!("{what} to be deleted"),
        &options(a, timeout, cancel),
        |_, _| {},
        || async {
            transient(found(call(c.clone()).await).map(|r| {
                Poll::Done(match r {
                    Some(()) => Removal::Removed,
                    None => Removal::AlreadyGone,
                })
            }))
        },
    )
    .await
}

/// Stops the instance (whatever its state: Oxide deletes only `stopped` or
/// `failed` instances), waits until it is stopped, then deletes it. Gone
/// already counts as done. Everything within `timeout`, until `cancel`.
pub(crate) async fn remove_instance(
    a: &OxideApi,
    id: Uuid,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Removal, Error> {
    let c = &removal_client(a);
    let seen = &AtomicBool::new(false);
    wait(
        format!("instance {id} to be stopped and deleted"),
        &options(a, timeout, cancel),
        |_, _| {},
        || {
            let look = async {
                let Some(i) = found(c.instance_view(id, None).await)? else {
                    return Ok(Poll::Done(()));
                };
                seen.store(true, Ordering::Relaxed);
                Ok::<_, oxide_client::Error>(match i.run_state {
                    InstanceState::Stopped | InstanceState::Failed => {
                        match found(c.instance_delete(id, None).await) {
                            Ok(_) => Poll::Done(()),
                            // Raced with a state change; the next look decides.
                            Err(e) if e.status() == Some(400) => {
                                Poll::Pending(i.run_state.as_str().to_owned())
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    InstanceState::Destroyed => Poll::Done(()),
                    InstanceState::Running
                    | InstanceState::Starting
                    | InstanceState::Rebooting
                    | InstanceState::Migrating
                    | InstanceState::Repairing => {
                        match found(c.instance_stop(id, None).await) {
                            Ok(Some(_)) => {}
                            Ok(None) => return Ok(Poll::Done(())),
                            // Raced with a state change; the next look decides.
                            Err(e) if e.status() == Some(400) => {}
                            Err(e) => return Err(e),
                        }
                        Poll::Pending(i.run_state.as_str().to_owned())
                    }
                    s => Poll::Pending(s.as_str().to_owned()),
                })
            };
            async { transient(look.await) }
        },
    )
    .await?;
    Ok(if seen.load(Ordering::Relaxed) {
        Removal::Removed
    } else {
        Removal::AlreadyGone
    })
}

/// Waits until the disk is detached (an instance delete detaches it), then
/// deletes it; gone already counts as done. A disk still attached to an
/// instance (whose delete failed) is an error at once.
pub(crate) async fn remove_disk(
    a: &OxideApi,
    id: Uuid,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Removal, Error> {
    let c = &removal_client(a);
    let seen = &AtomicBool::new(false);
    wait(
        format!("disk {id} to be detached and deleted"),
        &options(a, timeout, cancel),
        |_, _| {},
        || {
            let look = async {
                let Some(d) = found(c.disk_view(id, None).await)? else {
                    return Ok(Poll::Done(()));
                };
                seen.store(true, Ordering::Relaxed);
                Ok::<_, oxide_client::Error>(match d.state {
                    DiskState::Detached | DiskState::Faulted => {
                        match found(c.disk_delete(id, None).await) {
                            Ok(_) => Poll::Done(()),
                            // Raced with a state change; the next look decides.
                            Err(e) if e.status() == Some(400) => {
                                Poll::Pending(d.state.name().to_owned())
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    DiskState::Destroyed => Poll::Done(()),
                    DiskState::Attached { instance } => {
                        Poll::Failed(format!("attached to instance {instance}"))
                    }
                    s => Poll::Pending(s.name().to_owned()),
                })
            };
            async { transient(look.await) }
        },
    )
    .await?;
    Ok(if seen.load(Ordering::Relaxed) {
        Removal::Removed
    } else {
        Removal::AlreadyGone
    })
}
