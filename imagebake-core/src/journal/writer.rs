//! Appending records to a build's journal file, each made durable
//! (`fsync`) before the build goes on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Record;
use crate::Error;

/// An open journal file of a running build.
#[derive(Debug)]
pub(crate) struct Writer {
    file: File,
    path: PathBuf,
    /// Whether a write failed already (reported once).
    broken: bool,
}

impl Writer {
    /// Creates `<dir>/<build>.jsonl` (or `<build>.2.jsonl`, … when a run
    /// with the same build id left one), the directory too.
    pub(crate) fn create(dir: &Path, build: &str) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("creating the build journal directory {}", dir.display()),
                e,
            )
        })?;
        for k in 1u32.. {
            let path = if k == 1 {
                dir.join(format!("{build}.jsonl"))
            } else {
                dir.join(format!("{build}.{k}.jsonl"))
            };
            match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        file,
                        path,
                        broken: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("creating the build journal {}", path.display()),
                        e,
                    ));
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// Opens an existing journal to add records (`imagebake cleanup`).
    pub(crate) fn append_to(path: &Path) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(format!("opening the build journal {}", path.display()), e))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            broken: false,
        })
    }

    /// Appends one record as a line and waits until it is on disk.
    pub(crate) fn write(&mut self, record: &Record) -> Result<(), Error> {
        let mut line = serde_json::to_vec(record).map_err(|e| Error::Other(Box::new(e)))?;
        line.push(b'\n');
        let what = || format!("writing the build journal {}", self.path.display());
        self.file
            .write_all(&line)
            .map_err(|e| Error::io(what(), e))?;
        self.file.sync_data().map_err(|e| Error::io(what(), e))
    }

    /// [`Writer::write`] during a build: a failure is logged (once), not
    /// raised; the build goes on without a durable journal.
    pub(crate) fn record(&mut self, record: &Record) {
        if self.broken {
            return;
        }
        if let Err(e) = self.write(record) {
            self.broken = true;
            tracing::error!(error = %crate::chain(&e), "the build journal can no longer be written; `imagebake cleanup` will not know what this build makes from now on");
        }
    }
}
