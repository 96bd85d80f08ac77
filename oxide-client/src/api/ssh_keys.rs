use futures::Stream;
use reqwest::Method;

use crate::client::{Client, Request};
use crate::error::Result;
use crate::names::validate_name;
use crate::types::{ListOptions, NameOrId, SshKey, SshKeyCreate};

impl Client {
    /// `current_user_ssh_key_create`: `POST /v1/me/ssh-keys`.
    pub async fn current_user_ssh_key_create(&self, body: &SshKeyCreate) -> Result<SshKey> {
        validate_name("name", &body.name)?;
        let req = Request::new(
            "current_user_ssh_key_create",
            Method::POST,
            "/v1/me/ssh-keys",
        )
        .create()
        .json(body)?;
        self.json(&req).await
    }

    /// `current_user_ssh_key_view`: `GET /v1/me/ssh-keys/{ssh_key}`.
    pub async fn current_user_ssh_key_view(&self, key: impl Into<NameOrId>) -> Result<SshKey> {
        let key = key.into();
        key.validate("ssh_key")?;
        let req = Request::new(
            "current_user_ssh_key_view",
            Method::GET,
            format!("/v1/me/ssh-keys/{key}"),
        );
        self.json(&req).await
    }

    /// `current_user_ssh_key_list`: `GET /v1/me/ssh-keys`.
    pub fn current_user_ssh_key_list(
        &self,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<SshKey>> + Send + 'static {
        let first = Request::new("current_user_ssh_key_list", Method::GET, "/v1/me/ssh-keys");
        self.list_checked(Ok(first), opts)
    }

    /// `current_user_ssh_key_delete`: `DELETE /v1/me/ssh-keys/{ssh_key}`.
    pub async fn current_user_ssh_key_delete(&self, key: impl Into<NameOrId>) -> Result<()> {
        let key = key.into();
        key.validate("ssh_key")?;
        let req = Request::new(
            "current_user_ssh_key_delete",
            Method::DELETE,
            format!("/v1/me/ssh-keys/{key}"),
        );
        self.empty(&req).await
    }
}
