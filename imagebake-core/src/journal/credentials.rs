//! Credentials for [`cleanup`](super::cleanup): the clients' usual sources,
//! or a template's builders.

use super::{Scope, Sweepers};
use crate::builders::AnyBuilder;
use crate::{Error, Sweeper};

/// Sweepers with credentials from each client's usual sources
/// (`TRITON_*`/`SDC_*` and the Triton profile, `OXIDE_HOST`/`OXIDE_TOKEN`
/// and the Oxide config file, `OSC_*` and the Outscale profile), refused
/// when they name another endpoint, account or region than the journal.
#[derive(Debug, Clone, Copy, Default)]
pub struct FromEnv;

/// An error unless the recorded and the configured value are the same
/// (URLs compared without a trailing `/`).
fn same(what: &str, recorded: Option<&str>, configured: &str) -> Result<(), Error> {
    let norm = |s: &str| s.trim_end_matches('/').to_owned();
    match recorded {
        Some(r) if norm(r) != norm(configured) => Err(Error::Config(format!(
            "the build used {what} {r}, the credentials found are for {configured}"
        ))),
        _ => Ok(()),
    }
}

impl Sweepers for FromEnv {
    fn sweeper(&self, scope: &Scope) -> Result<Box<dyn Sweeper>, Error> {
        let ep = scope.endpoint.as_deref();
        match scope.cloud.as_str() {
            #[cfg(feature = "triton")]
            "triton" => {
                use triton_client::{Client, Config};
                let bad = |e: triton_client::Error| Error::provider("Triton credentials", e);
                let config = Config::from_env().map_err(bad)?;
                same("endpoint", ep, config.url().as_str())?;
                same("account", scope.account.as_deref(), config.account())?;
                let client = Client::new(config).map_err(bad)?;
                Ok(Box::new(crate::builders::triton::TritonSweeper::new(
                    client,
                )))
            }
            #[cfg(feature = "oxide")]
            "oxide" => {
                let client = oxide_client::Client::from_env()
                    .map_err(|e| Error::provider("Oxide credentials", e))?;
                same("endpoint", ep, client.host())?;
                let project = scope
                    .project
                    .clone()
                    .ok_or_else(|| Error::Config("the journal records no Oxide project".into()))?;
                Ok(Box::new(crate::builders::oxide::OxideSweeper::new(
                    client, project,
                )))
            }
            #[cfg(feature = "osc")]
            "osc" => {
                let client = osc_client::Client::from_env()
                    .map_err(|e| Error::provider("Outscale credentials", e))?;
                let c = client.config();
                same("endpoint", ep, c.endpoint.as_str())?;
                same("region", scope.region.as_deref(), &c.region)?;
                Ok(Box::new(crate::builders::osc_chroot::OscSweeper::new(
                    client,
                )))
            }
            other => Err(Error::Config(format!(
                "no credentials source for cloud `{other}` in this build of imagebake"
            ))),
        }
    }
}

/// Sweepers with the credentials of a template's builders (`imagebake
/// cleanup --template`): the builder of the same type whose scope is the
/// journal's.
#[derive(Debug, Default)]
pub struct FromBuilders(pub Vec<AnyBuilder>);

impl Sweepers for FromBuilders {
    fn sweeper(&self, scope: &Scope) -> Result<Box<dyn Sweeper>, Error> {
        self.0
            .iter()
            .filter(|b| b.scope().as_ref() == Some(scope))
            .find_map(AnyBuilder::sweeper)
            .ok_or_else(|| {
                Error::Config(format!(
                    "no builder of the template works in {scope} ({} builders)",
                    self.0.len()
                ))
            })
    }
}
