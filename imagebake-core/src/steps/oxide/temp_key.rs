use std::borrow::Cow;

use async_trait::async_trait;
use oxide_client::{Client, NameOrId, SshKey, SshKeyCreate};
use uuid::Uuid;

use super::{OxideApi, api, create_or_adopt, description, found, made_by, remove_by_delete};
use crate::comm::ssh::TemporaryKey;
use crate::{BuildId, Cleanup, Create, Error, Resource, Step, StepCx, UndoHandle};

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
/// the build id) with the build id in its description. The key is the
/// build's from the moment the request is sent ([`StepCx::create`]: a
/// Ctrl-C before the answer looks it up by name and deletes it); its delete
/// runs at the end of every build.
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
        let (a, n, k, b) = (
            self.api.clone(),
            name.clone(),
            public.clone(),
            build.clone(),
        );
        let find = move || {
            let (a, n, k, b) = (a.clone(), n.clone(), k.clone(), b.clone());
            async move {
                find_key(&a, &n, &k, &b)
                    .await
                    .map_err(|e| api(format!("looking up temporary SSH key {n}"), e))
            }
        };
        let a = self.api.clone();
        let undo = move |k: &SshKey| {
            let (a, id) = (a.clone(), k.id);
            Cleanup::always(
                Resource::new("ssh key", id.to_string()).named(k.name.clone()),
                move |u| async move {
                    let what = format!("temporary SSH key {id}");
                    remove_by_delete(
                        &a,
                        &what,
                        u.timeout(),
                        u.token(),
                        move |c: Client| async move { c.current_user_ssh_key_delete(id).await },
                    )
                    .await
                    .map(drop)
                },
            )
        };
        let (a, n) = (self.api.clone(), name.clone());
        let send = async move {
            create_or_adopt(
                || a.client.current_user_ssh_key_create(&body),
                || find_key(&a, &n, &public, &build),
            )
            .await
            .map_err(|e| api(format!("uploading temporary SSH key {n}"), e))
        };
        let made = cx
            .create(Create::new("ssh key", Some(name.clone()), find, undo), send)
            .await?;
        let (id, undo) = (made.value.id, made.undo);
        tracing::info!(key = %id, %name, fingerprint = %key.fingerprint(), "temporary SSH key uploaded");
        Ok(TemporaryKeyHandle {
            id,
            name,
            key,
            undo,
        })
    }
}

/// This build's key named `name` with public half `public`, if there is one.
async fn find_key(
    a: &OxideApi,
    name: &str,
    public: &str,
    build: &BuildId,
) -> Result<Option<SshKey>, oxide_client::Error> {
    let k = found(
        a.client
            .current_user_ssh_key_view(NameOrId::Name(name.to_owned()))
            .await,
    )?;
    Ok(k.filter(|k| k.public_key.trim() == public.trim() && made_by(&k.description, build)))
}
