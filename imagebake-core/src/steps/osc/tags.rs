use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::types::{Image, Tag};

use super::{BUILD_TAG, CREATED_TAG, api};
use crate::{Error, Step, StepCx};

/// Tag of a finished OMI and its snapshot: the build that made them (a
/// sweep never touches them).
pub const BUILT_BY_TAG: &str = "imagebake-built-by";

/// The build template data of the plugin's templated keys
/// (`omi_description`, `root_volume_tags`, `tags`, `snapshot_tags`):
/// `{{.BuildRegion}}`, `{{.SourceOMI}}`, `{{.SourceOMIName}}` and
/// `{{.SourceOMITags}}` (Go's `map[k:v]` form; `{{.SourceOMITags.Key}}` for
/// one tag). Empty for a build from scratch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildData {
    vars: Vec<(String, String)>,
}

impl BuildData {
    /// The data of a build in `region` from `source`.
    pub fn new(region: &str, source: Option<&Image>) -> Self {
        let mut tags: Vec<&Tag> = source.map(|s| s.tags.iter().collect()).unwrap_or_default();
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let go_map: Vec<String> = tags
            .iter()
            .map(|t| format!("{}:{}", t.key, t.value))
            .collect();
        let mut vars = vec![
            ("BuildRegion".to_owned(), region.to_owned()),
            (
                "SourceOMI".to_owned(),
                source.map(|s| s.image_id.clone()).unwrap_or_default(),
            ),
            (
                "SourceOMIName".to_owned(),
                source.map(|s| s.image_name.clone()).unwrap_or_default(),
            ),
            (
                "SourceOMITags".to_owned(),
                format!("map[{}]", go_map.join(" ")),
            ),
        ];
        vars.extend(
            tags.iter()
                .map(|t| (format!("SourceOMITags.{}", t.key), t.value.clone())),
        );
        Self { vars }
    }

    /// `text` (the value of `key`) with the data filled in.
    pub fn render(&self, key: &str, text: &str) -> Result<String, Error> {
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        crate::template::render(key, text, &vars)
    }

    /// Every value of `map` rendered.
    pub fn render_map(
        &self,
        key: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Error> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.render(&format!("{key}.{k}"), v)?)))
            .collect()
    }
}

/// The plugin's StepCreateTags: `tags` on the OMI and its snapshots, then
/// `snapshot_tags` on the snapshots (they win there), both rendered with the
/// [`BuildData`]. The snapshot's build tags are swapped for
/// `imagebake-built-by`.
#[derive(Debug, Clone)]
pub struct TagOmi {
    client: Client,
    tags: BTreeMap<String, String>,
    snapshot_tags: BTreeMap<String, String>,
    data: BuildData,
}

impl TagOmi {
    /// These tags, rendered with `data`.
    pub fn new(
        client: Client,
        tags: BTreeMap<String, String>,
        snapshot_tags: BTreeMap<String, String>,
        data: BuildData,
    ) -> Self {
        Self {
            client,
            tags,
            snapshot_tags,
            data,
        }
    }

    fn render(&self, key: &str, map: &BTreeMap<String, String>) -> Result<Vec<Tag>, Error> {
        Ok(self
            .data
            .render_map(key, map)?
            .into_iter()
            .map(|(k, v)| Tag::new(k, v))
            .collect())
    }
}

#[async_trait]
impl Step<Image> for TagOmi {
    type Out = Image;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("tag omi")
    }

    async fn run(&self, cx: &StepCx, image: Image) -> Result<Image, Error> {
        let snaps: Vec<String> = image
            .snapshot_ids()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let tags = self.render("tags", &self.tags)?;
        let snap_tags = self.render("snapshot_tags", &self.snapshot_tags)?;
        let mut all = vec![image.image_id.clone()];
        all.extend(snaps.iter().cloned());
        let t = self.client.tags();
        let mut built = tags;
        built.push(Tag::new(BUILT_BY_TAG, cx.build_id().as_str()));
        cx.cancellable(t.create(all, built))
            .await?
            .map_err(|e| api(format!("CreateTags {}", image.image_id), e))?;
        if !snaps.is_empty() {
            if !snap_tags.is_empty() {
                cx.cancellable(t.create(snaps.clone(), snap_tags))
                    .await?
                    .map_err(|e| api("CreateTags (snapshot_tags)", e))?;
            }
            let build = vec![Tag::new(BUILD_TAG, ""), Tag::new(CREATED_TAG, "")];
            cx.cancellable(t.delete(snaps, build))
                .await?
                .map_err(|e| api("DeleteTags (build tags)", e))?;
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_data_fills_source_tags_as_go_prints_them() {
        let image: Image = serde_json::from_value(serde_json::json!({
            "ImageId": "ami-1", "ImageName": "base",
            "Tags": [{"Key": "os", "Value": "ubuntu"}, {"Key": "Name", "Value": "base 1"}],
        }))
        .unwrap();
        let d = BuildData::new("eu-west-2", Some(&image));
        let got = d
            .render(
                "tags.k",
                "{{.BuildRegion}}/{{.SourceOMI}}/{{.SourceOMIName}}/{{ .SourceOMITags.os }}/{{.SourceOMITags}}",
            )
            .unwrap();
        assert_eq!(
            got,
            "eu-west-2/ami-1/base/ubuntu/map[Name:base 1 os:ubuntu]"
        );
        let scratch = BuildData::new("r", None);
        assert_eq!(scratch.render("k", "[{{.SourceOMI}}]").unwrap(), "[]");
        assert!(scratch.render("k", "{{.SourceOMITags.os}}").is_err());
    }
}
