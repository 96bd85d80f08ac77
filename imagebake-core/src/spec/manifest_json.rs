//! SkyLime's `manifest.json`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{BaseRef, SpecError, SpecMetadata, SpecNetwork};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    homepage: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    customer_metadata: Map<String, Value>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    minram: Option<u64>,
    #[serde(default)]
    networks: Map<String, Value>,
    #[serde(default)]
    owneruuid: Option<Uuid>,
}

/// Parses the text of a `manifest.json` (`file` names it in errors): `name`,
/// `version` (required), `description`, `organization`, `brand`,
/// `homepage`, `base` (image name, `name@version` or UUID),
/// `customer_metadata`, and imagebake's additions `users`, `role`,
/// `minram`, `networks` (`{"net0": "public"}`), `owneruuid`.
pub fn parse_manifest_json(file: &Path, text: &str) -> Result<SpecMetadata, SpecError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let j: Json = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let err = SpecError::line(file, inner.line().max(1), inner.to_string());
        if path == "." { err } else { err.with_key(path) }
    })?;
    let bad = |k: &str, m: String| SpecError::file(file, m).with_key(k);
    if j.name.trim().is_empty() {
        return Err(bad("name", "must not be empty".into()));
    }
    if j.version.trim().is_empty() {
        return Err(bad("version", "must not be empty".into()));
    }
    let base = match j.base {
        Some(b) => Some(
            BaseRef::parse(&b)
                .ok_or_else(|| bad("base", format!("{b:?} is not an image reference")))?,
        ),
        None => None,
    };
    if j.minram == Some(0) {
        return Err(bad("minram", "must be a size in MiB above 0".into()));
    }
    let mut networks = Vec::new();
    for (name, d) in j.networks {
        let Value::String(description) = d else {
            return Err(bad(
                &format!("networks.{name}"),
                "must be a description string".into(),
            ));
        };
        networks.push(SpecNetwork { name, description });
    }
    let nonempty = |o: Option<String>| o.filter(|s| !s.is_empty());
    Ok(SpecMetadata {
        name: j.name,
        version: j.version,
        base,
        organization: nonempty(j.organization),
        brand: nonempty(j.brand),
        description: nonempty(j.description),
        homepage: nonempty(j.homepage),
        users: j.users,
        role: nonempty(j.role),
        min_ram: j.minram,
        networks,
        owner: j.owneruuid,
        lbaas: None,
        billing_tags: Vec::new(),
        customer_metadata: j.customer_metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<SpecMetadata, SpecError> {
        parse_manifest_json(Path::new("mi-core-base/manifest.json"), t)
    }

    #[test]
    fn skylime_form_is_read() {
        let m = parse(
            r#"{"name": "core-base", "version": "22.4.0",
                "description": "Core \"base\" image", "organization": "SkyLime GmbH",
                "brand": "Core", "homepage": "https://skylime.net",
                "base": "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201",
                "customer_metadata": {"munin_master_allow": "allowed munin master"}}"#,
        )
        .unwrap();
        assert_eq!(m.name, "core-base");
        assert!(matches!(m.base, Some(BaseRef::Id(_))));
        assert_eq!(m.customer_metadata.len(), 1);
        assert_eq!(m.description.as_deref(), Some("Core \"base\" image"));
    }

    #[test]
    fn bad_json_names_file_line_and_key() {
        let e = parse("{\"name\": \"a\",\n \"version\": \"1\",\n \"bogus\": 1}").unwrap_err();
        assert!(e.to_string().contains("unknown field `bogus`"), "{e}");
        assert_eq!(e.line, Some(3));
        let e = parse("{\"name\": \"a\", \"version\": 1}").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("version"), "{e}");
        let e = parse("{\"name\": \"a\"}").unwrap_err();
        assert!(e.to_string().contains("version"), "{e}");
        let e = parse("[").unwrap_err();
        assert!(
            e.to_string().starts_with("mi-core-base/manifest.json:1"),
            "{e}"
        );
    }
}
