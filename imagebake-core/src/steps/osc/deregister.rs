use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;

use super::{HostVm, api, own_images_named};
use crate::{Error, OutputStream, Step, StepCx};

/// `force_deregister`: deletes the OMIs of our own account (never another
/// account's, unlike the plugin) named like the new one, and with
/// `force_delete_snapshot` their snapshots.
#[derive(Debug, Clone)]
pub struct Deregister {
    client: Client,
    name: String,
    delete_snapshots: bool,
}

impl Deregister {
    /// Deregisters our OMIs named `name`.
    pub fn new(client: Client, name: impl Into<String>, delete_snapshots: bool) -> Self {
        Self {
            client,
            name: name.into(),
            delete_snapshots,
        }
    }
}

#[async_trait]
impl Step<HostVm> for Deregister {
    type Out = HostVm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("deregister omi")
    }

    async fn run(&self, cx: &StepCx, host: HostVm) -> Result<HostVm, Error> {
        let images =
            own_images_named(cx, &self.client, &self.name, &host.account_id, "deregister").await?;
        for i in &images {
            cx.check_cancelled()?;
            self.client
                .images()
                .delete(&i.image_id)
                .await
                .map_err(|e| api(format!("DeleteImage {}", i.image_id), e))?;
            cx.output_line(
                OutputStream::Stdout,
                &format!("deregistered {} ({})", i.image_id, self.name),
            );
            if self.delete_snapshots {
                for s in i.snapshot_ids() {
                    self.client
                        .snapshots()
                        .delete(s)
                        .await
                        .map_err(|e| api(format!("DeleteSnapshot {s}"), e))?;
                    cx.output_line(OutputStream::Stdout, &format!("deleted snapshot {s}"));
                }
            }
        }
        Ok(host)
    }
}
