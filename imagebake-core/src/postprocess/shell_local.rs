//! Packer's `shell-local` post-processor: the provisioner's scripts
//! ([`LocalScript`]) run on this host after the build. `PACKER_BUILD_NAME`
//! and `PACKER_BUILDER_TYPE` are in `{{.Vars}}` as in Packer; the process
//! also gets `PACKER_RUN_UUID` (Packer's own environment),
//! `IMAGEBAKE_BUILD_ID` and `IMAGEBAKE_ARTIFACT_ID` (the artifact's
//! [`Artifact::packer_id`], imagebake's addition). It hands its input on.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::Value;

use super::{PostCx, PostOutput, PostProcessor};
use crate::Error;
use crate::builders::Artifact;
use crate::provision::{LocalRun, LocalScript};

/// A decoded `shell-local` post-processor block.
#[derive(Debug, Clone)]
pub(crate) struct ShellLocalPost {
    script: LocalScript,
}

impl ShellLocalPost {
    /// Decodes the block; errors name the key.
    pub(crate) fn decode(config: &Value) -> Result<Self, Error> {
        Ok(Self {
            script: LocalScript::decode("post-processor shell-local", config)?,
        })
    }
}

impl PostProcessor for ShellLocalPost {
    fn kind(&self) -> &'static str {
        "shell-local"
    }

    fn process<'a>(
        &'a self,
        cx: &'a PostCx,
        input: Arc<dyn Artifact>,
    ) -> BoxFuture<'a, Result<PostOutput, Error>> {
        async move {
            let say = |line: &str| (cx.progress)(line);
            let run = LocalRun {
                build_name: &cx.build_name,
                builder_type: &cx.builder_type,
                env: vec![
                    ("PACKER_RUN_UUID", cx.run_uuid.clone()),
                    ("IMAGEBAKE_ARTIFACT_ID", input.packer_id()),
                ],
                cwd: &cx.cwd,
                cancel: &cx.cancel,
                say: &say,
            }
            .with_build_id(input.build_id());
            let mut on_line = |_, line: &str| (cx.progress)(line);
            self.script.run(&run, &mut on_line).await?;
            Ok(PostOutput {
                artifact: input,
                force_keep_input: true,
            })
        }
        .boxed()
    }
}
