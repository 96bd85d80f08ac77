use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::{FiltersImage, most_recent};
use osc_client::types::Image;

use super::api;
use crate::{Error, Step, StepCx};

/// Which OMI the build starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OmiSource {
    /// `source_omi`: an image id.
    Id(String),
    /// `source_omi_filter`.
    Filter {
        /// Filter keys (`image-name`, `account-id`, …) and values.
        filters: BTreeMap<String, String>,
        /// Owners: all-digit values are account ids, others aliases.
        owners: Vec<String>,
        /// Take the newest of several matches (else several is an error).
        most_recent: bool,
    },
}

/// Maps the plugin's filter keys (build_filters.go) onto `FiltersImage`;
/// an unknown key is an error (the plugin only logged it).
pub(crate) fn image_filters(filters: &BTreeMap<String, String>) -> Result<FiltersImage, Error> {
    let mut f = FiltersImage::default();
    for (k, v) in filters {
        let v = v.clone();
        match k.as_str() {
            "account-alias" => f.account_aliases.push(v),
            "account-id" => f.account_ids.push(v),
            "architecture" => f.architectures.push(v),
            "image-id" => f.image_ids.push(v),
            "image-name" | "name" => f.image_names.push(v),
            "virtualization-type" => f.virtualization_types.push(v),
            "root-device-type" => f.root_device_types.push(v),
            "state" => f.states.push(v),
            other => {
                return Err(Error::Config(format!(
                    "source_omi_filter: unknown filter `{other}` (known: account-alias, \
                     account-id, architecture, image-id, image-name, virtualization-type, \
                     root-device-type, state)"
                )));
            }
        }
    }
    Ok(f)
}

/// The plugin's StepSourceOMIInfo: `ReadImages` by id, or with the filter
/// and owners (the newest by `CreationDate` with `most_recent`; several
/// matches without it are an error).
#[derive(Debug, Clone)]
pub struct SourceOmi {
    client: Client,
    source: OmiSource,
}

impl SourceOmi {
    /// Looks up `source`.
    pub fn new(client: Client, source: OmiSource) -> Self {
        Self { client, source }
    }
}

#[async_trait]
impl Step<()> for SourceOmi {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("source omi")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<Image, Error> {
        let (filters, most, label) = match &self.source {
            OmiSource::Id(id) => (FiltersImage::ids([id.clone()]), false, id.clone()),
            OmiSource::Filter {
                filters,
                owners,
                most_recent,
            } => (
                image_filters(filters)?.owners(owners.iter().cloned()),
                *most_recent,
                format!("filter {filters:?} owners {owners:?}"),
            ),
        };
        let images = cx
            .cancellable(self.client.images().read(filters))
            .await?
            .map_err(|e| api("ReadImages (source OMI)", e))?;
        let image = match images.len() {
            0 => None,
            1 => images.first(),
            _ if most => most_recent(&images),
            n => {
                return Err(Error::Config(format!(
                    "source OMI {label}: {n} images match; set most_recent or narrow the filter"
                )));
            }
        };
        let image = image
            .cloned()
            .ok_or_else(|| Error::Config(format!("source OMI {label}: no image found")))?;
        if image.root_mapping().and_then(|m| m.bsu.as_ref()).is_none() {
            return Err(Error::Config(format!(
                "source OMI {}: no BSU mapping for its root device {:?}",
                image.image_id, image.root_device_name
            )));
        }
        Ok(image)
    }
}
