//! `Filters` objects of the Read calls, applied to the JSON views, and
//! `NextPageToken` / `ResultsPerPage` pagination.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::error::{OscError, OscResult};

/// Which view field(s) a filter key looks at, per resource. A path walks
/// objects by key; `[]` walks every element of an array.
pub(crate) type Table = &'static [(&'static str, &'static str)];

pub(crate) const IMAGE_FILTERS: Table = &[
    ("AccountAliases", "AccountAlias"),
    ("AccountIds", "AccountId"),
    ("Architectures", "Architecture"),
    (
        "BlockDeviceMappingDeleteOnVmDeletion",
        "BlockDeviceMappings[].Bsu.DeleteOnVmDeletion",
    ),
    (
        "BlockDeviceMappingDeviceNames",
        "BlockDeviceMappings[].DeviceName",
    ),
    (
        "BlockDeviceMappingSnapshotIds",
        "BlockDeviceMappings[].Bsu.SnapshotId",
    ),
    (
        "BlockDeviceMappingVolumeSizes",
        "BlockDeviceMappings[].Bsu.VolumeSize",
    ),
    (
        "BlockDeviceMappingVolumeTypes",
        "BlockDeviceMappings[].Bsu.VolumeType",
    ),
    ("BootModes", "BootModes[]"),
    ("Descriptions", "Description"),
    ("FileLocations", "FileLocation"),
    ("ImageIds", "ImageId"),
    ("ImageNames", "ImageName"),
    (
        "PermissionsToLaunchAccountIds",
        "PermissionsToLaunch.AccountIds[]",
    ),
    (
        "PermissionsToLaunchGlobalPermission",
        "PermissionsToLaunch.GlobalPermission",
    ),
    ("ProductCodes", "ProductCodes[]"),
    ("RootDeviceNames", "RootDeviceName"),
    ("RootDeviceTypes", "RootDeviceType"),
    ("SecureBoot", "SecureBoot"),
    ("States", "State"),
    ("TpmMandatory", "TpmMandatory"),
    ("VirtualizationTypes", "=hvm"),
    ("Hypervisors", "=xen"),
];

pub(crate) const VOLUME_FILTERS: Table = &[
    ("ClientTokens", "ClientToken"),
    ("CreationDates", "CreationDate"),
    (
        "LinkVolumeDeleteOnVmDeletion",
        "LinkedVolumes[].DeleteOnVmDeletion",
    ),
    ("LinkVolumeDeviceNames", "LinkedVolumes[].DeviceName"),
    ("LinkVolumeLinkStates", "LinkedVolumes[].State"),
    ("LinkVolumeVmIds", "LinkedVolumes[].VmId"),
    ("SnapshotIds", "SnapshotId"),
    ("SubregionNames", "SubregionName"),
    ("VolumeIds", "VolumeId"),
    ("VolumeSizes", "Size"),
    ("VolumeStates", "State"),
    ("VolumeTypes", "VolumeType"),
];

pub(crate) const SNAPSHOT_FILTERS: Table = &[
    ("AccountAliases", "AccountAlias"),
    ("AccountIds", "AccountId"),
    ("ClientTokens", "ClientToken"),
    ("Descriptions", "Description"),
    (
        "PermissionsToCreateVolumeAccountIds",
        "PermissionsToCreateVolume.AccountIds[]",
    ),
    (
        "PermissionsToCreateVolumeGlobalPermission",
        "PermissionsToCreateVolume.GlobalPermission",
    ),
    ("Progresses", "Progress"),
    ("SnapshotIds", "SnapshotId"),
    ("States", "State"),
    ("VolumeIds", "VolumeId"),
    ("VolumeSizes", "VolumeSize"),
    ("FromCreationDate", ">=CreationDate"),
    ("ToCreationDate", "<=CreationDate"),
];

pub(crate) const VM_FILTERS: Table = &[
    ("Architectures", "Architecture"),
    (
        "BlockDeviceMappingDeviceNames",
        "BlockDeviceMappings[].DeviceName",
    ),
    (
        "BlockDeviceMappingStates",
        "BlockDeviceMappings[].Bsu.State",
    ),
    (
        "BlockDeviceMappingVolumeIds",
        "BlockDeviceMappings[].Bsu.VolumeId",
    ),
    ("BootModes", "BootMode"),
    ("ImageIds", "ImageId"),
    ("PrivateIps", "PrivateIp"),
    ("RootDeviceNames", "RootDeviceName"),
    ("RootDeviceTypes", "RootDeviceType"),
    ("SubregionNames", "Placement.SubregionName"),
    ("VmIds", "VmId"),
    ("VmStateNames", "State"),
    ("VmTypes", "VmType"),
];

/// One filter's test of an item.
type Check = Box<dyn Fn(&Value) -> bool>;

/// `*` matches any run of characters, `?` any one.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn collect<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    if path.is_empty() {
        out.push(v);
        return;
    }
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    if let Some(key) = head.strip_suffix("[]") {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            for item in items {
                collect(item, rest, out);
            }
        }
    } else if let Some(next) = v.get(head) {
        collect(next, rest, out);
    }
}

fn value_matches(wanted: &Value, got: &Value) -> bool {
    match (wanted, got) {
        (Value::String(w), Value::String(g)) => glob(w, g),
        (w, g) => w == g,
    }
}

/// Keeps the items that pass every filter. Unknown or unsimulated keys are a
/// 400 (4023 invalid-filter) so a test never passes on an ignored filter.
pub(crate) fn apply(
    items: Vec<Value>,
    filters: Option<&Map<String, Value>>,
    table: Table,
) -> OscResult<Vec<Value>> {
    let Some(filters) = filters else {
        return Ok(items);
    };
    let mut checks: Vec<Check> = Vec::new();
    for (key, wanted) in filters {
        match key.as_str() {
            "TagKeys" | "TagValues" | "Tags" => {
                let wanted = string_list(key, wanted)?;
                let key = key.clone();
                checks.push(Box::new(move |item| {
                    let tags = item
                        .get("Tags")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    wanted.iter().any(|w| {
                        tags.iter().any(|t| {
                            let k = t["Key"].as_str().unwrap_or("");
                            let v = t["Value"].as_str().unwrap_or("");
                            match key.as_str() {
                                "TagKeys" => glob(w, k),
                                "TagValues" => glob(w, v),
                                _ => {
                                    let (wk, wv) = w.split_once('=').unwrap_or((w, ""));
                                    glob(wk, k) && glob(wv, v)
                                }
                            }
                        })
                    })
                }));
            }
            _ => {
                let Some((_, path)) = table.iter().find(|(k, _)| k == key) else {
                    return Err(OscError::invalid(
                        "4023",
                        format!("filter {key} is unknown or not simulated"),
                    ));
                };
                let path = *path;
                let wanted: Vec<Value> = match wanted {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                if let Some(constant) = path.strip_prefix('=') {
                    let ok = wanted
                        .iter()
                        .any(|w| value_matches(w, &Value::from(constant)));
                    checks.push(Box::new(move |_| ok));
                } else if let Some((field, at_least)) = (path.strip_prefix(">=").map(|f| (f, true)))
                    .or_else(|| path.strip_prefix("<=").map(|f| (f, false)))
                {
                    // A bound on a string field: `>=` (at least) or `<=` (at most).
                    let w = wanted
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let field = field.to_owned();
                    checks.push(Box::new(move |item| {
                        let v = item[&field].as_str().unwrap_or("");
                        if at_least {
                            v >= w.as_str()
                        } else {
                            v <= w.as_str()
                        }
                    }));
                } else {
                    checks.push(Box::new(move |item| {
                        let mut got = Vec::new();
                        collect(item, path, &mut got);
                        wanted
                            .iter()
                            .any(|w| got.iter().any(|g| value_matches(w, g)))
                    }));
                }
            }
        }
    }
    Ok(items
        .into_iter()
        .filter(|i| checks.iter().all(|c| c(i)))
        .collect())
}

fn string_list(key: &str, v: &Value) -> OscResult<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .ok_or_else(|| OscError::validation(format!("Filters.{key} must be a list of strings")))
}

/// Cuts one page. Without `ResultsPerPage` everything comes back at once.
pub(crate) fn page(
    items: Vec<Value>,
    results_per_page: Option<i64>,
    next_page_token: Option<&str>,
) -> OscResult<(Vec<Value>, Option<String>)> {
    let start = match next_page_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("osc-sim:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| OscError::invalid_value(format!("invalid NextPageToken {t:?}")))?,
    };
    let per_page = match results_per_page {
        None => usize::MAX,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(OscError::invalid_value(format!(
                "ResultsPerPage must be between 1 and 1000, got {n}"
            )));
        }
    };
    let total = items.len();
    let end = start.saturating_add(per_page).min(total);
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let next = (end < total).then(|| STANDARD.encode(format!("osc-sim:{end}")));
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob("Debian-12-*", "Debian-12-2026.01.01-0"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("Debian-12-*", "Debian-11-x"));
        assert!(glob("*-0", "Debian-12-2026.01.01-0"));
    }

    #[test]
    fn filters_and_pages() {
        let items = vec![
            json!({"ImageId": "ami-1", "ImageName": "a-1", "Tags": [{"Key": "k", "Value": "v"}], "BootModes": ["uefi"]}),
            json!({"ImageId": "ami-2", "ImageName": "b-1", "Tags": [], "BootModes": ["legacy"]}),
        ];
        let f = json!({"ImageNames": ["a-*"], "Tags": ["k=v"]});
        let got = apply(items.clone(), f.as_object(), IMAGE_FILTERS).unwrap();
        assert_eq!(got.len(), 1);
        let f = json!({"BootModes": ["legacy"]});
        assert_eq!(
            apply(items.clone(), f.as_object(), IMAGE_FILTERS).unwrap()[0]["ImageId"],
            "ami-2"
        );
        let f = json!({"Nope": ["x"]});
        assert_eq!(
            apply(items.clone(), f.as_object(), IMAGE_FILTERS)
                .unwrap_err()
                .code,
            "4023"
        );

        let (p1, next) = page(items.clone(), Some(1), None).unwrap();
        assert_eq!(p1[0]["ImageId"], "ami-1");
        let (p2, end) = page(items, Some(1), next.as_deref()).unwrap();
        assert_eq!(p2[0]["ImageId"], "ami-2");
        assert_eq!(end, None);
    }
}
