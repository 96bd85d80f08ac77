//! `imagebake spec check DIR` and `imagebake spec build [--builder B]
//! [--set KEY=VALUE]... DIR`: mibe spec folders checked and baked.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use imagebake_core::bake::BakeOptions;
use imagebake_core::chain;
use imagebake_core::spec::{Spec, spec_builder_keys};
use imagebake_core::template::{Plan, PlannedBuild, PlannedProvisioner, TemplateKind};
use serde_json::{Map, Value, json};

/// `imagebake spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// What to do with the spec folder.
    #[command(subcommand)]
    pub action: SpecAction,
}

/// `imagebake spec` verbs.
#[derive(Debug, Subcommand)]
pub enum SpecAction {
    /// Reads and checks a spec folder; creates nothing.
    Check {
        /// The spec folder (`manifest` or `manifest.json`, `packages`,
        /// `customize`, `copy/`, `motd`).
        dir: PathBuf,
    },
    /// Bakes a spec folder with one builder.
    Build(SpecBuildArgs),
}

/// `imagebake spec build`.
#[derive(Debug, Args)]
pub struct SpecBuildArgs {
    /// The builder.
    #[arg(long, value_enum, default_value_t = SpecBuilder::Triton)]
    pub builder: SpecBuilder,
    /// Sets a builder key (repeatable): `--set ssh_port=2222`; a value that
    /// starts with `{` or `[` is JSON.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The spec folder.
    pub dir: PathBuf,
}

/// The builders a spec bakes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpecBuilder {
    /// A Triton machine from the spec's `base`, imaged.
    Triton,
    /// An Oxide instance, imaged.
    OxideInstance,
    /// An Outscale volume in a chroot, registered as an OMI.
    OscChroot,
    /// A local disk image in a chroot.
    LocalChroot,
}

impl SpecBuilder {
    fn kind(self) -> &'static str {
        match self {
            Self::Triton => "triton",
            Self::OxideInstance => "oxide-instance",
            Self::OscChroot => "osc-chroot",
            Self::LocalChroot => "local-chroot",
        }
    }
}

/// Runs the verb; returns the exit code.
pub async fn run(args: &SpecArgs) -> u8 {
    match &args.action {
        SpecAction::Check { dir } => check(dir),
        SpecAction::Build(b) => build(b).await,
    }
}

fn load(dir: &PathBuf) -> Option<Spec> {
    match Spec::load(dir) {
        Ok(s) => {
            for n in &s.notes {
                eprintln!("Note: {n}");
            }
            Some(s)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            None
        }
    }
}

fn check(dir: &PathBuf) -> u8 {
    let Some(s) = load(dir) else {
        return 1;
    };
    let m = &s.metadata;
    println!("spec {}: {} {}", dir.display(), m.name, m.version);
    if let Some(b) = &m.base {
        println!("  base: {b}");
    }
    if let Some(d) = &m.description {
        println!("  description: {d}");
    }
    if let Some(r) = m.min_ram {
        println!("  min_ram: {r} MiB");
    }
    println!("  packages: {}", s.packages.join(" "));
    println!("  copy/: {} entries", s.copy.len());
    println!(
        "  customize: {}",
        if s.customize.is_some() { "yes" } else { "no" }
    );
    println!("  motd: {}", if s.motd.is_some() { "yes" } else { "no" });
    for kind in ["triton", "oxide-instance", "osc-chroot"] {
        let keys: Vec<String> = spec_builder_keys(kind, m)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  {kind}: {}", keys.join(" "));
    }
    0
}

/// The builder block: the `type` and the `--set` keys.
fn block(args: &SpecBuildArgs) -> Result<Value, String> {
    set_block(args.builder.kind(), &args.set)
}

/// A builder block of type `kind` with the `--set KEY=VALUE` keys (a value
/// that starts with `{` or `[` is JSON).
pub(crate) fn set_block(kind: &str, set: &[String]) -> Result<Value, String> {
    let mut obj = Map::new();
    obj.insert("type".into(), json!(kind));
    for kv in set {
        let Some((k, v)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("--set {kv:?}: expected KEY=VALUE"));
        };
        let value = if v.starts_with(['{', '[']) {
            serde_json::from_str(v).map_err(|e| format!("--set {k}: not valid JSON: {e}"))?
        } else {
            json!(v)
        };
        obj.insert(k.to_owned(), value);
    }
    Ok(Value::Object(obj))
}

/// Triton: where the block (`--set`) lacks `triton_account` or
/// `triton_key_id`, the credentials from the clients' usual sources, as
/// `imagebake sweep` reads them (`imagebake_core::triton_client::Config::from_env`: the
/// node-triton profile of `TRITON_PROFILE` or `~/.triton/config.json`, else
/// `TRITON_*`/`SDC_*`; the key from `TRITON_KEY_MATERIAL`, the ssh-agent or
/// `~/.ssh`), filling only the keys the block lacks. The loaded
/// configuration, when one was loaded.
pub(crate) fn triton_credentials(
    block: &mut Value,
) -> Result<Option<imagebake_core::triton_client::Config>, String> {
    use imagebake_core::triton_client::KeySource;

    let Some(obj) = block.as_object_mut() else {
        return Ok(None);
    };
    if obj.contains_key("triton_account") && obj.contains_key("triton_key_id") {
        return Ok(None);
    }
    let c = imagebake_core::triton_client::Config::from_env()
        .map_err(|e| format!("builder triton: credentials: {}", chain(&e)))?;
    let mut put = |k: &str, v: Value| {
        obj.entry(k).or_insert(v);
    };
    put("triton_url", json!(c.url().as_str()));
    put("triton_account", json!(c.account()));
    if let Some(u) = c.user() {
        put("triton_user", json!(u));
    }
    if c.insecure() {
        put("insecure_skip_tls_verify", json!(true));
    }
    let (fingerprint, material) = match c.key_source() {
        KeySource::File { path, expect, .. } => {
            (expect.as_ref(), Some(path.to_string_lossy().into_owned()))
        }
        KeySource::Text { text, expect, .. } => (expect.as_ref(), Some(text.expose().to_owned())),
        KeySource::Agent { fingerprint, .. } | KeySource::Search { fingerprint, .. } => {
            (Some(fingerprint), None)
        }
        _ => (None, None),
    };
    if let Some(f) = fingerprint {
        put("triton_key_id", json!(f.to_string()));
    }
    if let Some(m) = material {
        put("triton_key_material", json!(m));
    }
    Ok(Some(c))
}

/// Without `source_machine_package`, the smallest package with at least
/// the spec's `minram` (ties: the first by name), listed with the `loaded`
/// credentials, else those of the block.
async fn default_package(
    block: &mut Value,
    min_ram: u64,
    loaded: Option<imagebake_core::triton_client::Config>,
) -> Result<(), String> {
    use imagebake_core::triton_client::{Client, Config};

    let Some(obj) = block.as_object_mut() else {
        return Ok(());
    };
    if obj.contains_key("source_machine_package") {
        return Ok(());
    }
    let get = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let config = match loaded {
        Some(c) => Ok(c),
        None => {
            let (Some(account), Some(key)) = (get("triton_account"), get("triton_key_material"))
            else {
                return Err(
                    "builder triton: no `source_machine_package`, and no account and key file \
                     (--set triton_account=... triton_key_material=...) to pick one with"
                        .into(),
                );
            };
            let url = get("triton_url")
                .unwrap_or_else(|| imagebake_core::builders::triton::DEFAULT_URL.to_owned());
            Config::builder()
                .url(url)
                .account(account)
                .key_file(key)
                .build()
        }
    };
    let client = config
        .and_then(Client::new)
        .map_err(|e| format!("builder triton: {}", chain(&e)))?;
    let packages = client
        .list_packages(None)
        .await
        .map_err(|e| format!("listing packages: {}", chain(&e)))?;
    let best = packages
        .iter()
        .filter(|p| p.memory >= min_ram)
        .min_by(|a, b| a.memory.cmp(&b.memory).then_with(|| a.name.cmp(&b.name)))
        .ok_or_else(|| format!("no package has {min_ram} MiB of memory (the spec's minram)"))?;
    eprintln!(
        "Note: package {} ({} MiB, the smallest with the spec's minram {min_ram})",
        best.name, best.memory
    );
    obj.insert("source_machine_package".into(), json!(best.name));
    Ok(())
}

async fn build(args: &SpecBuildArgs) -> u8 {
    let Some(spec) = load(&args.dir) else {
        return 1;
    };
    let block = match block(args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let mut block = block;
    if args.builder == SpecBuilder::Triton {
        let ready = match triton_credentials(&mut block) {
            Ok(loaded) => {
                default_package(&mut block, spec.metadata.min_ram.unwrap_or(0), loaded).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = ready {
            eprintln!("Error: {e}");
            return 1;
        }
    }
    let Some(path) = args.dir.to_str() else {
        eprintln!("Error: {}: the path is not UTF-8", args.dir.display());
        return 1;
    };
    let options = BakeOptions {
        journal: crate::build::journaling(None),
        ..BakeOptions::default()
    };
    crate::build::run_plan(&plan(block, path), options).await
}

/// The plan of one build: the builder `block` (its `type` taken out) and
/// the `image-spec` provisioner of the folder at `path`.
fn plan(mut block: Value, path: &str) -> Plan {
    let kind = block
        .as_object_mut()
        .and_then(|o| o.remove("type"))
        .and_then(|t| t.as_str().map(str::to_owned))
        .unwrap_or_default();
    let provisioner = PlannedProvisioner {
        kind: "image-spec".into(),
        name: None,
        config: json!({ "path": path }),
        only: Vec::new(),
        except: Vec::new(),
        pause_before: None,
        max_retries: 0,
        timeout: None,
        continue_on_error: false,
        location: None,
    };
    Plan {
        kind: TemplateKind::Json,
        variables: Vec::new(),
        locals: Vec::new(),
        builds: vec![PlannedBuild {
            name: kind.clone(),
            packer_build_name: kind.clone(),
            build_block: None,
            description: None,
            builder_type: kind,
            config: block,
            key_locations: Default::default(),
            provisioners: vec![provisioner],
            error_cleanup_provisioner: None,
            post_processors: Vec::new(),
            sensitive: Default::default(),
        }],
        sensitive: Default::default(),
        warnings: Vec::new(),
    }
}
