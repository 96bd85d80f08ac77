//! The `osc-chroot` builder: Packer's `outscale-chroot` (bakes an OMI from
//! a volume attached to the VM the build runs on), with its keys
//! ([`OscChrootConfig`]) and without its leaks.
//!
//! The build is this composition of [`steps::osc`](crate::steps::osc) and
//! [`steps::chroot`](crate::steps::chroot) steps, each registering its undo
//! the moment its resource exists:
//!
//! 1. `host vm info`: metadata `instance-id`, `ReadVms` (subregion),
//!    `ReadAccounts`;
//! 2. `check omi name` (unless `force_deregister` or `-force`): fails
//!    before any volume;
//! 3. `source omi` (id or filter), `copy source omi` when another account
//!    owns it (the copy is removed at the end);
//! 4. `create volume` (tagged with the build id; deleted at the end);
//! 5. `device lock`, `link volume` (free device name, `LinkVolume`, wait
//!    `in-use`/`attached`), `wait for device` (node resolved, lock released);
//! 6. `chroot` (the [`ChrootPipeline`] it shares with `local-chroot`):
//!    `pre-mount commands`, `mount root`, `post-mount commands`,
//!    `chroot mounts`, `copy files`, the provisioners in the chroot,
//!    `unmount` (everything, deepest first);
//! 7. `unlink volume`;
//! 8. `snapshot`, `deregister omi` (with `force_deregister` or `-force`,
//!    right before the new OMI is registered, as the plugin does), `register omi`,
//!    `omi permissions`, `tag omi`.
//!
//! Nothing stays mounted, linked or created after a failure or Ctrl-C: the
//! undos run newest first (unmounts, unlink, volume, copy).

mod artifact;
mod config;
mod plan;
mod sweep;

pub use artifact::OscChrootArtifact;
pub use config::{
    BUILDER, BlockDeviceMappingConfig, KEYS, OmiFilter, OscChrootConfig, PACKER_BUILDER, REQUIRED,
};
pub use plan::{DEFAULT_METADATA_URL, DEVICE_DIR_ENV, METADATA_URL_ENV};
pub use sweep::OscSweeper;

use osc_client::{Client, MetadataClient};
use tokio_util::sync::CancellationToken;

use crate::builders::packer::TemplateVars;
use crate::builders::{Builder, BuilderConfig, Provisioners};
use crate::steps::chroot::{ChrootPipeline, DeviceLock};
use crate::steps::osc::{
    BuildData, CheckOmiName, CopySourceOmi, CreateSnapshot, CreateVolume, Deregister, LinkVolume,
    OmiSpec, RegisterOmi, SourceOmi, TagOmi, UnlinkVolume, UpdatePermissions, VmInfo, VolumeSpec,
    WaitDevice, Waits,
};
use crate::{BuildError, Error, Runner, Sweeper};
use plan::Plan;

/// A checked `osc-chroot` build, ready to run: its configuration, the API
/// and metadata clients, and the provisioners to run in the chroot.
pub struct OscChrootBuilder {
    plan: Box<Plan>,
    client: Client,
    metadata: MetadataClient,
    provisioners: Provisioners,
}

impl std::fmt::Debug for OscChrootBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscChrootBuilder")
            .field("client", &self.client)
            .field("omi_name", &self.plan.omi_name)
            .field("provisioners", &self.provisioners)
            .finish_non_exhaustive()
    }
}

impl OscChrootBuilder {
    /// Uses this API client (its own retry policy, say) instead of the one
    /// made from the configuration.
    pub fn client(mut self, client: Client) -> Self {
        self.client = client;
        self
    }

    /// The OMI name, templates expanded.
    pub fn omi_name(&self) -> &str {
        &self.plan.omi_name
    }

    /// The wait settings.
    pub fn waits(&self) -> Waits {
        self.plan.waits
    }
}

impl Builder for OscChrootBuilder {
    const TYPE: &'static str = BUILDER;
    /// Packer's own name for it, so Packer templates run as they are.
    const ALIASES: &'static [&'static str] = &[PACKER_BUILDER];
    type Config = OscChrootConfig;
    type Artifact = OscChrootArtifact;

    /// Credentials come from the configuration, else `OSC_*` and the
    /// profile file.
    fn with_vars(config: Self::Config, vars: &TemplateVars) -> Result<Self, Error> {
        let plan = Box::new(Plan::new(&config, vars)?);
        let cfg =
            plan.client.clone().build().map_err(|e| {
                Error::provider(format!("builder {BUILDER}: OAPI configuration"), e)
            })?;
        let client = Client::new(cfg)
            .map_err(|e| Error::provider(format!("builder {BUILDER}: OAPI client"), e))?;
        let metadata = MetadataClient::new(plan.metadata_url.clone())
            .map_err(|e| Error::provider(format!("builder {BUILDER}: metadata client"), e))?;
        Ok(Self {
            plan,
            client,
            metadata,
            provisioners: Provisioners::default(),
        })
    }

    fn provisioners_mut(&mut self) -> &mut Provisioners {
        &mut self.provisioners
    }

    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Self::Artifact, BuildError> {
        let p = &self.plan;
        let c = &self.client;
        let w = p.waits;
        let region = c.config().region.clone();
        let copy_name: String = format!("{}-copy-{}", p.omi_name, runner.id())
            .chars()
            .take(128)
            .collect();
        let label = format!("{BUILDER} {}", p.omi_name);
        let built = runner
            .run(&label, token, |cx| async move {
                if let Some(scope) = self.scope() {
                    cx.scope(scope);
                }
                let host = cx
                    .step(&VmInfo::new(c.clone(), self.metadata.clone()), ())
                    .await?;
                let host = if p.force_deregister {
                    host
                } else {
                    cx.step(&CheckOmiName::new(c.clone(), &p.omi_name), host)
                        .await?
                };
                let (source, data) = match &p.source {
                    None => (None, BuildData::new(&region, None)),
                    Some(s) => {
                        let found = cx.step(&SourceOmi::new(c.clone(), s.clone()), ()).await?;
                        let data = BuildData::new(&region, Some(&found));
                        let copy = CopySourceOmi::new(c.clone(), &region, &copy_name, w);
                        (Some(cx.step(&copy, (host.clone(), found)).await?), data)
                    }
                };
                let spec = VolumeSpec {
                    subregion: host.subregion.clone(),
                    source: source.clone(),
                    size: p.root_volume_size,
                    volume_type: p.root_volume_type.clone(),
                    tags: data.render_map("root_volume_tags", &p.root_volume_tags)?,
                };
                let volume = cx.step(&CreateVolume::new(c.clone(), spec, w), ()).await?;
                let lock = cx.step(&DeviceLock::new(&p.lock_path), ()).await?;
                let link = LinkVolume::new(c.clone(), p.device_path.clone(), &p.device_dir, w);
                let linked = cx.step(&link, (host.clone(), volume, lock)).await?;
                let attached = cx.step(&WaitDevice::new(&p.device_dir, w), linked).await?;

                let chroot = ChrootPipeline::new(&p.chroot, self.provisioners.steps());
                let unmounted = cx.step(&chroot, attached.device.clone()).await?;
                let volume_id = cx
                    .step(&UnlinkVolume::new(c.clone(), w), (attached, unmounted))
                    .await?;

                let snap = cx
                    .step(&CreateSnapshot::new(c.clone(), w), volume_id)
                    .await?;
                if p.force_deregister {
                    let d = Deregister::new(c.clone(), &p.omi_name, p.force_delete_snapshot);
                    cx.step(&d, host.clone()).await?;
                }
                let spec = OmiSpec {
                    name: p.omi_name.clone(),
                    description: p
                        .omi_description
                        .as_deref()
                        .map(|d| data.render("omi_description", d))
                        .transpose()?,
                    boot_modes: p.boot_modes.clone(),
                    root_volume_size: p.root_volume_size,
                    source,
                    root_device_name: p.root_device_name.clone(),
                    mappings: p.mappings.clone(),
                };
                let image = cx.step(&RegisterOmi::new(c.clone(), spec, w), snap).await?;
                let perms = UpdatePermissions::new(
                    c.clone(),
                    p.omi_account_ids.clone(),
                    p.snapshot_account_ids.clone(),
                    p.global_permission,
                );
                let image = cx
                    .step(&perms.public_snapshot(p.snapshot_public), image)
                    .await?;
                let tags = TagOmi::new(c.clone(), p.tags.clone(), p.snapshot_tags.clone(), data);
                cx.step(&tags, image).await
            })
            .await?;
        let image = built.value;
        Ok(OscChrootArtifact {
            omi_id: image.image_id.clone(),
            omi_name: image.image_name.clone(),
            region: c.config().region.clone(),
            snapshot_ids: image
                .snapshot_ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            build_id: built.build_id,
            image,
            cleanup: built.cleanup,
        })
    }

    fn scope(&self) -> Option<crate::journal::Scope> {
        let c = self.client.config();
        Some(
            crate::journal::Scope::new(BUILDER, "osc")
                .endpoint(c.endpoint.as_str())
                .region(c.region.clone()),
        )
    }

    fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        Some(Box::new(OscSweeper::new(self.client.clone())))
    }
}

impl BuilderConfig for OscChrootConfig {
    fn from_block(block: &serde_json::Value) -> Result<Self, Error> {
        Self::from_json(block)
    }
}
