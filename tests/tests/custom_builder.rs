//! A builder written outside imagebake-core, registered with a
//! `BuilderRegistry` and run from a Packer template like the built-in ones:
//! its keys decoded with errors naming them, its artifact seen through the
//! `Artifact` trait and turned back into its own type, its undo run when the
//! build fails.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use imagebake_core::bake::{self, BakeError, BakeOptions};
use imagebake_core::builders::packer::decode;
use imagebake_core::builders::{
    Artifact, ArtifactKind, Builder, BuilderConfig, BuilderRegistry, Provisioners, TemplateVars,
};
use imagebake_core::steps::common::CommPlan;
use imagebake_core::{
    BuildError, BuildId, CancellationToken, CleanupReport, Error, Resource, Runner, from_fn,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;

mod support;

/// The keys of the `note-file` builder.
#[derive(Debug, Deserialize)]
struct NoteConfig {
    path: PathBuf,
    text: String,
    #[serde(default)]
    fail_after_write: bool,
}

impl BuilderConfig for NoteConfig {
    fn from_block(block: &Value) -> Result<Self, Error> {
        let keys = ["path", "text", "fail_after_write"];
        decode("note-file", block, &keys, &["path"])
    }
}

/// Writes a note file (`{{timestamp}}` expanded in its text); removes it
/// again when the build fails.
#[derive(Debug)]
struct NoteBuilder {
    config: NoteConfig,
    provisioners: Provisioners,
}

/// The note written.
#[derive(Debug)]
struct NoteArtifact {
    path: PathBuf,
    text: String,
    build_id: BuildId,
    cleanup: CleanupReport,
}

impl fmt::Display for NoteArtifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Note written: {}", self.path.display())
    }
}

impl Artifact for NoteArtifact {
    fn kind(&self) -> ArtifactKind {
        ArtifactKind::new("note-file", "example.note-file", "local")
    }
    fn id(&self) -> Option<String> {
        Some(self.path.display().to_string())
    }
    fn name(&self) -> &str {
        "note"
    }
    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
    fn build(&self) -> (&BuildId, &CleanupReport) {
        (&self.build_id, &self.cleanup)
    }
}

impl Builder for NoteBuilder {
    const TYPE: &'static str = "note-file";
    const ALIASES: &'static [&'static str] = &["note"];
    type Config = NoteConfig;
    type Artifact = NoteArtifact;

    fn with_vars(mut config: NoteConfig, vars: &TemplateVars) -> Result<Self, Error> {
        config.text = vars.expand("note-file", "text", &config.text)?;
        let provisioners = Provisioners::default();
        Ok(Self {
            config,
            provisioners,
        })
    }

    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<NoteArtifact, BuildError> {
        if let Some(e) = self
            .provisioners
            .refusal("note-file", &CommPlan::None, runner)
        {
            return Err(e);
        }
        let c = &self.config;
        let built = runner
            .run("note", token, |cx| async move {
                let write = from_fn(
                    "write note",
                    |cx, (path, text): (PathBuf, String)| async move {
                        std::fs::write(&path, &text)
                            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                        let undo_path = path.clone();
                        cx.on_failure(
                            Resource::new("note", path.display().to_string()),
                            move |_| async move {
                                std::fs::remove_file(&undo_path)
                                    .map_err(|e| Error::io("removing the note", e))
                            },
                        );
                        Ok(path)
                    },
                );
                let path = cx.step(&write, (c.path.clone(), c.text.clone())).await?;
                if c.fail_after_write {
                    return Err(Error::Config("asked to fail".to_owned()));
                }
                Ok(path)
            })
            .await?;
        Ok(NoteArtifact {
            path: built.value,
            text: c.text.clone(),
            build_id: built.build_id,
            cleanup: built.cleanup,
        })
    }

    /// A note has no communicator: provisioners make the build fail at once.
    fn provisioners_mut(&mut self) -> &mut Provisioners {
        &mut self.provisioners
    }
}

fn registry() -> Arc<BuilderRegistry> {
    let mut r = BuilderRegistry::default();
    r.register::<NoteBuilder>();
    Arc::new(r)
}

fn options(registry: Arc<BuilderRegistry>) -> (BakeOptions, Arc<Mutex<Vec<String>>>) {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = lines.clone();
    let o = BakeOptions {
        registry,
        progress: Arc::new(move |line: &str| l.lock().unwrap().push(line.to_owned())),
        ..BakeOptions::default()
    };
    (o, lines)
}

#[tokio::test]
async fn a_registered_builder_runs_from_a_template() {
    let dir = TempDir::new().unwrap();
    let a = dir.path().join("a.txt");
    let b = dir.path().join("b.txt");
    let template = json!({"builders": [
        {"type": "note-file", "name": "first", "path": a, "text": "made at {{timestamp}}"},
        {"type": "note", "name": "second", "path": b, "text": "by alias"},
    ]});
    let (opts, lines) = options(registry());
    let t = support::plan_json(&template, Default::default())
        .await
        .expect("the template loads");
    let artifacts = bake::run(&t, &opts, CancellationToken::new())
        .await
        .expect("both builds succeed");

    assert_eq!(artifacts.len(), 2);
    let first = artifacts[0].as_ref();
    assert_eq!(first.builder_type(), "note-file");
    assert_eq!(first.packer_id(), a.display().to_string());
    assert_eq!(first.files(), std::slice::from_ref(&a));
    let note = first
        .downcast_ref::<NoteArtifact>()
        .expect("a NoteArtifact");
    assert!(note.text.starts_with("made at 1"), "{}", note.text);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), note.text);
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "by alias");
    let j = serde_json::to_value(first).unwrap();
    assert_eq!(j["builder_id"], "example.note-file");
    assert_eq!(j["files"], json!([a]));
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Build 'second' finished after ")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_registered_builder_s_keys_and_undo_work_as_the_built_in_ones() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("note.txt");
    let (opts, _) = options(registry());

    // Its keys are checked before any build starts.
    let t = support::plan_json(
        &json!({"builders": [{"type": "note-file", "path": path, "txet": "x"}]}),
        Default::default(),
    )
    .await
    .unwrap();
    let e = bake::run(&t, &opts, CancellationToken::new())
        .await
        .expect_err("unknown key");
    assert!(
        e.to_string()
            .contains("builder note-file: unknown key `txet`"),
        "{e}"
    );

    // A failed build runs its undo.
    let t = support::plan_json(
        &json!({"builders": [{"type": "note-file", "path": path, "text": "x",
                              "fail_after_write": true}]}),
        Default::default(),
    )
    .await
    .unwrap();
    let e = bake::run(&t, &opts, CancellationToken::new())
        .await
        .expect_err("asked to fail");
    let BakeError::Builds { failed, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        failed[0].error.build_error().unwrap().cleanup.is_clean(),
        "{}",
        failed[0].error
    );
    assert_eq!(
        failed[0].error.build_error().unwrap().cleanup.entries.len(),
        1
    );
    assert!(!path.exists(), "the undo removed the note");

    // The template's provisioners reach it, and it refuses them (it has no
    // communicator) before writing anything.
    let t = support::plan_json(
        &json!({"builders": [{"type": "note-file", "path": path, "text": "x"}],
                "provisioners": [{"type": "shell", "inline": ["true"]}]}),
        Default::default(),
    )
    .await
    .unwrap();
    let e = bake::run(&t, &opts, CancellationToken::new())
        .await
        .expect_err("no communicator");
    let BakeError::Builds { failed, .. } = &e else {
        panic!("{e}")
    };
    let cause = failed[0].error.to_string();
    assert!(
        cause.contains("provisioners need a communicator"),
        "{cause}"
    );
    assert!(!path.exists());

    // Without the registration the type is unknown, and the error lists the
    // known ones.
    let (plain, _) = options(Arc::new(BuilderRegistry::default()));
    let t = support::plan_json(
        &json!({"builders": [{"type": "note-file", "path": path, "text": "x"}]}),
        Default::default(),
    )
    .await
    .unwrap();
    let e = bake::run(&t, &plain, CancellationToken::new())
        .await
        .expect_err("unknown type")
        .to_string();
    assert!(
        e.contains("\"note-file\" is not a known builder") && e.contains("local-chroot"),
        "{e}"
    );
}
