//! The declared minimum Rust version (`rust-version` of the workspace) is
//! true: no dependency in Cargo.lock asks for a newer one. (Our own code is
//! held to it by clippy's `incompatible_msrv` lint, which reads the same
//! field.)

use std::process::Command;

use serde_json::Value;

fn version(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_declared_rust_version_covers_every_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let resolved: Vec<&str> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let mut declared = Vec::new();
    let mut needed = Vec::new();
    for p in meta["packages"].as_array().expect("packages") {
        let id = p["id"].as_str().expect("id");
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        let name = format!("{} {}", p["name"].as_str().unwrap_or("?"), rv);
        if members.contains(&id) {
            declared.push((version(rv), name));
        } else if resolved.contains(&id) {
            needed.push((version(rv), name));
        }
    }
    let (need, by) = needed
        .into_iter()
        .max()
        .expect("dependencies declare versions");
    assert!(!declared.is_empty());
    for (have, member) in declared {
        assert!(
            have >= need,
            "{member}: declares an older Rust than {by} needs (set rust-version in Cargo.toml)"
        );
    }
}
