//! The template engine: HCL2 and JSON templates from files, evaluated into
//! plans, and bad input reported with file:line:col.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use imagebake_core::template::{
    self, DataSources, Options, Placeholders, Plan, TemplateError, TemplateKind,
};
use serde_json::{Map, Value, json};

mod bad_input;
mod oxide_data;
mod pkr_json;
mod proptests;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

fn opts(env: &[(&str, &str)]) -> Options {
    Options {
        vars: Vec::new(),
        var_files: Vec::new(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        cwd: fixtures(),
        init_time: Some(UNIX_EPOCH + Duration::from_secs(1_514_934_721)),
    }
}

fn run(path: &Path, o: &Options) -> Result<Plan, TemplateError> {
    futures::executor::block_on(template::plan(path, o, &Placeholders))
}

/// Answers `oxide-image` lookups from a table, recording the arguments.
struct FakeImages;

#[async_trait::async_trait]
impl DataSources for FakeImages {
    async fn read(
        &self,
        kind: &str,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        assert_eq!((kind, name), ("oxide-image", "base"));
        if args.get("name") != Some(&json!("ubuntu-24.04"))
            || args.get("project") != Some(&json!("images"))
        {
            return Err(format!(
                "no image {:?} in project {:?}",
                args.get("name"),
                args.get("project")
            ));
        }
        let mut m = Map::new();
        m.insert(
            "image_id".into(),
            json!("0d0e4a1e-0000-4000-8000-000000000001"),
        );
        Ok(m)
    }
}

#[test]
fn hcl2_directory_evaluates_every_feature() {
    let mut o = opts(&[
        ("IMAGEBAKE_TEST_REGION", "eu-west-2"),
        ("PKR_VAR_debug", "true"),
    ]);
    o.var_files
        .push(PathBuf::from("varfiles/override.pkrvars.hcl"));
    let plan =
        futures::executor::block_on(template::plan(Path::new("full"), &o, &FakeImages)).unwrap();
    assert_eq!(plan.kind, TemplateKind::Hcl2);

    // Variables: default, env() in a default, PKR_VAR_ (bool from "true"),
    // auto var file, -var-file over the auto file.
    let var = |n: &str| plan.variable(n).unwrap().value.clone();
    assert_eq!(var("image_version"), json!("2.0.0"));
    assert_eq!(var("from_env"), json!("eu-west-2"));
    assert_eq!(var("debug"), json!(true));
    assert_eq!(var("layer"), json!(2));
    assert_eq!(var("token"), json!("s3cret-token"));
    assert!(plan.variable("token").unwrap().sensitive);
    // Sensitive values are in the plan, masked in every Debug.
    assert_eq!(plan.builds[1].config["token"], json!("s3cret-token"));
    let shown = format!("{plan:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("<sensitive>"), "{shown}");
    assert!(!format!("{:?}", plan.variable("token").unwrap()).contains("s3cret"));
    assert_eq!(
        plan.sensitive.mask("token=s3cret-token"),
        "token=<sensitive>"
    );
    assert_eq!(
        plan.variable("image_version")
            .unwrap()
            .description
            .as_deref(),
        Some("Version of the image.")
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("undeclared variable `undeclared`")),
        "{:?}",
        plan.warnings
    );

    // Builds: `sources` first, then `source` blocks; names with the build name.
    let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "images.triton.web",
            "images.oxide-instance.vm",
            "images.osc-chroot.renamed"
        ]
    );

    let web = &plan.builds[0];
    assert_eq!(web.builder_type, "triton");
    assert_eq!(web.packer_build_name, "web");
    assert_eq!(web.description.as_deref(), Some("The images."));
    assert_eq!(
        web.config,
        json!({
            "triton_account": "acct",
            "image_name": "web-2.0.0",
            "image_version": "2.0.0-20240305",
            "image_tags": {"team": "bake", "layer": "2"},
            "ssh_username": "root",
            "debug_flag": "debug",
            "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
            "source_machine_tag": [{"key": "role", "value": "web"}, {"key": "layer", "value": 12}],
        })
    );
    let loc = web.locate("image_name").unwrap();
    assert!(
        loc.file.ends_with("full/build.pkr.hcl") && loc.line == 22,
        "{loc}"
    );

    // The data source went through the hook; `{{timestamp}}` is left to
    // oxide-instance (which does no Go-template pass).
    let vm = &plan.builds[1];
    assert_eq!(
        vm.config["boot_disk_image_id"],
        json!("0d0e4a1e-0000-4000-8000-000000000001")
    );
    assert_eq!(vm.config["name"], json!("packer-{{timestamp}}"));

    // Nested blocks, Go-template passthrough, the override's added key.
    let omi = &plan.builds[2];
    assert_eq!(omi.packer_build_name, "omi");
    assert_eq!(omi.config["omi_name"], json!("omi-web-2.0.0-002"));
    assert_eq!(
        omi.config["pre_mount_commands"],
        json!(["parted {{.Device}} mklabel msdos"])
    );
    assert_eq!(omi.config["mount_path"], json!("/mnt/{{.Device}}"));
    assert_eq!(omi.config["region"], json!("eu-west-2"));
    assert_eq!(
        omi.config["source_omi_filter"],
        json!({"filters": {"image-name": "Ubuntu-*"}, "owners": ["Outscale"], "most_recent": true})
    );
    assert_eq!(
        omi.config["omi_block_device_mappings"],
        json!([{"device_name": "/dev/sda1", "volume_size": 10}, {"device_name": "/dev/sdb", "volume_size": 20}])
    );

    // Provisioners: meta keys, only/except on TYPE.NAME, override per source.
    let kinds = |b: &imagebake_core::template::PlannedBuild| {
        b.provisioners
            .iter()
            .map(|p| p.kind.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(web), ["shell", "shell", "file"]);
    assert_eq!(kinds(vm), ["shell", "file"]);
    assert_eq!(kinds(omi), ["shell"]);
    let shell = &web.provisioners[0];
    assert_eq!(
        shell.config["inline"],
        json!(["echo Hello bakers!", "echo ${HOME} {{ .Vars }}"])
    );
    assert_eq!(
        shell.config["execute_command"],
        json!("chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'")
    );
    assert_eq!(
        shell.config["environment_vars"],
        json!(["BUILD=images", "SOURCE=web"])
    );
    assert_eq!(shell.pause_before, Some(Duration::from_secs(5)));
    assert_eq!(shell.timeout, Some(Duration::from_secs(300)));
    assert_eq!(shell.max_retries, 2);
    assert_eq!(
        omi.provisioners[0].config["environment_vars"],
        json!(["BUILD=images", "SOURCE=renamed"])
    );
    assert_eq!(vm.provisioners[1].config["destination"], json!("/tmp/vm"));
    assert_eq!(web.provisioners[2].config["destination"], json!("/tmp/x"));

    // Post-processors: a chain of one, then a chain of two.
    let chains: Vec<Vec<(String, String)>> = web
        .post_processors
        .iter()
        .map(|c| c.iter().map(|p| (p.kind.clone(), p.name.clone())).collect())
        .collect();
    assert_eq!(
        chains,
        [
            vec![("manifest".into(), "manifest".into())],
            vec![
                ("checksum".into(), "checksum".into()),
                ("shell-local".into(), "notify".into())
            ]
        ]
    );
    assert_eq!(
        web.post_processors[0][0].config,
        json!({"output": "manifest-web.json", "strip_path": true})
    );
    assert_eq!(web.post_processors[1][1].keep_input_artifact, Some(true));

    // Locals computed by functions.
    assert_eq!(vm.config["project"], json!("images"));
    let local = |n: &str| plan.local(n).unwrap().value.clone();
    assert_eq!(
        local("script_dir"),
        json!("full"),
        "path.root is the directory as given"
    );
    assert_eq!(local("packages"), json!(["CURL", "JQ"]));
    assert_eq!(local("chosen"), json!("web-2.0.0"));
    assert_eq!(local("size_mb"), json!(2));
    assert_eq!(local("maybe"), json!("debug"));
}

#[test]
fn variable_precedence_follows_packer() {
    // Only env and the auto file: x=1 for the directory, x=0 for the file
    // (no auto var files for a single file), -var beats -var-file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.pkr.hcl"), "variable \"x\" { type = number }\nsource \"triton\" \"a\" { v = var.x }\nbuild { sources = [\"source.triton.a\"] }\n").unwrap();
    std::fs::write(dir.path().join("a.auto.pkrvars.hcl"), "x = 1\n").unwrap();
    std::fs::write(dir.path().join("f.pkrvars.hcl"), "x = 2\n").unwrap();
    let mut o = opts(&[("PKR_VAR_x", "0")]);
    o.cwd = dir.path().to_path_buf();
    let x = |p: &str, o: &Options| run(Path::new(p), o).unwrap().builds[0].config["v"].clone();
    assert_eq!(x(".", &o), json!(1));
    assert_eq!(x("t.pkr.hcl", &o), json!(0));
    let o2 = o.clone().var("x", "3").var_file("f.pkrvars.hcl");
    assert_eq!(x(".", &o2), json!(3));
    assert_eq!(x(".", &o.clone().var_file("f.pkrvars.hcl")), json!(2));
}

#[test]
fn json_and_hcl2_give_the_same_plan() {
    let o = opts(&[]);
    let hcl = run(Path::new("same/web.pkr.hcl"), &o).unwrap();
    let js = run(Path::new("same/web.json"), &o).unwrap();
    assert_eq!(js.kind, TemplateKind::Json);
    assert_eq!((hcl.builds.len(), js.builds.len()), (1, 1));
    let (h, j) = (&hcl.builds[0], &js.builds[0]);
    assert_eq!(h.name, "triton.web");
    assert_eq!(j.name, "web");
    assert_eq!(h.config["image_version"], json!("1.0.1514934721"));
    assert_eq!(h.builder_type, j.builder_type);
    assert_eq!(h.packer_build_name, j.packer_build_name);
    assert_eq!(h.config, j.config);
    let strip = |b: &imagebake_core::template::PlannedBuild| {
        (
            b.provisioners
                .iter()
                .map(|p| {
                    (
                        p.kind.clone(),
                        p.config.clone(),
                        p.max_retries,
                        p.pause_before,
                    )
                })
                .collect::<Vec<_>>(),
            b.post_processors
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|p| {
                            (
                                p.kind.clone(),
                                p.name.clone(),
                                p.config.clone(),
                                p.keep_input_artifact,
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(strip(h), strip(j));
    assert_eq!(
        h.post_processors[1][1].config["inline"],
        json!(["echo web"])
    );
    assert_eq!(hcl.variables, js.variables);
}

#[test]
fn json_templates_render_packer_functions() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.json");
    std::fs::write(
        &t,
        r#"{
  "variables": {"region": "{{env `IB_REGION`}}", "name": "img-{{user `region`}}", "secret": "", "req": null},
  "sensitive-variables": ["secret"],
  "builders": [
    {"type": "osc-chroot", "name": "b", "omi_name": "{{user `name`}}-{{isotime \"20060102\"}}",
     "mount_path": "/mnt/{{.Device}}", "most_recent": "true", "dir": "{{template_dir}}", "bt": "{{build_type}}/{{build_name}}"},
    {"type": "oxide-instance", "name": "a", "name_tpl": "packer-{{timestamp}}"}
  ],
  "provisioners": [{"type": "shell", "only": ["b"], "inline": ["{{user `secret`}}"], "pause_before": "10s"}],
  "post-processors": ["manifest", [{"type": "shell-local", "inline": ["x"], "keep_input_artifact": "true", "except": ["a"]}]]
}"#,
    )
    .unwrap();
    let o = opts(&[("IB_REGION", "eu")])
        .var("secret", "pw-123")
        .var("req", "given");
    let plan = run(&t, &o).unwrap();
    let names: Vec<&str> = plan.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "builds run sorted by name");
    let b = plan.build("b").unwrap();
    assert_eq!(b.config["omi_name"], json!("img-eu-20180102"));
    assert_eq!(b.config["mount_path"], json!("/mnt/{{.Device}}"));
    assert_eq!(
        b.config["most_recent"],
        json!("true"),
        "weak decoding is the builder's job"
    );
    assert_eq!(b.config["dir"], json!(dir.path().to_string_lossy()));
    assert_eq!(b.config["bt"], json!("osc-chroot/b"));
    assert_eq!(b.provisioners[0].config["inline"], json!(["pw-123"]));
    assert_eq!(
        b.provisioners[0].pause_before,
        Some(Duration::from_secs(10))
    );
    assert_eq!(plan.sensitive.mask("pw-123"), "<sensitive>");
    assert_eq!(b.post_processors.len(), 2);
    assert_eq!(b.post_processors[1][0].keep_input_artifact, Some(true));
    let a = plan.build("a").unwrap();
    assert_eq!(a.config["name_tpl"], json!("packer-{{timestamp}}"));
    assert!(a.provisioners.is_empty());
    assert_eq!(
        a.post_processors.len(),
        1,
        "the shell-local chain excepts build a"
    );
}

#[test]
fn only_and_except_select_builds_as_packer_does() {
    let o = opts(&[("PKR_VAR_token", "t")]);
    let full =
        futures::executor::block_on(template::plan(Path::new("full"), &o, &FakeImages)).unwrap();
    let names = |p: &Plan| p.builds.iter().map(|b| b.name.clone()).collect::<Vec<_>>();

    let mut p = full.clone();
    p.select(&["*.triton.*".into()], &[]).unwrap();
    assert_eq!(names(&p), ["images.triton.web"]);

    let mut p = full.clone();
    assert_eq!(
        p.select(&["triton.web".into()], &[]).unwrap_err().message,
        "No builds to run"
    );

    let mut p = full.clone();
    p.select(&[], &["images.oxide-instance.vm".into(), "notify".into()])
        .unwrap();
    assert_eq!(
        names(&p),
        ["images.triton.web", "images.osc-chroot.renamed"]
    );
    // -except on a post-processor name drops it and the rest of its chain.
    assert_eq!(p.builds[0].post_processors.len(), 2);
    assert_eq!(p.builds[0].post_processors[1].len(), 1);

    let mut js = run(Path::new("same/web.json"), &o).unwrap();
    let mut js2 = js.clone();
    js.select(&["web".into()], &[]).unwrap();
    assert!(
        js2.select(&["w*".into()], &[]).is_err(),
        "JSON names match exactly"
    );
}

/// Records the data-source lookups it answers.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<Map<String, Value>>>);

#[async_trait::async_trait]
impl DataSources for Recorder {
    async fn read(
        &self,
        _kind: &str,
        _name: &str,
        args: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        self.0.lock().unwrap().push(args.clone());
        let mut m = Map::new();
        m.insert(
            "image_id".into(),
            json!("5e1f0000-0000-4000-8000-000000000002"),
        );
        Ok(m)
    }
}

#[test]
fn oxide_doc_shaped_example_plans_with_and_without_lookups() {
    let o = opts(&[]);
    let rec = Recorder::default();
    let plan =
        futures::executor::block_on(template::plan(Path::new("oxide/example.pkr.hcl"), &o, &rec))
            .unwrap();
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec![json!({"name": "ubuntu-24.04"}).as_object().unwrap().clone()],
        "a silo lookup: no project"
    );
    let b = &plan.builds[0];
    assert_eq!(b.name, "oxide-instance.example");
    assert_eq!(
        b.config["boot_disk_image_id"],
        json!("5e1f0000-0000-4000-8000-000000000002")
    );
    assert_eq!(b.config["artifact_name"], json!("ubuntu-baked-2026-01-02"));
    let kinds: Vec<&str> = b.provisioners.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(kinds, ["shell", "file", "shell", "shell"]);
    assert_eq!(
        b.provisioners[3].config,
        json!({"expect_disconnect": true, "inline": ["sudo reboot"]})
    );

    // validate: no lookup, Packer's placeholder.
    let plan = run(Path::new("oxide/example.pkr.hcl"), &o).unwrap();
    assert_eq!(
        plan.builds[0].config["boot_disk_image_id"],
        json!("<unknown>")
    );
}

#[test]
fn a_failed_lookup_names_the_data_block() {
    let o = opts(&[("PKR_VAR_token", "t")]);
    struct Missing;
    #[async_trait::async_trait]
    impl DataSources for Missing {
        async fn read(
            &self,
            _: &str,
            _: &str,
            _: &Map<String, Value>,
        ) -> Result<Map<String, Value>, String> {
            Err("image \"ubuntu-24.04\" not found in project \"images\"".into())
        }
    }
    let e =
        futures::executor::block_on(template::plan(Path::new("full"), &o, &Missing)).unwrap_err();
    let l = e.location.as_ref().unwrap();
    assert!(
        l.file.ends_with("full/build.pkr.hcl") && l.line == 15,
        "{e}"
    );
    assert!(
        e.to_string().contains("data \"oxide-image\" \"base\"")
            && e.to_string().contains("not found"),
        "{e}"
    );
}

#[test]
fn builder_errors_are_located_at_the_key() {
    // The triton builder refuses a key it does not know; the plan says
    // where that key was written.
    let o = opts(&[("PKR_VAR_token", "t")]);
    let plan =
        futures::executor::block_on(template::plan(Path::new("full"), &o, &FakeImages)).unwrap();
    let web = &plan.builds[0];
    let mut block = web.config.clone();
    block["type"] = json!(web.builder_type);
    let err = imagebake_core::packer_template::Template::single(block, vec![])
        .and_then(|t| t.builder(None).map(|_| ()))
        .unwrap_err();
    // Whichever key the builder names, the error points at its line.
    let key = err
        .config_key()
        .expect("the builder names the key")
        .to_owned();
    let text = std::fs::read_to_string(fixtures().join("full/build.pkr.hcl")).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.trim_start().starts_with(&format!("{key} ")))
        .unwrap();
    let located = web.config_error(&err);
    let l = located.location.as_ref().unwrap();
    assert!(
        l.file.ends_with("full/build.pkr.hcl") && l.line == line,
        "{located} ({key} is on line {line})"
    );
}

#[test]
fn expressions_heredocs_and_directives() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.pkr.hcl"),
        r#"
variable "tags" {
  type = map(string)
}
locals {
  script = <<-EOT
    #!/bin/sh
    %{ for k, v in var.tags ~}
    echo ${k}=${v}
    %{ endfor ~}
    echo $${HOME} %%{literal}
  EOT
  names   = [for o in [{ n = "a" }, { n = "b" }] : o.n]
  splat   = [{ n = "a" }, { n = "b" }][*].n
  grouped = { for s in ["ab", "ac", "b"] : substr(s, 0, 1) => s... }
  fallback = try(var.tags.missing, "none")
  has      = can(var.tags.team)
  math     = 7 / 2 + 10 % 4 - -1
  cmp      = 3 >= 2 && !false || false
}
source "triton" "a" {
  script   = local.script
  names    = local.names
  splat    = local.splat
  grouped  = local.grouped
  fallback = local.fallback
  has      = local.has
  math     = local.math
  cmp      = local.cmp
}
build { sources = ["source.triton.a"] }
"#,
    )
    .unwrap();
    let mut o = opts(&[]).var("tags", r#"{ team = "bake", env = "prod" }"#);
    o.cwd = dir.path().to_path_buf();
    let plan = run(Path::new("t.pkr.hcl"), &o).unwrap();
    let c = &plan.builds[0].config;
    assert_eq!(
        c["script"],
        json!("#!/bin/sh\necho env=prod\necho team=bake\necho ${HOME} %{literal}\n")
    );
    assert_eq!(c["names"], json!(["a", "b"]));
    assert_eq!(c["splat"], json!(["a", "b"]));
    assert_eq!(c["grouped"], json!({"a": ["ab", "ac"], "b": ["b"]}));
    assert_eq!(c["fallback"], json!("none"));
    assert_eq!(c["has"], json!(true));
    assert_eq!(c["math"], json!(6.5));
    assert_eq!(c["cmp"], json!(true));
}
