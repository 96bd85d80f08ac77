//! The bytes of a disk created for a bulk import: a sparse, anonymous
//! temporary file of the disk's size (unwritten blocks read as zeros, as on
//! a new Crucible volume).
//!
//! Finalizing with a snapshot, and making an image of that snapshot, share
//! the volume instead of copying it: once finalized the disk takes no more
//! bulk writes, so the shared bytes never change (a copy in effect, at no
//! cost). The file goes away with the last disk, snapshot or image holding it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A sparse volume.
#[derive(Debug)]
pub(crate) struct Volume {
    file: File,
    size: u64,
    /// One past the last byte ever written (0: nothing written).
    data_end: AtomicU64,
}

impl Volume {
    /// An all-zero volume of `size` bytes (no disk space used yet).
    pub(crate) fn new(size: u64) -> io::Result<Self> {
        let file = tempfile::tempfile()?;
        file.set_len(size)?;
        Ok(Self {
            file,
            size,
            data_end: AtomicU64::new(0),
        })
    }

    /// Writes `data` at `offset` (the caller checked that it fits).
    pub(crate) fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        debug_assert!(offset + data.len() as u64 <= self.size);
        self.file.write_all_at(data, offset)?;
        self.data_end
            .fetch_max(offset + data.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// `len` bytes from `offset`, cut at the end of the volume.
    pub(crate) fn read_at(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(len).min(self.size);
        let n = usize::try_from(end.saturating_sub(offset))
            .map_err(|_| io::Error::other("read too large"))?;
        let mut buf = vec![0; n];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// One past the last byte ever written (0 when nothing was written).
    pub(crate) fn data_end(&self) -> u64 {
        self.data_end.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_bytes_read_as_zeros() {
        let v = Volume::new(4096).unwrap();
        v.write_at(512, &[7; 512]).unwrap();
        let all = v.read_at(0, 8192).unwrap();
        assert_eq!(all.len(), 4096);
        assert!(all[..512].iter().all(|b| *b == 0));
        assert!(all[512..1024].iter().all(|b| *b == 7));
        assert!(all[1024..].iter().all(|b| *b == 0));
        assert_eq!(v.data_end(), 1024);
    }
}
