//! Post-processors run for real on a local image file and a stand-in cloud
//! image: the manifest compared byte for byte with Packer's file, checksums
//! against coreutils, shell-local as real processes (and cancelled), and
//! the shell-local provisioner in a build.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imagebake_core::builders::local_chroot::LocalChrootArtifact;
use imagebake_core::builders::{Artifact, ArtifactKind};
use imagebake_core::postprocess::{self, PostCx};
use imagebake_core::steps::chroot::DiskFormat;
use imagebake_core::template::{
    self, Options, Placeholders, Plan, PlannedBuild, PlannedPostProcessor,
};
use imagebake_core::{
    BuildId, CancellationToken, ChannelObserver, CleanupReport, OutputStream, Runner,
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{assert_dead, drain, output_lines, rootfs};

/// A cloud image as the cloud builders make it: an id, no local file.
#[derive(Debug)]
struct CloudImage {
    id: String,
    build: BuildId,
    cleanup: CleanupReport,
}

impl fmt::Display for CloudImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image {}", self.id)
    }
}

impl Artifact for CloudImage {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new("triton", "joyent.triton", "triton")
    }
    fn id(&self) -> Option<String> {
        Some(self.id.clone())
    }
    fn name(&self) -> &str {
        "web-image"
    }
    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build, &self.cleanup)
    }
}

fn cloud_image() -> Arc<dyn Artifact> {
    Arc::new(CloudImage {
        id: "2f1d6f0e-0000-4000-8000-000000000001".into(),
        build: BuildId::generate(),
        cleanup: CleanupReport::default(),
    })
}

/// A working directory with an image file `out/disk.raw` holding `hello`.
struct Local {
    dir: TempDir,
    image: PathBuf,
}

impl Local {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("out/disk.raw");
        fs::create_dir_all(image.parent().unwrap()).unwrap();
        fs::write(&image, "hello").unwrap();
        Self { dir, image }
    }

    fn artifact(&self) -> Arc<dyn Artifact> {
        Arc::new(LocalChrootArtifact {
            path: self.image.clone(),
            format: DiskFormat::Raw,
            build_id: BuildId::generate(),
            cleanup: CleanupReport::default(),
        })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes the template `name` and plans it, in this directory.
    async fn plan(&self, name: &str, text: &str) -> Plan {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        let opts = Options {
            cwd: self.dir.path().to_path_buf(),
            ..Options::default()
        };
        template::plan(&path, &opts, &Placeholders).await.unwrap()
    }
}

/// A post-processor context in `cwd`, and the progress lines it receives.
fn context(cwd: &Path, run_uuid: &str, force: bool) -> (PostCx, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let cx = PostCx {
        build_name: "ignored: run() takes the build's".into(),
        builder_type: "ignored".into(),
        run_uuid: run_uuid.into(),
        cwd: cwd.to_path_buf(),
        sensitive: template::Sensitive::default(),
        progress: Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned())),
        cancel: CancellationToken::new(),
        force,
    };
    (cx, lines)
}

/// Asserts that a progress line starts with `start`.
fn assert_said(lines: &Mutex<Vec<String>>, start: &str) {
    let lines = lines.lock().unwrap();
    assert!(lines.iter().any(|l| l.starts_with(start)), "{lines:?}");
}

fn pp(kind: &str, config: Value) -> PlannedPostProcessor {
    PlannedPostProcessor {
        kind: kind.into(),
        name: kind.into(),
        config,
        keep_input_artifact: None,
        only: Vec::new(),
        except: Vec::new(),
        location: None,
    }
}

/// A build named `web` (Packer's `packer_build_name`) of `builder_type`.
fn build(builder_type: &str, chains: Vec<Vec<PlannedPostProcessor>>) -> PlannedBuild {
    PlannedBuild {
        name: format!("b.{builder_type}.web"),
        packer_build_name: "web".into(),
        build_block: Some("b".into()),
        description: None,
        builder_type: builder_type.into(),
        config: json!({}),
        key_locations: BTreeMap::new(),
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: chains,
        sensitive: template::Sensitive::default(),
    }
}

/// One manifest entry as Packer writes it, at the indent of `builds`.
struct Entry<'a> {
    builder_type: &'a str,
    build_time: Option<i64>,
    files: Option<Vec<(String, u64)>>,
    artifact_id: String,
    run_uuid: &'a str,
    custom_data: Option<Vec<(&'a str, &'a str)>>,
}

impl Entry<'_> {
    fn text(&self) -> String {
        let mut s = String::from("    {\n      \"name\": \"web\",\n");
        s += &format!("      \"builder_type\": \"{}\",\n", self.builder_type);
        if let Some(t) = self.build_time {
            s += &format!("      \"build_time\": {t},\n");
        }
        match &self.files {
            None => s += "      \"files\": null,\n",
            Some(files) => {
                s += "      \"files\": [\n";
                let items: Vec<String> = files
                    .iter()
                    .map(|(n, size)| {
                        format!(
                            "        {{\n          \"name\": \"{n}\",\n          \"size\": {size}\n        }}"
                        )
                    })
                    .collect();
                s += &items.join(",\n");
                s += "\n      ],\n";
            }
        }
        s += &format!("      \"artifact_id\": \"{}\",\n", self.artifact_id);
        s += &format!("      \"packer_run_uuid\": \"{}\",\n", self.run_uuid);
        match &self.custom_data {
            None => s += "      \"custom_data\": null\n",
            Some(kv) => {
                s += "      \"custom_data\": {\n";
                let items: Vec<String> = kv
                    .iter()
                    .map(|(k, v)| format!("        \"{k}\": \"{v}\""))
                    .collect();
                s += &items.join(",\n");
                s += "\n      }\n";
            }
        }
        s + "    }"
    }
}

/// The whole file: the entries, then `last_run_uuid`; no newline at the end.
fn manifest_text(entries: &[String], last_run_uuid: &str) -> String {
    format!(
        "{{\n  \"builds\": [\n{}\n  ],\n  \"last_run_uuid\": \"{last_run_uuid}\"\n}}",
        entries.join(",\n")
    )
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn manifest_is_packer_s_file_byte_for_byte_and_appends_across_runs() {
    let local = Local::new();
    let image = local.image.display().to_string();
    let chain = || {
        vec![vec![pp(
            "manifest",
            json!({"strip_time": true, "custom_data": {"note": "<a&b>", "by": "ci"}}),
        )]]
    };
    let b = build("local-chroot", chain());
    let entry = |run_uuid| {
        Entry {
            builder_type: "local-chroot",
            build_time: None,
            files: Some(vec![(image.clone(), 5)]),
            artifact_id: image.clone(),
            run_uuid,
            custom_data: Some(vec![("by", "ci"), ("note", "\\u003ca\\u0026b\\u003e")]),
        }
        .text()
    };
    let path = local.path("packer-manifest.json");

    let (cx, _) = context(local.dir.path(), "run-1", false);
    let out = postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    assert_eq!(out.len(), 2, "the build's artifact and the chain's");
    assert_eq!(out[0].files(), std::slice::from_ref(&local.image));
    let first = manifest_text(&[entry("run-1")], "run-1");
    assert_eq!(fs::read_to_string(&path).unwrap(), first);
    assert!(!local.path("packer-manifest.json.lock").exists());

    // Another run without -force appends.
    let (cx, _) = context(local.dir.path(), "run-2", false);
    postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let two = manifest_text(&[entry("run-1"), entry("run-2")], "run-2");
    assert_eq!(fs::read_to_string(&path).unwrap(), two);

    // -force from another run starts over; from the same run it appends.
    let (cx, _) = context(local.dir.path(), "run-3", true);
    postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let only_third = manifest_text(&[entry("run-3")], "run-3");
    assert_eq!(fs::read_to_string(&path).unwrap(), only_third);
    postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let same_run = manifest_text(&[entry("run-3"), entry("run-3")], "run-3");
    assert_eq!(fs::read_to_string(&path).unwrap(), same_run);
}

#[tokio::test]
async fn manifest_of_a_cloud_image_has_null_files_a_build_time_and_a_chosen_output() {
    let local = Local::new();
    // An existing file with a key Packer does not know: it is dropped, the
    // entry kept and re-encoded in Packer's order.
    let existing = local.path("m/manifest.json");
    fs::create_dir_all(existing.parent().unwrap()).unwrap();
    fs::write(
        &existing,
        r#"{"last_run_uuid":"old","extra":1,"builds":[{"packer_run_uuid":"old","name":"web","builder_type":"local-chroot","files":[{"name":"disk.raw","size":5}],"artifact_id":"x"}]}"#,
    )
    .unwrap();
    let mut manifest = pp(
        "manifest",
        json!({"output": "m/manifest.json", "strip_path": "true"}),
    );
    manifest.name = "record".into();
    let b = build("triton", vec![vec![manifest]]);
    // A lock left behind by a dead process: Packer writes anyway after its
    // three tries, and removes it.
    let lock = local.path("m/manifest.json.lock");
    fs::write(&lock, "").unwrap();
    let (cx, lines) = context(local.dir.path(), "run-9", false);
    let before = unix_now();
    let out = postprocess::run(&b, cloud_image(), &cx).await.unwrap();
    let after = unix_now();
    assert_eq!(out.len(), 2);
    let text = fs::read_to_string(&existing).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let build_time = parsed["builds"][1]["build_time"].as_i64().unwrap();
    assert!((before..=after).contains(&build_time), "{build_time}");
    let old = Entry {
        builder_type: "local-chroot",
        build_time: None,
        files: Some(vec![("disk.raw".into(), 5)]),
        artifact_id: "x".into(),
        run_uuid: "old",
        custom_data: None,
    };
    let new = Entry {
        builder_type: "triton",
        build_time: Some(build_time),
        files: None,
        artifact_id: "2f1d6f0e-0000-4000-8000-000000000001".into(),
        run_uuid: "run-9",
        custom_data: None,
    };
    assert_eq!(text, manifest_text(&[old.text(), new.text()], "run-9"));
    assert!(!lock.exists());

    // A file that is not a manifest is an error naming it, and stays.
    fs::write(&existing, "not json").unwrap();
    let e = postprocess::run(&b, cloud_image(), &cx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("post-processor record (type manifest) failed") && e.contains("manifest.json"),
        "{e}"
    );
    assert_eq!(fs::read_to_string(&existing).unwrap(), "not json");
    assert_said(&lines, "Running post-processor: record (type manifest)");
}

/// What coreutils' `<kind>sum` says of `file`.
fn coreutils_digest(kind: &str, file: &Path) -> String {
    let out = std::process::Command::new(format!("{kind}sum"))
        .arg(file)
        .output()
        .expect("coreutils");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn checksum_writes_packer_s_files_for_every_type_and_appends() {
    let local = Local::new();
    let types = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
    let b = build(
        "local-chroot",
        vec![vec![pp("checksum", json!({"checksum_types": types}))]],
    );
    let (cx, _) = context(local.dir.path(), "run-1", false);
    let out = postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let files_of = |kind: &str| local.path(&format!("packer_web_local-chroot_{kind}.checksum"));
    for kind in types {
        let want = format!("{}\tdisk.raw\n", coreutils_digest(kind, &local.image));
        assert_eq!(fs::read_to_string(files_of(kind)).unwrap(), want, "{kind}");
    }
    // The chain's artifact: the input's file and the checksum files.
    let mut want = vec![local.image.clone()];
    want.extend(types.iter().map(|k| files_of(k)));
    assert_eq!(out[1].files(), want);
    assert_eq!(out[1].kind().builder_id, "packer.post-processor.checksum");
    assert_eq!(out[1].packer_id(), "");

    // The default type (md5), an output template with a directory, and a
    // second run appending.
    let b = build(
        "local-chroot",
        vec![vec![pp(
            "checksum",
            json!({"output": "sums/{{.BuildName}}-{{ .ChecksumType }}.txt"}),
        )]],
    );
    postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let out = postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    let line = format!("{}\tdisk.raw\n", coreutils_digest("md5", &local.image));
    let sums = local.path("sums/web-md5.txt");
    assert_eq!(fs::read_to_string(&sums).unwrap(), line.repeat(2));
    assert_eq!(
        out[1].files(),
        std::slice::from_ref(&local.image),
        "no new file the second time"
    );

    // A cloud image has no file: nothing is written.
    let b = build("triton", vec![vec![pp("checksum", json!({}))]]);
    let out = postprocess::run(&b, cloud_image(), &cx).await.unwrap();
    assert!(out[1].files().is_empty());
    assert!(!local.path("packer_web_triton_md5.checksum").exists());
}

#[tokio::test]
async fn shell_local_gets_packer_s_variables_and_the_artifact_id() {
    let local = Local::new();
    let mut b = build(
        "local-chroot",
        vec![vec![pp(
            "shell-local",
            json!({
                "inline": [
                    "echo \"$PACKER_BUILD_NAME|$PACKER_BUILDER_TYPE|$GREETING|$OTHER|$PACKER_RUN_UUID|$IMAGEBAKE_ARTIFACT_ID\" > env.txt",
                    "echo from-script",
                    "echo \"other=$OTHER\"",
                ],
                "environment_vars": ["GREETING=it's me"],
                "env": {"OTHER": "x=y"},
            }),
        )]],
    );
    b.sensitive.add(&json!("x=y"));
    let (cx, lines) = context(local.dir.path(), "run-1", false);
    let out = postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        fs::read_to_string(local.path("env.txt")).unwrap(),
        format!(
            "web|local-chroot|it's me|x=y|run-1|{}\n",
            local.image.display()
        )
    );
    assert_said(&lines, "from-script");
    assert_said(&lines, "other=<sensitive>");
    assert_said(&lines, "Running local shell script: /");
}

#[tokio::test]
async fn shell_local_scripts_exit_codes_only_on_and_execute_command() {
    let local = Local::new();
    let script = local.path("step.sh");
    fs::write(&script, "echo \"$1 $PACKER_BUILDER_TYPE\" > script.out\n").unwrap();
    let run = |config: Value| {
        let b = build("local-chroot", vec![vec![pp("shell-local", config)]]);
        let local_artifact = local.artifact();
        let cwd = local.dir.path().to_path_buf();
        async move {
            let (cx, _) = context(&cwd, "run-1", false);
            postprocess::run(&b, local_artifact, &cx).await
        }
    };
    run(json!({
        "script": script,
        "execute_command": ["/bin/sh", "-c", "{{.Vars}} /bin/sh {{.Script}} arg"],
    }))
    .await
    .unwrap();
    assert_eq!(
        fs::read_to_string(local.path("script.out")).unwrap(),
        "arg local-chroot\n"
    );

    run(json!({"inline": ["exit 3"], "valid_exit_codes": [0, 3]}))
        .await
        .expect("3 is a valid exit code");
    let e = run(json!({"inline": ["echo bad >&2", "exit 1"]}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("post-processor shell-local failed")
            && e.contains("status 1")
            && e.contains("bad"),
        "{e}"
    );

    run(json!({"inline": ["touch skipped.txt"], "only_on": ["darwin"]}))
        .await
        .unwrap();
    assert!(!local.path("skipped.txt").exists());
    run(json!({"inline": ["touch linux.txt"], "only_on": ["linux"]}))
        .await
        .unwrap();
    assert!(local.path("linux.txt").exists());
}

#[tokio::test]
async fn a_failing_post_processor_stops_its_chain_only() {
    let local = Local::new();
    let b = build(
        "local-chroot",
        vec![
            vec![
                pp("shell-local", json!({"inline": ["exit 7"]})),
                pp("manifest", json!({"output": "never.json"})),
            ],
            vec![pp("manifest", json!({"output": "second.json"}))],
        ],
    );
    let (cx, _) = context(local.dir.path(), "run-1", false);
    let e = postprocess::run(&b, local.artifact(), &cx)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("post-processor shell-local failed"), "{e}");
    assert!(!local.path("never.json").exists());
    assert!(local.path("second.json").exists(), "the other chain ran");
    assert!(local.image.exists(), "manifest kept the build's file");
}

#[tokio::test]
async fn keep_input_artifact_false_is_overridden_by_post_processors_that_force_keeping() {
    let local = Local::new();
    let mut checksum = pp("checksum", json!({}));
    checksum.keep_input_artifact = Some(false);
    let mut manifest = pp("manifest", json!({"strip_time": true}));
    manifest.keep_input_artifact = Some(false);
    let b = build("local-chroot", vec![vec![checksum, manifest]]);
    let (cx, lines) = context(local.dir.path(), "run-1", false);
    let out = postprocess::run(&b, local.artifact(), &cx).await.unwrap();
    // The build's file, the checksum artifact (kept by manifest), and the
    // chain's last (manifest hands the checksum artifact on).
    assert_eq!(out.len(), 3);
    assert!(local.image.exists());
    assert!(local.path("packer_web_local-chroot_md5.checksum").exists());
    assert_said(
        &lines,
        "The checksum post-processor keeps its input artifact",
    );
}

#[tokio::test]
async fn cancelling_kills_the_shell_local_process() {
    let local = Local::new();
    let pid_file = local.path("pid");
    let b = build(
        "local-chroot",
        vec![vec![pp(
            "shell-local",
            json!({"inline": [format!("echo $$ > {}", pid_file.display()), "sleep 1000"]}),
        )]],
    );
    let (cx, _) = context(local.dir.path(), "run-1", false);
    let cancel = cx.cancel.clone();
    let artifact = local.artifact();
    let task = tokio::spawn(async move { postprocess::run(&b, artifact, &cx).await });
    for _ in 0..600 {
        if fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n')) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    let e = task.await.unwrap().unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert_dead(&pid_file);
}

#[tokio::test]
async fn a_cancelled_run_skips_post_processing() {
    let local = Local::new();
    let b = build("local-chroot", vec![vec![pp("manifest", json!({}))]]);
    let (cx, _) = context(local.dir.path(), "run-1", false);
    cx.cancel.cancel();
    let e = postprocess::run(&b, local.artifact(), &cx)
        .await
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(!local.path("packer-manifest.json").exists());
}

#[test]
fn check_names_the_post_processor_and_the_key() {
    let err = |kind: &str, config: Value| {
        let b = build("local-chroot", vec![vec![pp(kind, config)]]);
        postprocess::check(&b).unwrap_err().to_string()
    };
    let e = err("manifest", json!({"bogus": 1}));
    assert!(
        e.contains("post-processor manifest: unknown key `bogus`")
            && e.contains("b.local-chroot.web"),
        "{e}"
    );
    let e = err("manifest", json!({"strip_path": "maybe"}));
    assert!(e.contains("key `strip_path`"), "{e}");
    let e = err("checksum", json!({"checksum_types": ["crc32"]}));
    assert!(
        e.contains("key `checksum_types`") && e.contains("crc32"),
        "{e}"
    );
    let e = err("checksum", json!({"output": "{{.Nope}}"}));
    assert!(e.contains("key `output`") && e.contains("Nope"), "{e}");
    let e = err(
        "shell-local",
        json!({"inline": ["x"], "script": "/nonexistent"}),
    );
    assert!(e.contains("key `script`"), "{e}");
    let e = err("shell-local", json!({"script": "/nonexistent/s.sh"}));
    assert!(e.contains("bad script"), "{e}");
    let e = err(
        "shell-local",
        json!({"inline": ["x"], "only_on": ["plan9"]}),
    );
    assert!(e.contains("key `only_on`"), "{e}");
    let e = err(
        "shell-local",
        json!({"inline": ["x"], "environment_vars": ["NOEQUALS"]}),
    );
    assert!(e.contains("key `environment_vars`"), "{e}");
    let e = err("shell-local", json!({}));
    assert!(e.contains("missing required key `inline`"), "{e}");
    let e = err("compress", json!({}));
    assert!(e.contains("\"compress\" is not supported"), "{e}");
    let ok = build(
        "local-chroot",
        vec![vec![
            pp("manifest", json!({"packer_force": true})),
            pp("checksum", json!({"checksum_types": "sha256"})),
            pp("shell-local", json!({"inline": "true"})),
        ]],
    );
    postprocess::check(&ok)
        .expect("weakly typed values are decoded, Packer's own keys ignored, as Packer's decoder");
}

#[tokio::test]
async fn a_json_template_s_post_processors_run_for_the_builds_they_name() {
    let local = Local::new();
    let plan = local
        .plan(
            "t.json",
            &json!({
                "builders": [
                    {"type": "local-chroot", "name": "web", "output_path": "/x.raw"},
                    {"type": "local-chroot", "name": "db", "output_path": "/y.raw"}
                ],
                "post-processors": [
                    {"type": "manifest", "strip_time": true},
                    [{"type": "shell-local", "inline": ["touch for-db"], "only": ["db"]}]
                ]
            })
            .to_string(),
        )
        .await;
    let (cx, _) = context(local.dir.path(), "run-1", false);
    let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["db", "web"], "builds run sorted by name");
    for (b, for_db) in [(&plan.builds[1], false), (&plan.builds[0], true)] {
        postprocess::check(b).unwrap();
        postprocess::run(b, local.artifact(), &cx).await.unwrap();
        assert_eq!(local.path("for-db").exists(), for_db, "after {}", b.name);
    }
    let m: Value =
        serde_json::from_str(&fs::read_to_string(local.path("packer-manifest.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = m["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "db"]);
}

#[tokio::test]
async fn shell_local_provisioner_runs_on_the_host_during_the_build() {
    let local = Local::new();
    let out = local.path("prov.txt");
    let step = imagebake_core::packer_template::provisioner(&json!({
        "type": "shell-local",
        "inline": [
            format!("echo \"$PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $IMAGEBAKE_BUILD_ID\" > {}", out.display()),
            "echo on-host",
        ],
        "packer_build_name": "web",
        "packer_builder_type": "local-chroot",
    }))
    .unwrap();
    let fs_root = rootfs();
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let comm = fs_root.dyn_comm();
    let built = runner
        .run("provision", CancellationToken::new(), |cx| async move {
            cx.step(&*step, comm).await
        })
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("web local-chroot {}\n", built.build_id)
    );
    let lines = output_lines(&drain(&mut rx));
    assert!(
        lines.contains(&(OutputStream::Stdout, "on-host".to_owned())),
        "{lines:?}"
    );

    // Packer's own keys, as a runner hands them to every provisioner.
    imagebake_core::packer_template::provisioner(&json!({
        "type": "shell", "inline": ["true"], "packer_build_name": "web", "packer_force": true,
    }))
    .expect("packer_* keys are ignored where not used");
    let e = match imagebake_core::packer_template::provisioner(
        &json!({"type": "shell-local", "inline": ["x"], "remote_folder": "/tmp"}),
    ) {
        Ok(_) => panic!("an unknown key is refused"),
        Err(e) => e,
    };
    assert_eq!(e.config_key(), Some("remote_folder"));
    assert!(
        e.to_string()
            .contains("provisioner shell-local: unknown key"),
        "{e}"
    );
}

#[tokio::test]
async fn an_hcl2_build_s_shell_local_provisioner_and_post_processor_chain() {
    let local = Local::new();
    let plan = local
        .plan(
            "t.pkr.hcl",
            r#"
source "local-chroot" "web" {
  output_path = "/x.raw"
}

build {
  sources = ["source.local-chroot.web"]

  provisioner "shell-local" {
    inline = ["echo hi"]
  }

  post-processors {
    post-processor "checksum" {
      checksum_types = ["sha256"]
    }
    post-processor "manifest" {
      output     = "m.json"
      strip_path = true
      strip_time = true
    }
  }

  post-processor "shell-local" {
    only   = ["local-chroot.other"]
    inline = ["touch never"]
  }

  post-processor "shell-local" {
    execute_command = ["/bin/sh", "-c", "{{.Vars}} /bin/sh {{ .Script }}"]
    inline          = ["echo $PACKER_BUILD_NAME > hcl.txt"]
  }
}
"#,
        )
        .await;
    let b = &plan.builds[0];
    let p = &b.provisioners[0];
    let mut block = p.config.clone();
    block["type"] = json!(p.kind);
    imagebake_core::packer_template::provisioner(&block).expect("shell-local is a provisioner");
    assert_eq!(b.post_processors.len(), 2, "`only` left one chain out");
    postprocess::check(b).unwrap();
    let (cx, _) = context(local.dir.path(), "run-1", false);
    postprocess::run(b, local.artifact(), &cx).await.unwrap();
    // The manifest records what checksum handed on: the image and the
    // checksum file, and no id (Packer's checksum artifact has none).
    let sums = "packer_web_local-chroot_sha256.checksum";
    let entry = Entry {
        builder_type: "local-chroot",
        build_time: None,
        files: Some(vec![
            ("disk.raw".into(), 5),
            (sums.into(), 64 + 1 + "disk.raw".len() as u64 + 1),
        ]),
        artifact_id: String::new(),
        run_uuid: "run-1",
        custom_data: None,
    };
    assert_eq!(
        fs::read_to_string(local.path("m.json")).unwrap(),
        manifest_text(&[entry.text()], "run-1")
    );
    assert!(!local.path("never").exists());
    assert_eq!(fs::read_to_string(local.path("hcl.txt")).unwrap(), "web\n");
}
