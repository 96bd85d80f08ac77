//! `imagebake origin build`: the set of `images.json` built on Triton and
//! exported to Manta (`imagebake_core::origin::build`).

use std::path::PathBuf;

use clap::Args;
use imagebake_core::bake::Leftovers;
use imagebake_core::origin::{self, BuildOptions, VersionSource};
use imagebake_core::triton_client::manta::{MantaClient, MantaConfig};
use imagebake_core::{CancellationToken, chain};

/// `imagebake origin build`.
#[derive(Debug, Args)]
pub struct OriginBuildArgs {
    /// The set: triton-origin-image's images.json (its directory is the git
    /// work tree the build stamp comes from).
    #[arg(long, value_name = "F", default_value = "images.json")]
    pub images: PathBuf,
    /// The images' version (default: package.json's with --package-json,
    /// else <branch>-<timestamp>-g<sha>).
    #[arg(long, value_name = "V", conflicts_with = "package_json")]
    pub version: Option<String>,
    /// Takes the version (and homepage) from this package.json.
    #[arg(long = "package-json", value_name = "F")]
    pub package_json: Option<PathBuf>,
    /// The branch (default: git's; needed on a detached HEAD).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// The Manta directory to export to (default
    /// /$MANTA_USER/public/builds/triton-origin-image/<branch>-<timestamp>).
    #[arg(long = "export-dir", value_name = "MANTA_DIR")]
    pub export_dir: Option<String>,
    /// Sets a triton builder key for the temporary machines (repeatable):
    /// --set communicator=none, --set ssh_bastion_host=jump; a value that
    /// starts with `{` or `[` is JSON.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// At most N images built at once; 0 means all at once.
    #[arg(long = "parallel-builds", default_value_t = 0, value_name = "N")]
    pub parallel_builds: usize,
    /// Keeps the cloud images after their export (deleted by default).
    #[arg(long = "keep-cloud-images")]
    pub keep_cloud_images: bool,
}

/// Runs the verb; returns the exit code: 0 when the set was built, 1 when
/// it failed, 130 after Ctrl-C (once every cleanup ended).
pub async fn run(args: &OriginBuildArgs) -> u8 {
    let opts = match options(args).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let cancel = CancellationToken::new();
    crate::build::watch_ctrl_c(cancel.clone(), Leftovers::default());
    match origin::build(&opts, cancel.clone()).await {
        Ok(report) => {
            for i in &report.images {
                println!("--> {}@{}: {}", i.name, i.version, i.exported.manifest_path);
            }
            println!("Export directory: {}", report.export_dir);
            0
        }
        Err(e) => {
            eprintln!("Error: {}", chain(&e));
            if e.is_cancelled() || cancel.is_cancelled() {
                eprintln!("Cleanly cancelled the origin set after being interrupted.");
                130
            } else {
                1
            }
        }
    }
}

/// The library's options from the flags, the git work tree of the images
/// file, the Triton credentials (as `imagebake spec build` reads them) and
/// the Manta ones (node-manta's MANTA_* variables).
async fn options(args: &OriginBuildArgs) -> Result<BuildOptions, String> {
    let mut block = crate::spec::set_block("triton", &args.set)?;
    crate::spec::triton_credentials(&mut block)?;
    if let Some(o) = block.as_object_mut() {
        o.remove("type");
    }
    let manta = MantaConfig::from_env()
        .and_then(MantaClient::new)
        .map_err(|e| format!("Manta: {}", chain(&e)))?;
    let version = match (&args.version, &args.package_json) {
        (Some(v), _) => VersionSource::Given(v.clone()),
        (None, Some(p)) => VersionSource::PackageJson(p.clone()),
        (None, None) => VersionSource::Stamp,
    };
    let mut opts =
        BuildOptions::from_files(&args.images, version, args.branch.as_deref(), block, manta)
            .await
            .map_err(|e| e.to_string())?;
    opts.export_dir = args.export_dir.clone();
    opts.parallel_builds = args.parallel_builds;
    opts.keep_cloud_images = args.keep_cloud_images;
    Ok(opts)
}
