use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{FiltersImage, read_request, required};
use crate::api::Empty;
use crate::types::{BlockDeviceMapping, BootMode, Image, PermissionsChange};
use crate::{Client, Result};

read_request! {
    /// `ReadImagesRequest`.
    ReadImagesRequest, FiltersImage
}

/// `CreateImageRequest`. Three modes: register from snapshots
/// ([`CreateImageRequest::register`]), copy another image
/// ([`CreateImageRequest::copy`]) or capture a VM ([`CreateImageRequest::from_vm`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateImageRequest {
    /// Name (3-128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `i386` or `x86_64` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Register: the root device name (`/dev/sda1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_device_name: Option<String>,
    /// Register: the block devices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Boot modes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub boot_modes: Vec<BootMode>,
    /// Product codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_codes: Vec<String>,
    /// Whether a vTPM is mandatory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_mandatory: Option<bool>,
    /// Copy: the image to copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image_id: Option<String>,
    /// Copy: the source region (always the caller's region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region_name: Option<String>,
    /// From a VM: the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    /// From a VM: do not reboot it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reboot: Option<bool>,
    /// Import: the bucket object of an image file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_location: Option<String>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

impl CreateImageRequest {
    /// Registers an image from snapshots.
    pub fn register(
        name: impl Into<String>,
        root_device_name: impl Into<String>,
        block_device_mappings: Vec<BlockDeviceMapping>,
    ) -> Self {
        Self {
            image_name: Some(name.into()),
            root_device_name: Some(root_device_name.into()),
            block_device_mappings,
            ..Self::default()
        }
    }

    /// Copies `source_image_id` (from region `source_region_name`).
    pub fn copy(
        name: impl Into<String>,
        source_image_id: impl Into<String>,
        source_region_name: impl Into<String>,
    ) -> Self {
        Self {
            image_name: Some(name.into()),
            source_image_id: Some(source_image_id.into()),
            source_region_name: Some(source_region_name.into()),
            ..Self::default()
        }
    }

    /// Captures a VM.
    pub fn from_vm(name: impl Into<String>, vm_id: impl Into<String>) -> Self {
        Self {
            image_name: Some(name.into()),
            vm_id: Some(vm_id.into()),
            ..Self::default()
        }
    }
}

/// `UpdateImageRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateImageRequest {
    /// The image.
    pub image_id: String,
    /// Launch permissions to add or remove.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_to_launch: Option<PermissionsChange>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New product codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_codes: Vec<String>,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `DeleteImageRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImageRequest {
    /// The image.
    pub image_id: String,
    /// Only check permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReadImagesResponse {
    #[serde(default)]
    images: Vec<Image>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageResponse {
    #[serde(default)]
    image: Option<Image>,
}

/// The most recent image by `CreationDate`; ties go to the greatest
/// `ImageId`, so the answer does not depend on the server's order.
pub fn most_recent(images: &[Image]) -> Option<&Image> {
    images.iter().max_by(|a, b| {
        a.creation_date
            .cmp(&b.creation_date)
            .then_with(|| a.image_id.cmp(&b.image_id))
    })
}

/// Machine images (OMIs).
#[derive(Debug, Clone)]
pub struct Images {
    client: Client,
}

impl Images {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `ReadImages`, every page, as a stream.
    pub fn list(
        &self,
        filters: FiltersImage,
    ) -> impl Stream<Item = Result<Image>> + Send + 'static {
        self.client.stream(
            "ReadImages",
            ReadImagesRequest::filtered(filters),
            |r: ReadImagesResponse| (r.images, r.next_page_token),
        )
    }

    /// `ReadImages`, every page, collected.
    pub async fn read(&self, filters: FiltersImage) -> Result<Vec<Image>> {
        self.list(filters).try_collect().await
    }

    /// `ReadImages` for one id; `None` when it does not exist (or is not visible).
    pub async fn find(&self, image_id: &str) -> Result<Option<Image>> {
        Ok(self
            .read(FiltersImage::ids([image_id]))
            .await?
            .into_iter()
            .next())
    }

    /// `ReadImages`, then the most recent match (see [`most_recent`]).
    pub async fn most_recent(&self, filters: FiltersImage) -> Result<Option<Image>> {
        let images = self.read(filters).await?;
        Ok(most_recent(&images).cloned())
    }

    /// `CreateImage` (register, copy or capture); the image starts `pending`.
    pub async fn create(&self, req: &CreateImageRequest) -> Result<Image> {
        let r: ImageResponse = self.client.call("CreateImage", req).await?;
        required(r.image, "CreateImage", "Image")
    }

    /// `UpdateImage`.
    pub async fn update(&self, req: &UpdateImageRequest) -> Result<Option<Image>> {
        let r: ImageResponse = self.client.call("UpdateImage", req).await?;
        Ok(r.image)
    }

    /// `UpdateImage` with launch permissions only.
    pub async fn update_launch_permissions(
        &self,
        image_id: &str,
        change: PermissionsChange,
    ) -> Result<Option<Image>> {
        self.update(&UpdateImageRequest {
            image_id: image_id.to_owned(),
            permissions_to_launch: Some(change),
            ..UpdateImageRequest::default()
        })
        .await
    }

    /// `DeleteImage`.
    pub async fn delete(&self, image_id: &str) -> Result<()> {
        let req = DeleteImageRequest {
            image_id: image_id.to_owned(),
            dry_run: None,
        };
        let _: Empty = self.client.call("DeleteImage", &req).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, date: &str) -> Image {
        Image {
            image_id: id.to_owned(),
            creation_date: date.to_owned(),
            ..Image::default()
        }
    }

    #[test]
    fn most_recent_breaks_ties_by_id_whatever_the_order() {
        let a = img("ami-0000000a", "2026-01-01T00:00:00.000Z");
        let b = img("ami-0000000b", "2026-01-01T00:00:00.000Z");
        let old = img("ami-000000ff", "2025-01-01T00:00:00.000Z");
        let one = [a.clone(), b.clone(), old.clone()];
        let two = [old, b, a];
        assert_eq!(
            most_recent(&one).map(|i| i.image_id.as_str()),
            Some("ami-0000000b")
        );
        assert_eq!(
            most_recent(&two).map(|i| i.image_id.as_str()),
            Some("ami-0000000b")
        );
        assert_eq!(most_recent(&[]), None);
    }
}
