//! The exported manifest made portable, and the build machine's package.

use serde_json::{Value, json};

use super::OriginError;

/// The owner IMGAPI forces on non-DC repositories and maps to the DC admin
/// on import into a DC.
pub const ZERO_OWNER: &str = "00000000-0000-0000-0000-000000000000";

/// triton-origin-image's rewrite of an exported `.imgmanifest`:
/// `requirements.min_platform["7.0"]` := the origin image's own value (the
/// image made on a newer CN carries that CN's stamp, too new for where the
/// origin runs) and `owner` := all zeros. `origin_manifest` is the origin
/// image as IMGAPI or CloudAPI serves it.
pub fn rewrite_manifest(manifest: &mut Value, origin_manifest: &Value) -> Result<(), OriginError> {
    let origin_min = origin_manifest
        .pointer("/requirements/min_platform/7.0")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            OriginError::invalid(
                "origin image requirements.min_platform",
                "has no \"7.0\" stamp to copy",
            )
        })?
        .to_owned();
    let Some(m) = manifest.as_object_mut() else {
        return Err(OriginError::invalid("manifest", "is not a JSON object"));
    };
    let requirements = m.entry("requirements").or_insert_with(|| json!({}));
    let Some(req) = requirements.as_object_mut() else {
        return Err(OriginError::invalid(
            "manifest requirements",
            "is not an object",
        ));
    };
    let min = req.entry("min_platform").or_insert_with(|| json!({}));
    let Some(min) = min.as_object_mut() else {
        return Err(OriginError::invalid(
            "manifest requirements.min_platform",
            "is not an object",
        ));
    };
    min.insert("7.0".into(), Value::String(origin_min));
    m.insert("owner".into(), Value::String(ZERO_OWNER.into()));
    Ok(())
}

/// The first package (in the given order) whose memory in MiB is in
/// `[min_mb, 2 * min_mb]`, as triton-origin-image picks the build
/// machine's package; `packages` are `(name, memory MiB)`.
pub fn choose_package<'a>(
    packages: impl IntoIterator<Item = (&'a str, u64)>,
    min_mb: u64,
) -> Result<&'a str, OriginError> {
    packages
        .into_iter()
        .find(|(_, mem)| (min_mb..=min_mb.saturating_mul(2)).contains(mem))
        .map(|(name, _)| name)
        .ok_or_else(|| {
            OriginError::invalid(
                "protoMinMemoryMb",
                format!(
                    "no package has between {min_mb} and {} MiB of memory",
                    min_mb * 2
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rewrite_copies_the_origin_stamp_and_zeroes_the_owner() {
        let mut m = json!({
            "uuid": "u", "owner": "930896af-bf8c-48d4-885c-6573a94b1853",
            "requirements": {"min_platform": {"7.0": "20241212T000000Z"}, "brand": "joyent"},
        });
        let origin = json!({"requirements": {"min_platform": {"7.0": "20141030T081701Z"}}});
        rewrite_manifest(&mut m, &origin).unwrap();
        assert_eq!(m["owner"], ZERO_OWNER);
        assert_eq!(m["requirements"]["min_platform"]["7.0"], "20141030T081701Z");
        assert_eq!(m["requirements"]["brand"], "joyent", "other fields kept");
        let mut bare = json!({"uuid": "u"});
        rewrite_manifest(&mut bare, &origin).unwrap();
        assert_eq!(
            bare["requirements"]["min_platform"]["7.0"],
            "20141030T081701Z"
        );
        let e = rewrite_manifest(&mut bare, &json!({})).unwrap_err();
        assert!(e.to_string().contains("7.0"), "{e}");
    }

    #[test]
    fn the_package_is_the_first_within_twice_the_minimum() {
        let pkgs = [
            ("g1.nano", 512),
            ("g1.large", 4096),
            ("g1.small", 1024),
            ("g1.medium", 2048),
        ];
        assert_eq!(choose_package(pkgs, 1024).unwrap(), "g1.small");
        assert_eq!(choose_package(pkgs, 2048).unwrap(), "g1.large");
        let e = choose_package(pkgs, 10_000).unwrap_err().to_string();
        assert!(e.contains("10000"), "{e}");
    }
}
