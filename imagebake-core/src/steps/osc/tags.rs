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

/// The plugin's StepCreateTags: `tags` on the OMI and its snapshots, then
/// `snapshot_tags` on the snapshots (they win there). The values may use
/// `{{.BuildRegion}}`, `{{.SourceOMI}}` and `{{.SourceOMIName}}`. The
/// snapshot's build tags are swapped for `imagebake-built-by`.
#[derive(Debug, Clone)]
pub struct TagOmi {
    client: Client,
    tags: BTreeMap<String, String>,
    snapshot_tags: BTreeMap<String, String>,
    vars: Vec<(String, String)>,
}

impl TagOmi {
    /// These tags; `vars` are the template values (`BuildRegion`, …).
    pub fn new(
        client: Client,
        tags: BTreeMap<String, String>,
        snapshot_tags: BTreeMap<String, String>,
        vars: Vec<(String, String)>,
    ) -> Self {
        Self {
            client,
            tags,
            snapshot_tags,
            vars,
        }
    }

    fn render(&self, key: &str, map: &BTreeMap<String, String>) -> Result<Vec<Tag>, Error> {
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        map.iter()
            .map(|(k, v)| Ok(Tag::new(k, crate::template::render(key, v, &vars)?)))
            .collect()
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
