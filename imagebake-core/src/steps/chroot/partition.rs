use std::borrow::Cow;
use std::path::PathBuf;

use async_trait::async_trait;

use super::HostCommands;
use crate::{Error, Step, StepCx, shell_quote};

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
/// with `sfdisk` (on the image file, before it is attached).
#[derive(Debug, Clone)]
pub struct Partition {
    host: HostCommands,
    table: PartitionTable,
}

impl Partition {
    /// A table of kind `table` (nothing is done for [`PartitionTable::None`]).
    pub fn new(host: HostCommands, table: PartitionTable) -> Self {
        Self { host, table }
    }
}

#[async_trait]
impl Step<PathBuf> for Partition {
    type Out = PathBuf;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("partition")
    }

    async fn run(&self, cx: &StepCx, file: PathBuf) -> Result<PathBuf, Error> {
        let label = match self.table {
            PartitionTable::None => return Ok(file),
            PartitionTable::Dos => "dos",
            PartitionTable::Gpt => "gpt",
        };
        let script = format!("label: {label}\n,,L\n");
        let f = file.to_string_lossy();
        let line = format!(
            "printf %s {} | {}",
            shell_quote(&script),
            self.host
                .line_for(&["sfdisk", "--quiet", "--wipe", "always", &f])?
        );
        let mut sink = |s, l: &str| cx.output_line(s, l);
        self.host
            .run_line(&line, &mut sink, cx.token())
            .await?
            .check(&format!("sfdisk {f}"))?;
        Ok(file)
    }
}
