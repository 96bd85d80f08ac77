//! The metadata service a VM sees (`GET {base}/latest/meta-data/<key>`, plain
//! HTTP, no token). The base URL is configurable so tests point it at a local
//! simulator instead of the link-local address.

use std::time::Duration;

use crate::error::{ApiError, ConfigError, Error, Result};

/// The real service's base URL.
pub const DEFAULT_METADATA_URL: &str = "http://169.254.169.254";

/// A metadata-service client.
#[derive(Debug, Clone)]
pub struct MetadataClient {
    http: reqwest::Client,
    base: String,
}

impl MetadataClient {
    /// A client for `base` (e.g. [`DEFAULT_METADATA_URL`]).
    pub fn new(base: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(ConfigError::Http)?;
        Ok(Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
        })
    }

    /// The value of `key` (`instance-id`, `placement/availability-zone`, ...).
    pub async fn get(&self, key: &str) -> Result<String> {
        const ACTION: &str = "meta-data";
        let url = format!(
            "{}/latest/meta-data/{}",
            self.base,
            key.trim_start_matches('/')
        );
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| Error::Transport {
                action: ACTION,
                source,
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|source| Error::Transport {
            action: ACTION,
            source,
        })?;
        if !status.is_success() {
            return Err(Error::Api(Box::new(ApiError::from_body(
                ACTION,
                status.as_u16(),
                text.as_bytes(),
            ))));
        }
        Ok(text.trim().to_owned())
    }

    /// `instance-id`: the VM this code runs on.
    pub async fn instance_id(&self) -> Result<String> {
        self.get("instance-id").await
    }

    /// `placement/availability-zone`: the subregion, e.g. `eu-west-2a`.
    pub async fn availability_zone(&self) -> Result<String> {
        self.get("placement/availability-zone").await
    }

    /// The region: the availability zone minus its last character.
    pub async fn region(&self) -> Result<String> {
        let az = self.availability_zone().await?;
        let mut chars = az.chars();
        chars.next_back();
        let region = chars.as_str();
        if region.is_empty() {
            return Err(Error::Unexpected {
                action: "meta-data",
                what: format!("availability zone {az:?} names no region"),
            });
        }
        Ok(region.to_owned())
    }
}
