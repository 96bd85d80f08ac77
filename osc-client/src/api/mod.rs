//! Handlers, one per resource, and the request bodies of their operations.
//!
//! Every method names the OAPI action it sends. Request structs serialize to
//! exactly the JSON the action's `{Action}Request` schema describes.

mod accounts;
mod filters;
mod images;
mod snapshots;
mod tags;
mod vms;
mod volumes;

use serde::Deserialize;

pub use accounts::{Accounts, ReadAccountsRequest};
pub use filters::{FiltersImage, FiltersSnapshot, FiltersVm, FiltersVolume};
pub use images::{
    CreateImageRequest, DeleteImageRequest, Images, ReadImagesRequest, UpdateImageRequest,
    most_recent,
};
pub use snapshots::{
    CreateSnapshotRequest, DeleteSnapshotRequest, ReadSnapshotsRequest, Snapshots,
    UpdateSnapshotRequest,
};
pub use tags::{CreateTagsRequest, DeleteTagsRequest, Tags};
pub use vms::{ReadVmsRequest, Vms};
pub use volumes::{
    CreateVolumeRequest, DeleteVolumeRequest, LinkVolumeRequest, ReadVolumesRequest,
    UnlinkVolumeRequest, Volumes,
};

/// A Read request that takes `NextPageToken` / `ResultsPerPage`.
pub trait Paged {
    /// Sets the page to ask for.
    fn set_page(&mut self, next_page_token: Option<String>, results_per_page: u32);
}

/// Declares a paged Read request with its filter type.
macro_rules! read_request {
    ($(#[$meta:meta])* $name:ident, $filters:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name {
            /// Filters.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub filters: Option<$filters>,
            /// Page size (1..=1000).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub results_per_page: Option<u32>,
            /// Token of the page to read, from the previous answer.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub next_page_token: Option<String>,
            /// Only check permissions.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub dry_run: Option<bool>,
        }

        impl $name {
            /// A request with these filters.
            pub fn filtered(filters: $filters) -> Self {
                Self {
                    filters: Some(filters),
                    ..Self::default()
                }
            }
        }

        impl $crate::api::Paged for $name {
            fn set_page(&mut self, next_page_token: Option<String>, results_per_page: u32) {
                self.next_page_token = next_page_token;
                self.results_per_page = Some(results_per_page);
            }
        }
    };
}
pub(crate) use read_request;

/// `ResponseContext`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct ResponseContext {
    /// Request id.
    pub request_id: Option<String>,
}

/// The answer of actions that return nothing but a `ResponseContext`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct Empty {
    /// Request context.
    pub response_context: ResponseContext,
}

/// A fresh idempotency token for a create call.
pub(crate) fn client_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Maps a missing item of a create answer to an error.
pub(crate) fn required<T>(v: Option<T>, action: &'static str, what: &str) -> crate::Result<T> {
    v.ok_or_else(|| crate::Error::Unexpected {
        action,
        what: format!("no {what} in the answer"),
    })
}
