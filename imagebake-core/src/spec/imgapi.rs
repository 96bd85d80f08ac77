//! An IMGAPI v2 manifest for an HVM (`zvol`) image made from a spec, within
//! IMGAPI's rules (see `triton-distribution.md` §2): `v` an integer, a
//! lower-case UUID, name and version checked against IMGAPI's patterns and
//! the documented lengths, `image_size` an integer, one file with its real
//! sha1, size and compression, requirements and users in exactly IMGAPI's
//! shapes; every string escaped by the JSON writer (mibe's heredoc breaks on
//! a quote).

use std::io::Read as _;
use std::path::Path;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::SpecMetadata;

/// The image file the manifest describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// Hex SHA-1 of the (compressed) file.
    pub sha1: String,
    /// Its size in bytes.
    pub size: u64,
    /// `gzip`, `bzip2`, `xz` or `none`.
    pub compression: String,
}

impl ImageFile {
    /// Reads `path` for its SHA-1 and size.
    pub fn read(path: &Path, compression: &str) -> std::io::Result<Self> {
        let mut f = std::fs::File::open(path)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            ctx.update(&buf[..n]);
        }
        let sha1 = ctx
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            sha1,
            size,
            compression: compression.to_owned(),
        })
    }
}

/// What else an HVM manifest needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZvolInfo {
    /// The image's UUID.
    pub uuid: Uuid,
    /// `linux`, `smartos`, `bsd`, `illumos`, `windows` or `other`.
    pub os: String,
    /// The disk's size in MiB.
    pub image_size_mib: u64,
    /// When it was published (`YYYY-MM-DDTHH:MM:SSZ`).
    pub published_at: String,
}

/// A value that IMGAPI would refuse, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IMGAPI manifest: `{field}`: {message}")]
pub struct ManifestError {
    /// The manifest field.
    pub field: &'static str,
    /// Why it is refused.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> ManifestError {
    ManifestError {
        field,
        message: message.into(),
    }
}

fn check_chars(field: &'static str, v: &str, max: usize, extra: &str) -> Result<(), ManifestError> {
    if v.is_empty() || v.chars().count() > max {
        return Err(refuse(
            field,
            format!("must be 1 to {max} characters, is {:?}", v),
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || extra.contains(*c)))
    {
        return Err(refuse(
            field,
            format!("{v:?} holds {c:?}; IMGAPI allows letters, digits and {extra:?}"),
        ));
    }
    Ok(())
}

/// The IMGAPI v2 manifest of a `zvol` image made from spec metadata `m`.
pub fn zvol_manifest(
    m: &SpecMetadata,
    file: &ImageFile,
    info: &ZvolInfo,
) -> Result<Value, ManifestError> {
    check_chars("name", &m.name, 512, "._/ -")?;
    // Documented limit 128; `+` is left out: platforms before 20161118
    // refuse it.
    check_chars("version", &m.version, 128, "._/-")?;
    if let Some(d) = &m.description
        && d.chars().count() > 512
    {
        return Err(refuse("description", "longer than 512 characters"));
    }
    if let Some(h) = &m.homepage
        && (!(h.starts_with("http://") || h.starts_with("https://"))
            || h.chars().count() > 128
            || h.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(refuse(
            "homepage",
            format!("{h:?} is not an http(s) URL of at most 128 characters"),
        ));
    }
    if !["linux", "smartos", "bsd", "illumos", "windows", "other"].contains(&info.os.as_str()) {
        return Err(refuse("os", format!("{:?} is not an IMGAPI os", info.os)));
    }
    if !["gzip", "bzip2", "xz", "none"].contains(&file.compression.as_str()) {
        return Err(refuse(
            "files",
            format!("compression {:?}", file.compression),
        ));
    }
    if file.size == 0 || file.size > 20 << 30 {
        return Err(refuse("files", "the file must be 1 byte to 20 GiB"));
    }
    if file.sha1.len() != 40 || !file.sha1.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(refuse("files", "sha1 must be 40 hex digits"));
    }
    if info.image_size_mib == 0 {
        return Err(refuse("image_size", "must be a positive number of MiB"));
    }
    let mut requirements = Map::new();
    if let Some(r) = m.min_ram {
        requirements.insert("min_ram".into(), json!(r));
    }
    if !m.networks.is_empty() {
        let nets: Vec<Value> = m
            .networks
            .iter()
            .map(|n| json!({"name": n.name, "description": n.description}))
            .collect();
        requirements.insert("networks".into(), Value::Array(nets));
    }
    let users: Vec<Value> = if m.users.is_empty() {
        vec![json!({"name": "root"})]
    } else {
        m.users.iter().map(|u| json!({"name": u})).collect()
    };
    let mut out = json!({
        "v": 2,
        "uuid": info.uuid.to_string(),
        "owner": m.owner.unwrap_or(Uuid::nil()).to_string(),
        "name": m.name,
        "version": m.version,
        "state": "active",
        "disabled": false,
        "public": false,
        "published_at": info.published_at,
        "type": "zvol",
        "os": info.os,
        "files": [{"sha1": file.sha1, "size": file.size, "compression": file.compression}],
        "requirements": requirements,
        "users": users,
        "generate_passwords": true,
        "tags": m.tags(),
        "image_size": info.image_size_mib,
        "nic_driver": "virtio",
        "disk_driver": "virtio",
        "cpu_type": "host",
    });
    if let Some(d) = &m.description {
        out["description"] = json!(d);
    }
    if let Some(h) = &m.homepage {
        out["homepage"] = json!(h);
    }
    if !m.billing_tags.is_empty() {
        out["billing_tags"] = json!(m.billing_tags);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SpecMetadata {
        SpecMetadata {
            name: "web".into(),
            version: "1.0.0".into(),
            description: Some("a \"quoted\" \\ description\nwith a newline".into()),
            homepage: Some("https://example.com/web".into()),
            min_ram: Some(1024),
            users: vec!["root".into(), "admin".into()],
            role: Some("web\"server".into()),
            ..SpecMetadata::default()
        }
    }

    fn file() -> ImageFile {
        ImageFile {
            sha1: "a9993e364706816aba3e25717850c26c9cd0d89d".into(),
            size: 42,
            compression: "gzip".into(),
        }
    }

    fn info() -> ZvolInfo {
        ZvolInfo {
            uuid: Uuid::from_u128(0x1234),
            os: "linux".into(),
            image_size_mib: 2048,
            published_at: "2026-12-06T20:00:00Z".into(),
        }
    }

    #[test]
    fn hostile_values_are_escaped_and_round_trip() {
        let v = zvol_manifest(&meta(), &file(), &info()).unwrap();
        let text = serde_json::to_string_pretty(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["description"], json!(meta().description.unwrap()));
        assert_eq!(back["tags"]["role"], json!("web\"server"));
        assert_eq!(back["v"], json!(2), "v is an integer");
        assert_eq!(back["image_size"], json!(2048));
        assert_eq!(back["requirements"], json!({"min_ram": 1024}));
        assert_eq!(back["users"], json!([{"name": "root"}, {"name": "admin"}]));
        assert_eq!(back["owner"], json!("00000000-0000-0000-0000-000000000000"));
        assert_eq!(back["files"][0]["size"], json!(42));
    }

    #[test]
    fn values_imgapi_refuses_are_named() {
        let mut m = meta();
        m.version = "1.0 \"beta\"".into();
        let e = zvol_manifest(&m, &file(), &info()).unwrap_err();
        assert_eq!(e.field, "version", "{e}");
        m.version = "1.0+build".into();
        assert_eq!(
            zvol_manifest(&m, &file(), &info()).unwrap_err().field,
            "version"
        );
        m.version = "1.0-rc1".into();
        zvol_manifest(&m, &file(), &info()).expect("`-` is allowed in an IMGAPI version");
        m.name = "web;rm".into();
        assert_eq!(
            zvol_manifest(&m, &file(), &info()).unwrap_err().field,
            "name"
        );
        let mut m = meta();
        m.homepage = Some("javascript:alert(1)".into());
        assert_eq!(
            zvol_manifest(&m, &file(), &info()).unwrap_err().field,
            "homepage"
        );
        let mut i = info();
        i.os = "beos".into();
        assert_eq!(zvol_manifest(&meta(), &file(), &i).unwrap_err().field, "os");
    }

    #[test]
    fn the_file_s_sha1_and_size_are_real() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::write(&p, "abc").unwrap();
        let f = ImageFile::read(&p, "none").unwrap();
        assert_eq!(f.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(f.size, 3);
    }
}
