//! The client and its one send path.

use std::sync::Arc;
use std::time::SystemTime;

use futures::Stream;
use imagebake_http::{Idempotency, Page, RetryPolicy, paginate, retry_request};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::api::{Accounts, Images, Paged, Snapshots, Tags, Vms, Volumes};
use crate::config::Config;
use crate::error::{ApiError, ConfigError, Error, Result};
use crate::sign::{self, SigningInput};

/// A cheap-to-clone Outscale API client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: Config,
    /// `{endpoint}/api/v1/` without the action.
    base: String,
    /// The `Host` header reqwest will send (port included when not the default).
    host: String,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: Config) -> Result<Self> {
        imagebake_http::warn_if_tls_unverified(
            config.tls_skip_verify,
            "outscale",
            config.endpoint.as_str(),
        );
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(config.tls_skip_verify)
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("imagebake-osc-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::Http)?;
        let base = format!("{}/api/v1/", config.endpoint.as_str().trim_end_matches('/'));
        let host = host_header(&config.endpoint);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                base,
                host,
            }),
        })
    }

    /// A client configured from `OSC_*` variables and `~/.osc/config.json`.
    pub fn from_env() -> Result<Self> {
        Self::new(Config::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// VMs (`ReadVms`).
    pub fn vms(&self) -> Vms {
        Vms::new(self.clone())
    }

    /// The caller's account (`ReadAccounts`).
    pub fn accounts(&self) -> Accounts {
        Accounts::new(self.clone())
    }

    /// Machine images (`ReadImages`, `CreateImage`, `UpdateImage`, `DeleteImage`).
    pub fn images(&self) -> Images {
        Images::new(self.clone())
    }

    /// Volumes (`CreateVolume`, `ReadVolumes`, `LinkVolume`, `UnlinkVolume`, `DeleteVolume`).
    pub fn volumes(&self) -> Volumes {
        Volumes::new(self.clone())
    }

    /// Snapshots (`CreateSnapshot`, `ReadSnapshots`, `UpdateSnapshot`, `DeleteSnapshot`).
    pub fn snapshots(&self) -> Snapshots {
        Snapshots::new(self.clone())
    }

    /// Tags (`CreateTags`, `DeleteTags`).
    pub fn tags(&self) -> Tags {
        Tags::new(self.clone())
    }

    /// The same client with another retry policy (an undo may retry longer
    /// than a build step).
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        let mut config = self.inner.config.clone();
        config.retry = retry;
        Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                config,
                base: self.inner.base.clone(),
                host: self.inner.host.clone(),
            }),
        }
    }

    /// Sends `action` with body `req`, retrying (each attempt signed afresh)
    /// what [`imagebake_http::classify`] allows for the action's
    /// [`idempotency`], and decodes the answer.
    pub(crate) async fn call<Req, Resp>(&self, action: &'static str, req: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|source| Error::Encode { action, source })?;
        retry_request(&self.inner.config.retry, idempotency(action), |attempt| {
            self.send_once(action, &body, attempt)
        })
        .await
    }

    async fn send_once<Resp: DeserializeOwned>(
        &self,
        action: &'static str,
        body: &[u8],
        attempt: u32,
    ) -> Result<Resp> {
        let inner = &self.inner;
        let url = Url::parse(&format!("{}{action}", inner.base)).map_err(|source| {
            Error::Config(ConfigError::Endpoint {
                endpoint: inner.base.clone(),
                source,
            })
        })?;
        let timestamp = sign::timestamp(SystemTime::now());
        let signed = sign::sign(
            inner.config.signature,
            &SigningInput {
                access_key: &inner.config.access_key,
                secret_key: inner.config.secret_key.expose(),
                region: &inner.config.region,
                host: &inner.host,
                path: url.path(),
                body,
                timestamp: &timestamp,
            },
        );
        tracing::debug!(action, attempt, "osc request");
        let response = inner
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, sign::CONTENT_TYPE)
            .header(reqwest::header::AUTHORIZATION, signed.authorization)
            .header(signed.date_header, signed.date)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|source| Error::Transport { action, source })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| Error::Transport { action, source })?;
        tracing::debug!(action, attempt, status = status.as_u16(), "osc response");
        if !status.is_success() {
            return Err(Error::Api(Box::new(ApiError::from_body(
                action,
                status.as_u16(),
                &bytes,
            ))));
        }
        decode(action, &bytes)
    }

    /// Streams every item of a paged Read call.
    pub(crate) fn stream<Req, Resp, T>(
        &self,
        action: &'static str,
        req: Req,
        items: fn(Resp) -> (Vec<T>, Option<String>),
    ) -> impl Stream<Item = Result<T>> + Send + 'static
    where
        Req: Paged + Serialize + Clone + Send + Sync + 'static,
        Resp: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let client = self.clone();
        let per_page = self.inner.config.page_size;
        paginate(move |cursor: Option<String>| {
            let client = client.clone();
            let mut req = req.clone();
            req.set_page(cursor, per_page);
            async move {
                let resp: Resp = client.call(action, &req).await?;
                let (items, next) = items(resp);
                Ok(Page {
                    items,
                    next: next.filter(|t| !t.is_empty()),
                })
            }
        })
    }
}

/// How safe an OAPI action is to send again: reads, deletes, tag changes
/// and the creates this client sends with a `ClientToken` (`CreateVolume`,
/// `CreateSnapshot`) are idempotent, and so is `UnlinkVolume` (sent again
/// after a lost answer, it answers 9063 "not linked", which callers take as
/// done); `CreateImage` has no token and may make a second image; the other
/// actions are refused rather than repeated.
pub fn idempotency(action: &str) -> Idempotency {
    match action {
        "CreateVolume" | "CreateSnapshot" | "CreateTags" | "DeleteTags" | "UnlinkVolume" => {
            Idempotency::Idempotent
        }
        "CreateImage" => Idempotency::Create,
        a if a.starts_with("Read") || a.starts_with("Delete") => Idempotency::Idempotent,
        _ => Idempotency::Action,
    }
}

/// The `Host` header hyper sends for `url`: host, plus `:port` when the port
/// is not the scheme's default (the URL parser drops default ports).
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// Decodes a successful answer's body (an empty body is `{}`).
pub(crate) fn decode<T: DeserializeOwned>(action: &'static str, bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { bytes };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|source| Error::Decode { action, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_keeps_explicit_ports_only() {
        let h = |s: &str| host_header(&Url::parse(s).expect("url"));
        assert_eq!(h("http://127.0.0.1:3000"), "127.0.0.1:3000");
        assert_eq!(
            h("https://api.eu-west-2.outscale.com"),
            "api.eu-west-2.outscale.com"
        );
        assert_eq!(
            h("https://api.eu-west-2.outscale.com:443"),
            "api.eu-west-2.outscale.com"
        );
        assert_eq!(h("https://example.com:8443/x"), "example.com:8443");
    }
}
