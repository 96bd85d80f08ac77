use std::borrow::Cow;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use async_trait::async_trait;

use super::partition_table;
use crate::{Error, Step, StepCx};

/// The partition table a from-scratch image gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTable {
    /// An MBR (`dos`) table with one Linux partition over the whole disk.
    Dos,
    /// A GPT table with one Linux partition over the whole disk.
    Gpt,
    /// No table: the filesystem covers the whole disk (mount partition `0`).
    None,
}

/// Writes a partition table with one Linux partition over the whole disk
/// into the blank image file, before it is attached (the layout `sfdisk`
/// gives `,,L`; see [`partition_table`](super::partition_table)). No
/// fsync: the file is a working copy until the build succeeds.
#[derive(Debug, Clone)]
pub struct Partition {
    table: PartitionTable,
}

impl Partition {
    /// A table of kind `table` (nothing is done for [`PartitionTable::None`]).
    pub fn new(table: PartitionTable) -> Self {
        Self { table }
    }
}

#[async_trait]
impl Step<PathBuf> for Partition {
    type Out = PathBuf;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("partition")
    }

    async fn run(&self, cx: &StepCx, file: PathBuf) -> Result<PathBuf, Error> {
        if self.table == PartitionTable::None {
            return Ok(file);
        }
        cx.check_cancelled()?;
        let (table, path) = (self.table, file.clone());
        let what = format!("writing the partition table of {}", file.display());
        let written = tokio::task::spawn_blocking(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&path)?;
            let size = f.metadata()?.len();
            let writes = partition_table::layout(table, size).map_err(std::io::Error::other)?;
            for (offset, bytes) in writes {
                f.write_all_at(&bytes, offset)?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(|e| Error::Other(Box::new(e)))?;
        written.map_err(|e| Error::io(what, e))?;
        Ok(file)
    }
}
