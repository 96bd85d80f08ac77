use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use oxide_client::{Client, DiskState};
use uuid::Uuid;

use super::{CHUNK, ImportDisk, OxideApi, UploadedDisk, api};
use crate::{Error, Step, StepCx};

/// Writes the file into the import disk: `bulk-write-start`, then one bulk
/// write per chunk of [`CHUNK`] bytes at its offset, `parallelism` in
/// flight, then `bulk-write-stop`. The file is streamed (at most
/// `parallelism` chunks in memory); its holes are not read (`SEEK_DATA`)
/// and chunks of zeros are not sent (a new disk reads as zeros). Each write
/// is retried by the client (writing the same bytes again is harmless); a
/// write that still fails fails the import. A Ctrl-C stops at once; the
/// disk's removal then stops the import.
#[derive(Debug, Clone)]
pub struct UploadBlocks {
    api: OxideApi,
    parallelism: usize,
}

impl UploadBlocks {
    /// Uploads with `api`, `parallelism` writes in flight (at least 1).
    pub fn new(api: OxideApi, parallelism: usize) -> Self {
        Self {
            api,
            parallelism: parallelism.max(1),
        }
    }
}

#[async_trait]
impl Step<ImportDisk> for UploadBlocks {
    type Out = UploadedDisk;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("upload blocks")
    }

    async fn run(&self, cx: &StepCx, d: ImportDisk) -> Result<UploadedDisk, Error> {
        cx.check_cancelled()?;
        let c = &self.api.client;
        let id = d.disk.id;
        let path = d.file.path.clone();
        let size = d.file.size;
        if size > d.disk.size {
            return Err(Error::Config(format!(
                "{} ({size} bytes) does not fit disk {id} ({} bytes)",
                path.display(),
                d.disk.size
            )));
        }
        let file =
            File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let file = Arc::new(file);
        let chunks = {
            let (f, p) = (file.clone(), path.clone());
            tokio::task::spawn_blocking(move || data_chunks(&f, size, &p))
                .await
                .map_err(|e| Error::Other(Box::new(e)))??
        };
        transition(c, id, State::Start).await?;
        let sent = AtomicU64::new(0);
        let writes = AtomicU64::new(0);
        let total = chunks.len() as u64;
        let upload = futures::stream::iter(chunks)
            .map(|offset| {
                let (f, p, sent, writes) = (file.clone(), path.clone(), &sent, &writes);
                async move {
                    let len = CHUNK.min(size - offset);
                    let data = tokio::task::spawn_blocking(move || read_chunk(&f, offset, len, &p))
                        .await
                        .map_err(|e| Error::Other(Box::new(e)))??;
                    if is_zero(&data) {
                        return Ok::<_, Error>(());
                    }
                    c.disk_bulk_write_import(id, None, offset, &data)
                        .await
                        .map_err(|e| {
                            api(
                                format!("writing {len} bytes at offset {offset} of disk {id}"),
                                e,
                            )
                        })?;
                    sent.fetch_add(len, Ordering::Relaxed);
                    let n = writes.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 256 == 0 {
                        tracing::info!(disk = %id, writes = n, chunks = total, "uploading");
                    }
                    Ok(())
                }
            })
            .buffer_unordered(self.parallelism)
            .try_collect::<()>();
        cx.cancellable(upload).await??;
        transition(c, id, State::Stop).await?;
        let (bytes_sent, writes) = (sent.into_inner(), writes.into_inner());
        tracing::info!(disk = %id, bytes_sent, writes, "blocks uploaded");
        Ok(UploadedDisk {
            disk: d.disk,
            bytes_sent,
            writes,
        })
    }
}

#[derive(Clone, Copy)]
enum State {
    Start,
    Stop,
}

/// `bulk-write-start` or `-stop`. Neither is re-sent by the client after a
/// lost answer (a second one is refused), so on an error the disk's state
/// says whether it happened.
async fn transition(c: &Client, id: Uuid, to: State) -> Result<(), Error> {
    let (r, want, what) = match to {
        State::Start => (
            c.disk_bulk_write_import_start(id, None).await,
            DiskState::ImportingFromBulkWrites,
            "starting the bulk import of",
        ),
        State::Stop => (
            c.disk_bulk_write_import_stop(id, None).await,
            DiskState::ImportReady,
            "stopping the bulk import of",
        ),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) => match c.disk_view(id, None).await {
            Ok(d) if d.state == want => Ok(()),
            _ => Err(api(format!("{what} disk {id}"), e)),
        },
    }
}

/// Offsets of the chunks of the file that may hold data: every chunk that
/// overlaps a data extent (`SEEK_DATA`/`SEEK_HOLE`); every chunk when the
/// file system cannot tell.
fn data_chunks(file: &File, size: u64, path: &Path) -> Result<Vec<u64>, Error> {
    use nix::errno::Errno;
    use nix::unistd::{Whence, lseek};
    let every = || (0..size.div_ceil(CHUNK)).map(|i| i * CHUNK).collect();
    let off = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut chunks = Vec::new();
    let (mut pos, mut next) = (0u64, 0u64);
    while pos < size {
        let start = match lseek(file, off(pos), Whence::SeekData) {
            Ok(o) => o.unsigned_abs(),
            Err(Errno::ENXIO) => break,
            Err(Errno::EINVAL) => return Ok(every()),
            Err(e) => {
                return Err(Error::io(
                    format!("finding the data of {}", path.display()),
                    e.into(),
                ));
            }
        };
        let end = match lseek(file, off(start), Whence::SeekHole) {
            Ok(o) => o.unsigned_abs().min(size),
            Err(_) => size,
        };
        let mut c = (start / CHUNK * CHUNK).max(next);
        while c < end {
            chunks.push(c);
            c += CHUNK;
        }
        next = c;
        pos = end.max(start + 1);
    }
    Ok(chunks)
}

/// `len` bytes of `file` at `offset`.
fn read_chunk(file: &File, offset: u64, len: u64, path: &Path) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        Error::io(
            format!(
                "reading {len} bytes at offset {offset} of {}",
                path.display()
            ),
            e,
        )
    })?;
    Ok(buf)
}

/// Whether every byte is zero.
fn is_zero(data: &[u8]) -> bool {
    // Sixteen bytes at a time: the OR of a word is branch-free.
    let mut words = data.chunks_exact(16);
    let zero_words = words
        .by_ref()
        .all(|w| w.iter().fold(0u8, |a, b| a | b) == 0);
    zero_words && words.remainder().iter().all(|b| *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zero_chunks_are_recognised() {
        assert!(is_zero(&[0; 1000]));
        let mut v = vec![0u8; 1000];
        v[999] = 1;
        assert!(!is_zero(&v));
        v[999] = 0;
        v[3] = 1;
        assert!(!is_zero(&v));
    }

    #[test]
    fn only_chunks_with_data_are_listed() {
        let mut f = tempfile::tempfile().unwrap();
        let size = 10 * CHUNK;
        f.set_len(size).unwrap();
        f.write_all_at(&[1; 512], 3 * CHUNK + 512).unwrap();
        f.write_all_at(&[1; 512], 7 * CHUNK - 512).unwrap();
        f.flush().unwrap();
        let chunks = data_chunks(&f, size, Path::new("t")).unwrap();
        // The file system may report larger extents than written, never smaller.
        assert!(chunks.contains(&(3 * CHUNK)), "{chunks:?}");
        assert!(chunks.contains(&(6 * CHUNK)), "{chunks:?}");
        assert!(chunks.windows(2).all(|w| w[0] < w[1]), "{chunks:?}");
        assert!(chunks.iter().all(|c| c % CHUNK == 0 && *c < size));
    }
}
