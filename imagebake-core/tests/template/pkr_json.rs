//! `.pkr.json` files: HCL's JSON syntax, alone or beside `.pkr.hcl` files.

use std::path::Path;

use imagebake_core::template::Plan;
use serde_json::json;

use super::{opts, run};

/// `plan` without the places things were written (they differ by file).
fn unlocated(mut plan: Plan) -> Plan {
    for b in &mut plan.builds {
        b.key_locations.clear();
        for p in &mut b.provisioners {
            p.location = None;
        }
        for c in &mut b.post_processors {
            for p in c {
                p.location = None;
            }
        }
    }
    plan.warnings.clear();
    plan
}

#[test]
fn pkr_json_gives_the_same_plan_as_pkr_hcl() {
    let o = opts(&[]);
    let hcl = run(Path::new("same/web.pkr.hcl"), &o).unwrap();
    let js = run(Path::new("same/web.pkr.json"), &o).unwrap();
    assert_eq!(
        js.builds[0].config["image_version"],
        json!("1.0.1514934721")
    );
    assert_eq!(
        js.builds[0].config["source_machine_image_filter"],
        json!({"name": "base-64-lts", "most_recent": true})
    );
    assert_eq!(js.builds[0].post_processors.len(), 2);
    assert_eq!(unlocated(hcl), unlocated(js));
}

#[test]
fn pkr_json_keys_are_located_in_the_json_file() {
    let js = run(Path::new("same/web.pkr.json"), &opts(&[])).unwrap();
    let b = &js.builds[0];
    let l = b.locate("image_name").unwrap();
    assert!(l.file.ends_with("same/web.pkr.json"), "{l}");
    assert_eq!((l.line, l.column), (13, 9));
    let p = b.provisioners[0].location.as_ref().unwrap();
    assert_eq!((p.line, p.column), (27, 9), "{p}");
}

#[test]
fn a_directory_mixes_pkr_hcl_pkr_json_and_auto_pkrvars_json() {
    let plan = run(Path::new("mixed"), &opts(&[])).unwrap();
    assert_eq!(plan.builds.len(), 1);
    let b = &plan.builds[0];
    // A build's `source` block: renamed, and its nested block known as one
    // from the builder type in its label.
    assert_eq!(b.name, "b.triton.alt");
    assert_eq!(
        b.config["source_machine_image_filter"],
        json!({"name": "base-64-lts"})
    );
    assert_eq!(b.config["image_version"], json!("2.0"));
    assert_eq!(b.config["image_tags"], json!({"team": "bakers"}));
    assert_eq!(
        b.config["source_machine_tag"],
        json!([{"key": "role", "value": "web"}, {"key": "n", "value": 2}])
    );
    // A file given alone reads no auto var file (as Packer).
    let alone = run(Path::new("mixed/web.pkr.json"), &opts(&[]));
    let e = alone.unwrap_err().to_string();
    assert!(e.contains("var.version") || e.contains("version"), "{e}");
}

#[test]
fn a_pkrvars_json_file_sets_variables_and_its_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("v.pkrvars.json"),
        "{\n  \"version\": \"3.1\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.pkrvars.json"),
        "{\n  \"version\": \"${nope\"\n}\n",
    )
    .unwrap();
    let mut o = opts(&[]);
    o.var_files.push(dir.path().join("v.pkrvars.json"));
    let plan = run(Path::new("same/web.pkr.json"), &o).unwrap();
    assert_eq!(plan.variable("version").unwrap().value, json!("3.1"));

    let mut o = opts(&[]);
    o.var_files.push(dir.path().join("bad.pkrvars.json"));
    let e = run(Path::new("same/web.pkr.json"), &o).unwrap_err();
    let l = e.location.clone().unwrap();
    assert!(l.file.ends_with("bad.pkrvars.json"), "{e}");
    assert_eq!(l.line, 2, "{e}");
    assert!(e.fix.is_some(), "{e}");
}
