//! CreateTags and DeleteTags on any visible resource.

use serde_json::json;

use super::requests::*;
use crate::osc::error::{OscError, OscResult};
use crate::osc::state::*;

/// Resource ids and (key, value) pairs.
type TagArgs = (Vec<String>, Vec<(String, String)>);

pub(super) fn tag_args(st: &State, r: TagsReq) -> OscResult<TagArgs> {
    let ids = r
        .resource_ids
        .ok_or_else(|| OscError::missing("ResourceIds"))?;
    let tags = r.tags.ok_or_else(|| OscError::missing("Tags"))?;
    if ids.is_empty() {
        return Err(OscError::missing("ResourceIds"));
    }
    for id in &ids {
        if !st.exists(id) {
            return Err(OscError::not_found(id));
        }
    }
    let mut out = Vec::new();
    for t in tags {
        let key = t.key.ok_or_else(|| OscError::missing("Tags.Key"))?;
        let value = t.value.unwrap_or_default();
        if key.is_empty() || key.chars().count() > 255 {
            return Err(OscError::invalid(
                "4069",
                format!("invalid-tag-key: {key:?}"),
            ));
        }
        if value.chars().count() > 255 {
            return Err(OscError::invalid("4071", "invalid-tag-value-length"));
        }
        out.push((key, value));
    }
    Ok((ids, out))
}

pub(super) fn create_tags(st: &mut State, r: TagsReq) -> OscResult {
    let (ids, tags) = tag_args(st, r)?;
    for id in ids {
        let entry = st.tags.entry(id).or_default();
        for (k, v) in &tags {
            entry.insert(k.clone(), v.clone());
        }
    }
    Ok(json!({}))
}

pub(super) fn delete_tags(st: &mut State, r: TagsReq) -> OscResult {
    let (ids, tags) = tag_args(st, r)?;
    for id in ids {
        if let Some(entry) = st.tags.get_mut(&id) {
            for (k, v) in &tags {
                if v.is_empty() || entry.get(k) == Some(v) {
                    entry.remove(k);
                }
            }
        }
    }
    Ok(json!({}))
}
