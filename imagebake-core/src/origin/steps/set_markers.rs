use std::borrow::Cow;

use async_trait::async_trait;
use triton_client::manta::{EntryKind, MantaClient, PutOptions, PutSource};

use super::manta;
use crate::origin::export::latest_path;
use crate::origin::{BuildStamp, write_set_markers};
use crate::{Error, Resource, Step, StepCx};

/// The set's markers, once every image of it is exported: `buildinfo.json`
/// in the directory, then `<branch>-latest` beside it (written last, so a
/// reader that follows it finds a complete set). If the set fails or is
/// cancelled after this step began, `buildinfo.json` is removed again
/// (unless something was at its path before) and `<branch>-latest` gets
/// back what it held before (an earlier set's directory), or is removed if
/// there was none: it never names the failed set's removed directory.
#[derive(Debug, Clone)]
pub(crate) struct SetMarkers {
    manta: MantaClient,
    dir: String,
    stamp: BuildStamp,
}

impl SetMarkers {
    pub(crate) fn new(manta: MantaClient, dir: String, stamp: BuildStamp) -> Self {
        Self { manta, dir, stamp }
    }
}

/// What `<branch>-latest` held before this set wrote it.
enum Before {
    Absent,
    Object {
        bytes: Vec<u8>,
        content_type: Option<String>,
    },
}

#[async_trait]
impl Step<()> for SetMarkers {
    type Out = String;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("write set markers")
    }

    async fn run(&self, cx: &StepCx, (): ()) -> Result<String, Error> {
        let info = format!("{}/buildinfo.json", self.dir);
        // Something already there (an earlier run's) is not this run's to remove.
        let there = match cx.cancellable(self.manta.head(&info)).await? {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(manta(format!("looking at {info}"), e)),
        };
        let (client, path) = (self.manta.clone(), info.clone());
        if !there {
            cx.on_failure(
                Resource::new("manta object", info),
                move |_ucx| async move {
                    match client.delete(&path).await {
                        Ok(()) => Ok(()),
                        Err(e) if e.is_not_found() => Ok(()),
                        Err(e) => Err(manta(format!("removing {path}"), e)),
                    }
                },
            );
        }
        let latest = latest_path(&self.dir, &self.stamp.branch);
        let before = cx.cancellable(self.read_before(&latest)).await??;
        let (client, path) = (self.manta.clone(), latest.clone());
        cx.on_failure(
            Resource::new("new content of manta object", latest),
            move |_ucx| async move { restore(&client, &path, before).await },
        );
        cx.check_cancelled()?;
        // Cancellable: a Ctrl-C while the pointer is being written ends the
        // step, and the undo above puts the old content back.
        cx.cancellable(write_set_markers(&self.manta, &self.dir, &self.stamp))
            .await?
            .map_err(super::origin)
    }
}

impl SetMarkers {
    /// `<branch>-latest` as it is now (a directory there is an error: the
    /// pointer could not be written).
    async fn read_before(&self, latest: &str) -> Result<Before, Error> {
        let looked = |e| manta(format!("reading {latest}"), e);
        let head = match self.manta.head(latest).await {
            Ok(h) => h,
            Err(e) if e.is_not_found() => return Ok(Before::Absent),
            Err(e) => return Err(looked(e)),
        };
        if matches!(head.kind, EntryKind::Directory) {
            return Err(Error::Config(format!(
                "{latest} is a directory, not the `<branch>-latest` object"
            )));
        }
        match self.manta.get_bytes(latest).await {
            Ok(bytes) => Ok(Before::Object {
                bytes,
                content_type: head.content_type,
            }),
            Err(e) if e.is_not_found() => Ok(Before::Absent),
            Err(e) => Err(looked(e)),
        }
    }
}

/// Puts `<branch>-latest` back as it was `before`.
async fn restore(client: &MantaClient, path: &str, before: Before) -> Result<(), Error> {
    match before {
        Before::Absent => match client.delete(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(manta(format!("removing {path}"), e)),
        },
        Before::Object {
            bytes,
            content_type,
        } => client
            .put(
                path,
                PutSource::bytes(bytes),
                PutOptions {
                    content_type,
                    ..PutOptions::default()
                },
            )
            .await
            .map(drop)
            .map_err(|e| manta(format!("restoring {path}"), e)),
    }
}
