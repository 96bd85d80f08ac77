//! `images.json`: the set of origin images to build.

use std::path::Path;

use serde::Deserialize;
use uuid::Uuid;

use super::OriginError;

/// The origin image an entry builds on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginRef {
    /// The proto image's UUID.
    pub uuid: Uuid,
    /// Its name (checked against the image before building).
    pub name: String,
    /// Its version (checked too; part of the built image's name).
    pub version: String,
}

/// One image of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginEntry {
    /// `namePrefix`, e.g. `triton-origin-multiarch`.
    pub name_prefix: String,
    /// `desc`: the image description.
    pub desc: String,
    /// `origin`.
    pub origin: OriginRef,
    /// `pkgsrc`: pinned packages (`curl-7.59.0`) installed on the origin.
    pub pkgsrc: Vec<String>,
    /// `protoMinMemoryMb`: the build machine's smallest memory, MiB.
    pub proto_min_memory_mb: u64,
}

impl OriginEntry {
    /// The built image's name: `namePrefix-<origin.version>`.
    pub fn image_name(&self) -> String {
        format!("{}-{}", self.name_prefix, self.origin.version)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "namePrefix")]
    name_prefix: String,
    desc: String,
    origin: OriginRef,
    pkgsrc: Vec<String>,
    #[serde(rename = "protoMinMemoryMb")]
    proto_min_memory_mb: serde_json::Value,
}

/// A parsed `images.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesFile {
    /// The entries, in file order.
    pub entries: Vec<OriginEntry>,
}

impl ImagesFile {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<ImagesFile, OriginError> {
        let text = std::fs::read_to_string(path).map_err(|source| OriginError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses `text`; `source` names it in errors. Every entry needs every
    /// key and no other; `protoMinMemoryMb` is a positive integer (the file
    /// writes it as a string, `"1024"`; a number is taken too); names are
    /// unique; `pkgsrc` entries are `name-version`.
    pub fn parse(text: &str, source: &str) -> Result<ImagesFile, OriginError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: Vec<RawEntry> = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            OriginError::invalid(format!("{source}: {path}"), e.into_inner().to_string())
        })?;
        if raw.is_empty() {
            return Err(OriginError::invalid(source, "no images"));
        }
        let mut entries: Vec<OriginEntry> = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let at = |key: &str| format!("{source}: [{i}].{key}");
            let memory = match &r.proto_min_memory_mb {
                serde_json::Value::String(s) => s.parse::<u64>().ok(),
                serde_json::Value::Number(n) => n.as_u64(),
                _ => None,
            }
            .filter(|m| *m > 0)
            .ok_or_else(|| {
                OriginError::invalid(
                    at("protoMinMemoryMb"),
                    format!("{} is not a positive number of MiB", r.proto_min_memory_mb),
                )
            })?;
            let name_ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._/ -".contains(c))
            };
            if !name_ok(&r.name_prefix) {
                return Err(OriginError::invalid(
                    at("namePrefix"),
                    format!("{:?} is not a valid image name", r.name_prefix),
                ));
            }
            for (j, p) in r.pkgsrc.iter().enumerate() {
                let pinned = p.rsplit_once('-').is_some_and(|(n, v)| {
                    !n.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())
                });
                if !pinned {
                    return Err(OriginError::invalid(
                        at(&format!("pkgsrc[{j}]")),
                        format!("{p:?} is not a pinned package (name-version)"),
                    ));
                }
            }
            let entry = OriginEntry {
                name_prefix: r.name_prefix,
                desc: r.desc,
                origin: r.origin,
                pkgsrc: r.pkgsrc,
                proto_min_memory_mb: memory,
            };
            if let Some(other) = entries
                .iter()
                .position(|e| e.image_name() == entry.image_name())
            {
                return Err(OriginError::invalid(
                    at("namePrefix"),
                    format!("{} is also the name of entry [{other}]", entry.image_name()),
                ));
            }
            entries.push(entry);
        }
        Ok(ImagesFile { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[
      {"namePrefix": "triton-origin-multiarch", "desc": "origin for multiarch",
       "origin": {"uuid": "1bd84670-055a-11e5-aaa2-0346bb21d5a1", "name": "base-multiarch-lts", "version": "15.4.1"},
       "pkgsrc": ["curl-7.59.0", "coreutils-8.23nb2"], "protoMinMemoryMb": "1024"},
      {"namePrefix": "triton-origin-x86_64", "desc": "x86_64",
       "origin": {"uuid": "fbda7200-57e7-11e8-8cc4-7f0d8f0b6e5b", "name": "minimal-64-lts", "version": "18.4.0"},
       "pkgsrc": [], "protoMinMemoryMb": 2048}
    ]"#;

    #[test]
    fn reads_the_triton_origin_image_shape() {
        let f = ImagesFile::parse(GOOD, "images.json").unwrap();
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[0].image_name(), "triton-origin-multiarch-15.4.1");
        assert_eq!(f.entries[0].proto_min_memory_mb, 1024);
        assert_eq!(f.entries[1].proto_min_memory_mb, 2048);
        assert_eq!(f.entries[0].origin.name, "base-multiarch-lts");
    }

    #[test]
    fn errors_name_the_file_entry_and_key() {
        let cases = [
            (
                GOOD.replace("\"1024\"", "\"lots\""),
                "images.json: [0].protoMinMemoryMb",
            ),
            (
                GOOD.replace("1bd84670-055a", "not-a-uuid"),
                "images.json: [0].origin.uuid",
            ),
            (
                GOOD.replace(
                    "\"desc\": \"x86_64\",",
                    "\"desc\": \"x86_64\", \"extra\": 1,",
                ),
                "images.json: [1]",
            ),
            (
                GOOD.replace("\"curl-7.59.0\"", "\"curl\""),
                "images.json: [0].pkgsrc[0]",
            ),
            (
                GOOD.replace("triton-origin-x86_64", "triton-origin-multiarch")
                    .replace("18.4.0", "15.4.1"),
                "images.json: [1].namePrefix",
            ),
            ("[]".to_owned(), "images.json"),
        ];
        for (text, at) in cases {
            let e = ImagesFile::parse(&text, "images.json")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(at), "{at}: {e}");
        }
        let e = ImagesFile::read(Path::new("/no/such/images.json")).unwrap_err();
        assert!(e.to_string().contains("/no/such/images.json"), "{e}");
    }
}
