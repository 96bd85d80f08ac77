//! Removing an instance and its boot disk: the undos [`CreateInstance`]
//! registers, also used by the sweep.
//!
//! [`CreateInstance`]: super::CreateInstance

use std::time::Duration;

use imagebake_http::{Poll, WaitOptions};
use oxide_client::{DiskState, InstanceState};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{OxideApi, api, delete, found};
use crate::Error;
use crate::engine::wait;

/// Stops the instance (whatever its state: Oxide deletes only `stopped` or
/// `failed` instances), waits until it is stopped, then deletes it. Gone
/// already counts as done. Everything within `timeout`, until `cancel`.
pub(crate) async fn remove_instance(
    a: &OxideApi,
    id: Uuid,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let c = &a.undo_client();
    let opts = WaitOptions::new(timeout, a.waits.poll_cap).cancel_on(cancel.clone());
    let exists = wait(
        format!("instance {id} to stop"),
        &opts,
        |_, _| {},
        || async {
            let Some(i) = found(c.instance_view(id, None).await)? else {
                return Ok(Poll::Done(false));
            };
            Ok::<_, oxide_client::Error>(match i.run_state {
                InstanceState::Stopped | InstanceState::Failed => Poll::Done(true),
                InstanceState::Destroyed => Poll::Done(false),
                InstanceState::Running
                | InstanceState::Starting
                | InstanceState::Rebooting
                | InstanceState::Migrating
                | InstanceState::Repairing => {
                    match found(c.instance_stop(id, None).await) {
                        Ok(Some(_)) => {}
                        Ok(None) => return Ok(Poll::Done(false)),
                        // Raced with a state change; the next look decides.
                        Err(e) if e.status() == Some(400) => {}
                        Err(e) => return Err(e),
                    }
                    Poll::Pending(i.run_state.as_str().to_owned())
                }
                s => Poll::Pending(s.as_str().to_owned()),
            })
        },
    )
    .await?;
    if exists {
        delete(c.instance_delete(id, None))
            .await
            .map_err(|e| api(format!("deleting instance {id}"), e))?;
    }
    Ok(())
}

/// Waits until the disk is detached (an instance delete detaches it), then
/// deletes it; gone already counts as done. A disk still attached to an
/// instance (whose delete failed) is an error at once.
pub(crate) async fn remove_disk(
    a: &OxideApi,
    id: Uuid,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let c = &a.undo_client();
    let opts = WaitOptions::new(timeout, a.waits.poll_cap).cancel_on(cancel.clone());
    let exists = wait(
        format!("disk {id} to be detached"),
        &opts,
        |_, _| {},
        || async {
            let Some(d) = found(c.disk_view(id, None).await)? else {
                return Ok(Poll::Done(false));
            };
            Ok::<_, oxide_client::Error>(match d.state {
                DiskState::Detached | DiskState::Faulted => Poll::Done(true),
                DiskState::Destroyed => Poll::Done(false),
                DiskState::Attached { instance } => {
                    Poll::Failed(format!("attached to instance {instance}"))
                }
                s => Poll::Pending(s.name().to_owned()),
            })
        },
    )
    .await?;
    if exists {
        delete(c.disk_delete(id, None))
            .await
            .map_err(|e| api(format!("deleting disk {id}"), e))?;
    }
    Ok(())
}
