use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use proptest::prelude::*;

use super::*;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn a_mibe_folder_loads() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "manifest",
        "name=\"web-1.0.0\"\nbase=\"base-64-lts-22.4.0\"\nbrand=\"Web\"\n",
    );
    write(d.path(), "packages", "nginx\n# c\ncurl\n");
    write(d.path(), "customize", "#!/usr/bin/bash\necho hi\n");
    write(d.path(), "motd", "%brand% %version%\n");
    write(d.path(), "copy/opt/app/run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        d.path().join("copy/opt/app/run.sh"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    let s = Spec::load(d.path()).unwrap();
    assert_eq!(s.packages, ["nginx", "curl"]);
    assert_eq!(s.motd_text().as_deref(), Some("Web 1.0.0\n"));
    assert!(s.customize.is_some());
    let paths: Vec<_> = s.copy.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(
        paths,
        [
            ("opt", CopyKind::Dir),
            ("opt/app", CopyKind::Dir),
            ("opt/app/run.sh", CopyKind::File)
        ]
    );
    assert_eq!(s.copy[2].mode, 0o750);
    assert!(s.notes.is_empty());
}

#[test]
fn json_wins_and_the_difference_is_noted() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "manifest", "name=\"web-1.0.0\"\n");
    write(
        d.path(),
        "manifest.json",
        r#"{"name": "web", "version": "1.1.0"}"#,
    );
    let s = Spec::load(d.path()).unwrap();
    assert_eq!(s.metadata.version, "1.1.0");
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    assert!(s.notes[0].contains("`version`") && s.notes[0].contains("manifest.json, used"));
}

#[test]
fn folder_errors_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let e = Spec::load(d.path().join("nope")).unwrap_err();
    assert!(e.to_string().contains("no such directory"), "{e}");
    let e = Spec::load(d.path()).unwrap_err();
    assert!(e.to_string().contains("neither `manifest`"), "{e}");
    write(d.path(), "manifest", "name=\"a-1\"\n");
    std::fs::write(d.path().join("packages"), b"ok\n\xff\n").unwrap();
    let e = Spec::load(d.path()).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.to_string().contains("UTF-8"), "{e}");
    std::fs::write(d.path().join("packages"), b"ok\n").unwrap();
    write(d.path(), "copy", "not a dir");
    let e = Spec::load(d.path()).unwrap_err();
    assert!(e.to_string().contains("must be a directory"), "{e}");
    let err: crate::Error = e.into();
    assert!(err.is_config());
}

#[test]
fn base_references() {
    let id = "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201";
    assert!(matches!(BaseRef::parse(id), Some(BaseRef::Id(_))));
    assert_eq!(
        BaseRef::parse("base-64-lts@22.4.0").unwrap().to_string(),
        "base-64-lts@22.4.0"
    );
    assert_eq!(
        BaseRef::parse("base-64-lts-22.4.0").unwrap().version(),
        Some("22.4.0")
    );
    assert_eq!(
        BaseRef::parse("base-64"),
        Some(BaseRef::Name("base-64".into()))
    );
    assert_eq!(BaseRef::parse("a b"), None);
    assert_eq!(BaseRef::parse("a@"), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_manifest_text_panics(text in "(?s).{0,200}", key in "[a-z]{1,8}", val in ".{0,30}") {
        let _ = parse_manifest(Path::new("m"), &text);
        let _ = parse_manifest(Path::new("m"), &format!("name=\"x-1\"\n{key}=\"{val}\"\n"));
        let _ = parse_manifest(Path::new("m"), &format!("{key}={val}"));
    }

    #[test]
    fn no_json_packages_or_motd_text_panics(text in "(?s).{0,200}") {
        let _ = parse_manifest_json(Path::new("m.json"), &text);
        let _ = parse_packages(Path::new("p"), &text);
        let _ = BaseRef::parse(&text);
        let m = SpecMetadata { name: text.clone(), ..SpecMetadata::default() };
        let _ = render_motd(&text, &m);
        let p = product_text(&m);
        prop_assert_eq!(p.lines().count(), 5);
    }

    #[test]
    fn quoted_values_round_trip(v in "[^\n\r]{0,40}") {
        let escaped: String = v.chars().flat_map(|c| match c {
            '"' | '\\' | '$' | '`' => vec!['\\', c],
            c => vec![c],
        }).collect();
        let m = parse_manifest(Path::new("m"), &format!("name=\"x-1\"\ndescription=\"{escaped}\"\n")).unwrap();
        let want = if v.is_empty() { None } else { Some(v) };
        prop_assert_eq!(m.description, want);
    }
}
