//! Image models, filters and requests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{ImageId, MachineId};

/// Builder setters for optional `String` fields: each `field` named gets
/// `fn field(self, v: impl Into<String>) -> Self`, with the doc given.
macro_rules! string_setters {
    ($($(#[$doc:meta])* $field:ident,)*) => {$(
        $(#[$doc])*
        pub fn $field(mut self, v: impl Into<String>) -> Self {
            self.$field = Some(v.into());
            self
        }
    )*};
}

/// Image state (IMGAPI manifest `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageState {
    /// Usable for provisioning.
    Active,
    /// Not yet activated.
    Unactivated,
    /// Hidden from default listings and not provisionable.
    Disabled,
    /// Being created from a machine.
    Creating,
    /// Creation failed; see [`Image::error`].
    Failed,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl ImageState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Active => "active",
            ImageState::Unactivated => "unactivated",
            ImageState::Disabled => "disabled",
            ImageState::Creating => "creating",
            ImageState::Failed => "failed",
            ImageState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ImageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Image type (IMGAPI manifest `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageType {
    /// SmartOS zone image.
    ZoneDataset,
    /// LX-branded zone image.
    LxDataset,
    /// Hardware VM (KVM/bhyve) disk image.
    Zvol,
    /// Docker layer.
    Docker,
    /// IMGAPI's own `other` type.
    Other,
    /// A type this client does not know.
    #[serde(other)]
    Unknown,
}

impl ImageType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::ZoneDataset => "zone-dataset",
            ImageType::LxDataset => "lx-dataset",
            ImageType::Zvol => "zvol",
            ImageType::Docker => "docker",
            ImageType::Other => "other",
            ImageType::Unknown => "unknown",
        }
    }
}

/// Why an image creation failed (`error` of a `failed` image).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ImageError {
    /// Error code, e.g. `PrepareImageDidNotRun`.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
}

/// An image (CloudAPI `ListImages`, `GetImage`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Image {
    /// Image UUID.
    pub id: ImageId,
    /// Name (not unique).
    pub name: String,
    /// Version (not unique together with the name).
    #[serde(default)]
    pub version: String,
    /// Operating system (`smartos`, `linux`, ...).
    #[serde(default)]
    pub os: Option<String>,
    /// Image type.
    #[serde(default, rename = "type")]
    pub image_type: Option<ImageType>,
    /// State.
    pub state: ImageState,
    /// Whether the image is public.
    #[serde(default)]
    pub public: bool,
    /// Owner account UUID.
    #[serde(default)]
    pub owner: Option<Uuid>,
    /// Publication time (ISO 8601), absent until the image is active.
    #[serde(default)]
    pub published_at: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Homepage URL.
    #[serde(default)]
    pub homepage: Option<String>,
    /// EULA URL.
    #[serde(default)]
    pub eula: Option<String>,
    /// Accounts the image is shared with.
    #[serde(default)]
    pub acl: Vec<Uuid>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Value>,
    /// Provisioning requirements, as CloudAPI sends them.
    #[serde(default)]
    pub requirements: Option<Value>,
    /// Why creation failed (state `failed`).
    #[serde(default)]
    pub error: Option<ImageError>,
}

/// Filters for CloudAPI `ListImages` (passed through to IMGAPI). Without a
/// `state`, only `active` images are listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListImages {
    name: Option<String>,
    os: Option<String>,
    version: Option<String>,
    public: Option<bool>,
    state: Option<String>,
    owner: Option<String>,
    image_type: Option<String>,
}

impl ListImages {
    /// No filter: every active, non-docker image.
    pub fn new() -> Self {
        Self::default()
    }
    /// Exact name (a `~` prefix means substring match in IMGAPI).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Operating system.
    pub fn os(mut self, os: impl Into<String>) -> Self {
        self.os = Some(os.into());
        self
    }
    /// Version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
    /// Only public (`true`) or only private (`false`) images.
    pub fn public(mut self, public: bool) -> Self {
        self.public = Some(public);
        self
    }
    /// Only images in this state.
    pub fn state(mut self, state: ImageState) -> Self {
        self.state = Some(state.as_str().to_owned());
        self
    }
    /// Images in every state (`state=all`).
    pub fn all_states(mut self) -> Self {
        self.state = Some("all".to_owned());
        self
    }
    /// Owner account UUID.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }
    /// Image type (docker images are listed only when asked for).
    pub fn image_type(mut self, image_type: ImageType) -> Self {
        self.image_type = Some(image_type.as_str().to_owned());
        self
    }

    /// The exact name asked for, if any (without `~`).
    pub(crate) fn exact_name(&self) -> Option<&str> {
        self.name.as_deref().filter(|n| !n.starts_with('~'))
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let fields = [
            ("name", &self.name),
            ("os", &self.os),
            ("version", &self.version),
            ("state", &self.state),
            ("owner", &self.owner),
            ("type", &self.image_type),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        if let Some(p) = self.public {
            q.push(("public", p.to_string()));
        }
        q
    }
}

/// The most recently published image, as node-triton and Packer pick it:
/// ordered by `published_at` (images without one first), ties keep the
/// server's order and the last one wins.
pub fn pick_most_recent(images: impl IntoIterator<Item = Image>) -> Option<Image> {
    let mut images: Vec<Image> = images.into_iter().collect();
    images.sort_by(|a, b| {
        time_key(a.published_at.as_deref()).cmp(&time_key(b.published_at.as_deref()))
    });
    images.pop()
}

/// Sort key of an ISO 8601 UTC time: (whole seconds, fraction digits).
fn time_key(t: Option<&str>) -> Option<(&str, &str)> {
    let t = t?.trim_end_matches('Z');
    Some(match t.split_once('.') {
        Some((secs, frac)) => (secs, frac),
        None => (t, ""),
    })
}

/// Body of CloudAPI `CreateImageFromMachine`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateImageFromMachine {
    machine: MachineId,
    name: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eula: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acl: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, Value>>,
}

impl CreateImageFromMachine {
    /// An image of the (stopped) `machine` named `name` at `version`.
    pub fn new(machine: MachineId, name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            machine,
            name: name.into(),
            version: version.into(),
            description: None,
            homepage: None,
            eula: None,
            acl: None,
            tags: None,
        }
    }
    string_setters! {
        /// Description.
        description,
        /// Homepage URL.
        homepage,
        /// EULA URL.
        eula,
    }
    /// Accounts to share the image with.
    pub fn acl(mut self, accounts: impl IntoIterator<Item = Uuid>) -> Self {
        self.acl = Some(accounts.into_iter().collect());
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.tags
            .get_or_insert_default()
            .insert(key.into(), value.into());
        self
    }
    /// The image name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The image version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The tags (empty when none was added).
    pub fn tags(&self) -> &BTreeMap<String, Value> {
        static NONE: BTreeMap<String, Value> = BTreeMap::new();
        self.tags.as_ref().unwrap_or(&NONE)
    }
}

/// Body of CloudAPI `UpdateImage`: only the fields set are changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateImage {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eula: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acl: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, Value>>,
}

impl UpdateImage {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
    string_setters! {
        /// New name.
        name,
        /// New version.
        version,
        /// New description.
        description,
        /// New homepage URL.
        homepage,
        /// New EULA URL.
        eula,
    }
    /// New ACL.
    pub fn acl(mut self, accounts: impl IntoIterator<Item = Uuid>) -> Self {
        self.acl = Some(accounts.into_iter().collect());
        self
    }
    /// New tags (replacing the old ones).
    pub fn tags(mut self, tags: BTreeMap<String, Value>) -> Self {
        self.tags = Some(tags);
        self
    }
}

/// Where CloudAPI `ExportImage` wrote the image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ExportedImage {
    /// Manta base URL.
    #[serde(default)]
    pub manta_url: Option<String>,
    /// Path of the image file.
    #[serde(default)]
    pub image_path: Option<String>,
    /// Path of the manifest file.
    #[serde(default)]
    pub manifest_path: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(n: u8, published: Option<&str>) -> Image {
        serde_json::from_value(serde_json::json!({
            "id": format!("00000000-0000-0000-0000-0000000000{n:02}"),
            "name": "base", "version": "1", "state": "active",
            "published_at": published,
        }))
        .unwrap()
    }

    #[test]
    fn most_recent_by_published_at_with_stable_ties() {
        let picked = pick_most_recent(vec![
            img(1, Some("2024-01-15T00:00:00Z")),
            img(2, Some("2023-01-10T00:00:00Z")),
            img(3, None),
        ])
        .unwrap();
        assert_eq!(picked.id.to_string().as_bytes()[35], b'1');
        // Tie: the later one in server order wins, whatever the ids.
        for (first, second) in [(9, 4), (4, 9)] {
            let picked = pick_most_recent(vec![
                img(first, Some("2024-01-15T00:00:00Z")),
                img(second, Some("2024-01-15T00:00:00Z")),
            ])
            .unwrap();
            assert_eq!(picked.id, img(second, None).id);
        }
        let picked = pick_most_recent(vec![
            img(5, Some("2024-01-15T00:00:00.500Z")),
            img(6, Some("2024-01-15T00:00:00Z")),
        ])
        .unwrap();
        assert_eq!(picked.id.to_string().as_bytes()[35], b'5');
        assert!(pick_most_recent(Vec::new()).is_none());
    }

    #[test]
    fn unknown_enum_values_are_tolerated() {
        let i: Image = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "name": "x", "state": "quarantined", "type": "hologram"
        }))
        .unwrap();
        assert_eq!(i.state, ImageState::Unknown);
        assert_eq!(i.image_type, Some(ImageType::Unknown));
    }
}
