use std::borrow::Cow;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::types::{Image, Permissions, PermissionsChange};

use super::api;
use crate::{Error, Step, StepCx};

/// The plugin's StepUpdateOMIAttributes, fixed: `UpdateImage` launch
/// permissions for `omi_account_ids` (and everyone with
/// `global_permission`), then `UpdateSnapshot` create-volume permissions on
/// the OMI's snapshots for `snapshot_account_ids` — actually sent, unlike
/// the plugin — together with `omi_account_ids` (which the plugin gave the
/// snapshot). The snapshot is public only with `snapshot_groups = ["all"]`
/// ([`UpdatePermissions::public_snapshot`]), never through
/// `global_permission`.
#[derive(Debug, Clone)]
pub struct UpdatePermissions {
    client: Client,
    omi_account_ids: Vec<String>,
    snapshot_account_ids: Vec<String>,
    global: bool,
    public_snapshot: bool,
}

impl UpdatePermissions {
    /// These permissions.
    pub fn new(
        client: Client,
        omi_account_ids: Vec<String>,
        snapshot_account_ids: Vec<String>,
        global: bool,
    ) -> Self {
        Self {
            client,
            omi_account_ids,
            snapshot_account_ids,
            global,
            public_snapshot: false,
        }
    }

    /// Also lets every account create volumes from the snapshots
    /// (`snapshot_groups = ["all"]`).
    pub fn public_snapshot(mut self, public: bool) -> Self {
        self.public_snapshot = public;
        self
    }
}

#[async_trait]
impl Step<Image> for UpdatePermissions {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("omi permissions")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<Image, Error> {
        if !self.omi_account_ids.is_empty() || self.global {
            let mut p = Permissions::accounts(self.omi_account_ids.iter().cloned());
            if self.global {
                p.global_permission = Some(true);
            }
            cx.cancellable(
                self.client
                    .images()
                    .update_launch_permissions(&image.image_id, PermissionsChange::add(p)),
            )
            .await?
            .map_err(|e| api(format!("UpdateImage {}", image.image_id), e))?;
        }
        let mut accounts = self.snapshot_account_ids.clone();
        for a in &self.omi_account_ids {
            if !accounts.contains(a) {
                accounts.push(a.clone());
            }
        }
        if !accounts.is_empty() || self.public_snapshot {
            for s in image.snapshot_ids() {
                let mut p = Permissions::accounts(accounts.iter().cloned());
                if self.public_snapshot {
                    p.global_permission = Some(true);
                }
                let change = PermissionsChange::add(p);
                cx.cancellable(self.client.snapshots().update_permissions(s, change))
                    .await?
                    .map_err(|e| api(format!("UpdateSnapshot {s}"), e))?;
            }
        }
        Ok(image)
    }
}
