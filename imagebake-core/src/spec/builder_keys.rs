//! The spec's metadata as builder keys: where a builder's own key is unset
//! the spec's value is used (so those keys become optional); where both are
//! set and differ, the builder's key wins and a note says so.

use serde_json::{Map, Value, json};

use super::{BaseRef, Spec, SpecMetadata};

/// The keys of builder `kind` the spec's metadata fills, with their values.
pub fn spec_builder_keys(kind: &str, m: &SpecMetadata) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    let mut opt = |k: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            out.push((k, json!(v)));
        }
    };
    match kind {
        "triton" => {
            opt("image_description", &m.description);
            opt("image_homepage", &m.homepage);
            out.push(("image_name", json!(m.name)));
            out.push(("image_version", json!(m.version)));
            let tags = m.tags();
            if !tags.is_empty() {
                out.push(("image_tags", Value::Object(tags)));
            }
        }
        "oxide-instance" => {
            opt("artifact_description", &m.description);
            out.push(("artifact_name", json!(m.name)));
            out.push(("artifact_version", json!(m.version)));
        }
        "osc-chroot" | "outscale-chroot" => {
            opt("omi_description", &m.description);
            out.push(("omi_name", json!(format!("{}-{}", m.name, m.version))));
        }
        _ => {}
    }
    out
}

/// The source-image keys of builder `kind` for the spec's `base`, used
/// only when the builder names no source image at all.
fn base_keys(kind: &str, base: &BaseRef) -> (&'static [&'static str], Vec<(&'static str, Value)>) {
    match (kind, base) {
        ("triton", BaseRef::Id(id)) => (
            &["source_machine_image", "source_machine_image_filter"],
            vec![("source_machine_image", json!(id.to_string()))],
        ),
        ("triton", b) => {
            let mut f = Map::new();
            f.insert("name".into(), json!(b.name()));
            if let Some(v) = b.version() {
                f.insert("version".into(), json!(v));
            }
            f.insert("most_recent".into(), json!(true));
            (
                &["source_machine_image", "source_machine_image_filter"],
                vec![("source_machine_image_filter", Value::Object(f))],
            )
        }
        ("oxide-instance", BaseRef::Id(id)) => (
            &["boot_disk_image_id", "boot_disk_image_name"],
            vec![("boot_disk_image_id", json!(id.to_string()))],
        ),
        ("oxide-instance", b) => (
            &["boot_disk_image_id", "boot_disk_image_name"],
            vec![("boot_disk_image_name", json!(b.name()))],
        ),
        _ => (&[], Vec::new()),
    }
}

/// Fills the unset keys of a `kind` builder's block from `spec` (see the
/// module documentation); returns the notes about keys where the block
/// wins.
pub fn apply_to_builder_block(kind: &str, block: &mut Value, spec: &Spec) -> Vec<String> {
    let Value::Object(obj) = block else {
        return Vec::new();
    };
    let m = &spec.metadata;
    let mut notes = Vec::new();
    for (k, v) in spec_builder_keys(kind, m) {
        match obj.get(k) {
            None | Some(Value::Null) => {
                obj.insert(k.to_owned(), v);
            }
            Some(own) if *own != v => notes.push(format!(
                "builder {kind}: `{k}` = {own} is used; the spec {} says {v}",
                spec.dir.display()
            )),
            Some(_) => {}
        }
    }
    if kind == "local-chroot" && obj.get("imgapi_manifest") == Some(&Value::Bool(true)) {
        obj.insert(
            "imgapi_manifest".into(),
            crate::builders::local_chroot::ImgapiKeys::value_from_spec(m),
        );
    }
    if let Some(base) = &m.base {
        let (source_keys, keys) = base_keys(kind, base);
        if source_keys
            .iter()
            .all(|k| obj.get(*k).is_none_or(Value::is_null))
        {
            for (k, v) in keys {
                obj.insert(k.to_owned(), v);
            }
        } else if !keys.is_empty() {
            notes.push(format!(
                "builder {kind}: its source image is used; the spec {} says base {base}",
                spec.dir.display()
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("manifest"),
            "name=\"web-1.0.0\"\nbase=\"base-64-lts-22.4.0\"\ndescription=\"d\"\nrole=\"web\"\n",
        )
        .unwrap();
        let s = Spec::load(d.path()).unwrap();
        Spec {
            dir: "mi-web".into(),
            ..s
        }
    }

    #[test]
    fn unset_keys_are_filled_and_set_ones_win_with_a_note() {
        let mut b = json!({"image_version": "2.0.0"});
        let notes = apply_to_builder_block("triton", &mut b, &spec());
        assert_eq!(b["image_name"], json!("web"));
        assert_eq!(b["image_version"], json!("2.0.0"));
        assert_eq!(b["image_tags"], json!({"role": "web"}));
        assert_eq!(
            b["source_machine_image_filter"],
            json!({"name": "base-64-lts", "version": "22.4.0", "most_recent": true})
        );
        assert_eq!(
            notes,
            ["builder triton: `image_version` = \"2.0.0\" is used; the spec mi-web says \"1.0.0\""]
        );
        let mut b = json!({"boot_disk_image_id": "x"});
        let notes = apply_to_builder_block("oxide-instance", &mut b, &spec());
        assert_eq!(b["artifact_name"], json!("web"));
        assert!(b.get("boot_disk_image_name").is_none());
        assert!(notes[0].contains("source image is used"), "{notes:?}");
        let mut b = json!({});
        apply_to_builder_block("osc-chroot", &mut b, &spec());
        assert_eq!(b["omi_name"], json!("web-1.0.0"));
    }
}
