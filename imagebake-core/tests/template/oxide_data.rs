//! The real `oxide-image` data source against the Oxide simulator.

use std::path::Path;

use imagebake_core::builders::oxide::ImageDataSource;
use imagebake_core::template;
use imagebake_sim::oxide::{OxideSim, OxideSimOptions};
use serde_json::json;

use super::opts;

/// A template whose source takes its image from a data source with
/// `args` (and the simulator's host and token).
fn template(sim: &OxideSim, args: &str) -> String {
    format!(
        r#"data "oxide-image" "base" {{
  host  = "{url}"
  token = "{token}"
  {args}
}}
locals {{
  id = data.oxide-image.base.image_id
}}
source "oxide-instance" "vm" {{
  project            = "imagebake"
  boot_disk_image_id = local.id
}}
build {{
  sources = ["source.oxide-instance.vm"]
}}
"#,
        url = sim.url(),
        token = sim.token(),
    )
}

async fn plan_text(text: &str) -> Result<template::Plan, template::TemplateError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.pkr.hcl"), text).unwrap();
    let mut o = opts(&[]);
    o.cwd = dir.path().to_path_buf();
    template::plan(Path::new("t.pkr.hcl"), &o, &ImageDataSource).await
}

fn image_id(sim: &OxideSim, name: &str) -> String {
    sim.inventory()
        .images
        .iter()
        .find(|i| i.name == name)
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn oxide_image_finds_project_and_silo_images_by_name() {
    let sim = OxideSim::start(OxideSimOptions::default()).await.unwrap();
    let before = sim.requests().len();

    let plan = plan_text(&template(
        &sim,
        r#"name = "alpine-3-20"
  project = "imagebake""#,
    ))
    .await
    .unwrap();
    let want = image_id(&sim, "alpine-3-20");
    assert_eq!(plan.local("id").unwrap().value, json!(want));
    assert_eq!(plan.builds[0].config["boot_disk_image_id"], json!(want));
    let r = &sim.requests()[before];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/v1/images/alpine-3-20")
    );
    assert_eq!(
        r.query,
        vec![("project".to_owned(), "imagebake".to_owned())]
    );
    assert!(r.authorized);

    // Without `project`: a silo image, looked up without the parameter.
    let plan = plan_text(&template(&sim, r#"name = "debian-12""#))
        .await
        .unwrap();
    assert_eq!(
        plan.local("id").unwrap().value,
        json!(image_id(&sim, "debian-12"))
    );
    assert!(sim.requests().last().unwrap().query.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_image_is_an_error_naming_the_block_and_the_image() {
    let sim = OxideSim::start(OxideSimOptions::default()).await.unwrap();
    // A silo image is not found by a project lookup (no fallback).
    let e = plan_text(&template(
        &sim,
        r#"name = "debian-12"
  project = "imagebake""#,
    ))
    .await
    .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("data \"oxide-image\" \"base\""), "{s}");
    assert!(
        s.contains("\"debian-12\"") && s.contains("imagebake"),
        "{s}"
    );
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(1), "{s}");
    assert!(!s.contains(sim.token()), "{s}");

    let e = plan_text(&template(&sim, r#"name = "no-such-image""#))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"no-such-image\"") && e.contains("silo"), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_and_unknown_arguments_are_errors() {
    let sim = OxideSim::start(OxideSimOptions::default()).await.unwrap();
    let text = template(&sim, r#"name = "debian-12""#).replace(sim.token(), "wrong-token");
    let e = plan_text(&text).await.unwrap_err().to_string();
    assert!(e.contains("data \"oxide-image\" \"base\""), "{e}");
    assert!(!e.contains("wrong-token"), "{e}");

    let e = plan_text(&template(&sim, "name = \"debian-12\"\n  color = \"red\""))
        .await
        .unwrap_err();
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{e}");
    assert!(e.to_string().contains("color") && e.fix.is_some(), "{e}");

    let e = plan_text(&template(&sim, ""))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing required argument `name`"), "{e}");
    sim.shutdown().await;
}
