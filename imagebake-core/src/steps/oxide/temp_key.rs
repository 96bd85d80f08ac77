use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{NameOrId, SshKeyCreate};
use uuid::Uuid;

use super::{OxideApi, api, create_or_adopt, delete, description, found, made_by};
use crate::comm::ssh::TemporaryKey;
use crate::{Error, Resource, Step, StepCx, UndoHandle};

/// The build's temporary key, uploaded to the current user's SSH keys.
#[derive(Debug, Clone)]
pub struct TemporaryKeyHandle {
    /// The key's id in Oxide (sent in the instance's `ssh_public_keys`).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The key pair, to log in with.
    pub key: TemporaryKey,
    /// The undo that deletes it.
    pub undo: UndoHandle,
}

/// Generates an ed25519 key pair in memory and uploads its public half with
/// `current_user_ssh_key_create`, named `temporary_key_pair_name` (default:
/// the build id) with the build id in its description. Its delete is
/// registered at once and runs at the end of every build.
#[derive(Debug, Clone)]
pub struct CreateTemporaryKey {
    api: OxideApi,
    name: Option<String>,
}

impl CreateTemporaryKey {
    /// Uploads a key named `name` (`None`: the build id).
    pub fn new(api: OxideApi, name: Option<String>) -> Self {
        Self { api, name }
    }
}

#[async_trait]
impl Step<()> for CreateTemporaryKey {
    type Out = TemporaryKeyHandle;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("temporary key")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<TemporaryKeyHandle, Error> {
        cx.check_cancelled()?;
        let build = cx.build_id().clone();
        let name = self.name.clone().unwrap_or_else(|| build.to_string());
        let key = TemporaryKey::generate(build.as_str())?;
        let public = key.public_openssh();
        let body = SshKeyCreate::new(name.clone(), public.clone()).description(description(&build));
        let c = &self.api.client;
        let created = create_or_adopt(
            || c.current_user_ssh_key_create(&body),
            || async {
                let k = found(
                    c.current_user_ssh_key_view(NameOrId::Name(name.clone()))
                        .await,
                )?;
                Ok(k.filter(|k| {
                    k.public_key.trim() == public.trim() && made_by(&k.description, &build)
                }))
            },
        )
        .await
        .map_err(|e| api(format!("uploading temporary SSH key {name}"), e))?;
        // Registered in the same poll that learned the id.
        let id = created.id;
        let a = self.api.clone();
        let undo = cx.defer(
            Resource::new("ssh key", id.to_string()).named(name.clone()),
            move |_| async move {
                delete(a.undo_client().current_user_ssh_key_delete(id))
                    .await
                    .map_err(|e| api(format!("deleting temporary SSH key {id}"), e))
            },
        );
        tracing::info!(key = %id, %name, fingerprint = %key.fingerprint(), "temporary SSH key uploaded");
        Ok(TemporaryKeyHandle {
            id,
            name,
            key,
            undo,
        })
    }
}
