//! The partition tables a from-scratch image gets, written directly into
//! the blank image file: one Linux partition over the whole disk, as
//! `sfdisk` lays it out for `label: dos|gpt` and `,,L` (1 MiB aligned
//! start; an MBR partition to the disk's last sector, a GPT partition to the
//! last 1 MiB boundary before the backup table). Writing the few sectors
//! ourselves spares `sfdisk`'s fsync of the image (0.3–0.6 s for nothing:
//! the image is a working copy until the build succeeds).

use uuid::Uuid;

use super::PartitionTable;

/// Bytes per sector (the only sector size of a loop device over a file).
const SECTOR: u64 = 512;
/// The alignment of the partition's start (and of a GPT partition's end),
/// in sectors: 1 MiB, as `sfdisk` aligns on a disk over 4 MiB.
const GRAIN: u64 = 2048;
/// GPT partition entries, and the bytes of one.
const GPT_ENTRIES: u64 = 128;
const GPT_ENTRY_SIZE: u64 = 128;
/// Sectors the GPT entry array takes (128 × 128 bytes).
const GPT_ENTRY_SECTORS: u64 = GPT_ENTRIES * GPT_ENTRY_SIZE / SECTOR;
/// The GPT type of a Linux filesystem partition.
const LINUX_FS: Uuid = uuid::uuid!("0fc63daf-8483-4772-8e79-3d69d8477de4");
/// The MBR type of a Linux partition.
const MBR_LINUX: u8 = 0x83;
/// The MBR type of a GPT's protective partition.
const MBR_PROTECTIVE: u8 = 0xee;

/// The smallest disk a table can be written on: the 1 MiB before the
/// partition, one 1 MiB grain of partition, and room for a GPT's backup.
pub(crate) const MIN_SIZE: u64 = 3 * GRAIN * SECTOR;

/// What to write where: byte offsets in the image and their contents.
pub(crate) type Writes = Vec<(u64, Vec<u8>)>;

/// The writes that put a `table` with one Linux partition over the whole
/// disk on a blank (all zero) image of `size` bytes; nothing for
/// [`PartitionTable::None`]. The identifiers (MBR disk id, GPT GUIDs) are
/// random, as `sfdisk` makes them. An error names a disk too small.
pub(crate) fn layout(table: PartitionTable, size: u64) -> Result<Writes, String> {
    if table == PartitionTable::None {
        return Ok(Vec::new());
    }
    if size < MIN_SIZE {
        return Err(format!(
            "a disk of {size} bytes is too small for a partition table (at least {MIN_SIZE})"
        ));
    }
    let sectors = size / SECTOR;
    Ok(match table {
        PartitionTable::Dos => {
            // An MBR addresses 2^32 sectors (2 TiB): the partition ends
            // there on a bigger disk, as sfdisk makes it.
            let id = rand::random::<u32>().max(1);
            let end = sectors.min(1 << 32);
            vec![(0, mbr(id, MBR_LINUX, GRAIN, end - GRAIN))]
        }
        PartitionTable::Gpt => gpt(sectors, Uuid::new_v4(), Uuid::new_v4()),
        PartitionTable::None => unreachable!("returned above"),
    })
}

/// A master boot record (sector 0) with disk id `id` and one partition of
/// `kind` from sector `start`, `count` sectors long (capped at what 32 bits
/// hold, as for a GPT's protective partition on a disk over 2 TiB).
fn mbr(id: u32, kind: u8, start: u64, count: u64) -> Vec<u8> {
    let mut s = vec![0u8; SECTOR as usize];
    s[440..444].copy_from_slice(&id.to_le_bytes());
    let e = &mut s[446..462];
    let cap = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    e[1..4].copy_from_slice(&chs(start));
    e[4] = kind;
    e[5..8].copy_from_slice(&chs(start + count - 1));
    e[8..12].copy_from_slice(&cap(start).to_le_bytes());
    e[12..16].copy_from_slice(&cap(count).to_le_bytes());
    s[510] = 0x55;
    s[511] = 0xaa;
    s
}

/// The cylinder/head/sector address of `lba` in an MBR entry (255 heads, 63
/// sectors a track; past 1023 cylinders the "too far" value `fe ff ff`).
fn chs(lba: u64) -> [u8; 3] {
    const HEADS: u64 = 255;
    const SECTORS: u64 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    [
        head as u8,
        (sector as u8) | (((cylinder >> 8) as u8) << 6),
        cylinder as u8,
    ]
}

/// A GPT on a disk of `sectors`: the protective MBR, the primary header and
/// entries at sectors 1 and 2, their backup in the last 33 sectors.
fn gpt(sectors: u64, disk: Uuid, part: Uuid) -> Writes {
    let backup_entries = sectors - 1 - GPT_ENTRY_SECTORS;
    let first_usable = GRAIN;
    let last_usable = backup_entries - 1;
    let last = (last_usable + 1) / GRAIN * GRAIN - 1;
    let mut entries = vec![0u8; (GPT_ENTRIES * GPT_ENTRY_SIZE) as usize];
    entries[0..16].copy_from_slice(&LINUX_FS.to_bytes_le());
    entries[16..32].copy_from_slice(&part.to_bytes_le());
    entries[32..40].copy_from_slice(&GRAIN.to_le_bytes());
    entries[40..48].copy_from_slice(&last.to_le_bytes());
    let entries_crc = crc32fast::hash(&entries);
    let header = |mine: u64, other: u64, entries_at: u64| {
        let mut h = vec![0u8; SECTOR as usize];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&mine.to_le_bytes());
        h[32..40].copy_from_slice(&other.to_le_bytes());
        h[40..48].copy_from_slice(&first_usable.to_le_bytes());
        h[48..56].copy_from_slice(&last_usable.to_le_bytes());
        h[56..72].copy_from_slice(&disk.to_bytes_le());
        h[72..80].copy_from_slice(&entries_at.to_le_bytes());
        h[80..84].copy_from_slice(&(GPT_ENTRIES as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(GPT_ENTRY_SIZE as u32).to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    let mut primary = header(1, sectors - 1, 2);
    primary.extend_from_slice(&entries);
    let mut backup = entries;
    backup.extend(header(sectors - 1, 1, backup_entries));
    vec![
        (0, mbr(0, MBR_PROTECTIVE, 1, sectors - 1)),
        (SECTOR, primary),
        (backup_entries * SECTOR, backup),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(w: &Writes, offset: u64) -> &[u8] {
        &w.iter()
            .find(|(o, _)| *o == offset)
            .expect("a write there")
            .1
    }

    #[test]
    fn mbr_matches_sfdisk_bytes() {
        // What sfdisk 2.38 wrote for `label: dos`, `,,L` on a 2 GiB file
        // (disk id adbcbfe2): bytes 440..512.
        let s = mbr(0xe2bf_bcad, MBR_LINUX, 2048, 4_192_256);
        assert_eq!(&s[440..444], &[0xad, 0xbc, 0xbf, 0xe2]);
        assert_eq!(
            &s[446..462],
            &[
                0x00, 0x20, 0x21, 0x00, 0x83, 0x15, 0x50, 0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0xf8,
                0x3f, 0x00
            ]
        );
        assert_eq!(&s[462..510], &[0u8; 48][..]);
        assert_eq!(&s[510..], &[0x55, 0xaa]);
    }

    #[test]
    fn chs_far_out_is_capped() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(1), [0, 2, 0]);
        assert_eq!(chs(1024 * 255 * 63), [0xfe, 0xff, 0xff]);
    }

    #[test]
    fn gpt_headers_point_at_each_other_with_valid_crcs() {
        let sectors = 4_194_304;
        let w = gpt(sectors, Uuid::new_v4(), Uuid::new_v4());
        let primary = at(&w, SECTOR);
        let backup = at(&w, (sectors - 33) * SECTOR);
        let backup_header = &backup[backup.len() - SECTOR as usize..];
        let u64_at = |h: &[u8], i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap());
        for (h, entries, mine, other, entries_at) in [
            (&primary[..512], &primary[512..], 1, sectors - 1, 2),
            (
                backup_header,
                &backup[..backup.len() - 512],
                sectors - 1,
                1,
                sectors - 33,
            ),
        ] {
            let mut copy = h[..92].to_vec();
            copy[16..20].fill(0);
            assert_eq!(h[16..20], crc32fast::hash(&copy).to_le_bytes());
            assert_eq!(h[88..92], crc32fast::hash(entries).to_le_bytes());
            assert_eq!(
                (u64_at(h, 24), u64_at(h, 32), u64_at(h, 72)),
                (mine, other, entries_at)
            );
            assert_eq!((u64_at(h, 40), u64_at(h, 48)), (2048, sectors - 34));
            assert_eq!(
                (u64_at(entries, 32), u64_at(entries, 40)),
                (2048, 4_192_255)
            );
        }
    }

    /// `sfdisk -d FILE` without the lines that differ between two disks
    /// of the same layout (the device, the random identifiers).
    fn dump(file: &std::path::Path) -> String {
        let out = std::process::Command::new("sfdisk")
            .arg("-d")
            .arg(file)
            .output()
            .expect("sfdisk (util-linux) is installed");
        assert!(out.status.success(), "sfdisk -d: {out:?}");
        let name = file.to_string_lossy().into_owned();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("label-id:") && !l.starts_with("device:"))
            .map(|l| {
                let l = l.replace(&name, "DISK");
                match l.find(", uuid=") {
                    Some(i) => l[..i].to_owned(),
                    None => l,
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn tables_read_back_by_sfdisk_as_the_ones_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        for table in [PartitionTable::Dos, PartitionTable::Gpt] {
            for size in [5 << 20, 48 << 20, (100 << 20) + 1000, 2 << 30, 3 << 40] {
                let ours = dir.path().join("ours");
                let theirs = dir.path().join("theirs");
                for p in [&ours, &theirs] {
                    let _ = std::fs::remove_file(p);
                    std::fs::File::create(p).unwrap().set_len(size).unwrap();
                }
                let f = std::fs::OpenOptions::new().write(true).open(&ours).unwrap();
                for (offset, bytes) in layout(table, size).unwrap() {
                    std::os::unix::fs::FileExt::write_all_at(&f, &bytes, offset).unwrap();
                }
                let label = if table == PartitionTable::Dos {
                    "dos"
                } else {
                    "gpt"
                };
                let script = format!("label: {label}\n,,L\n");
                let sfdisk = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(format!("printf '{script}' | sfdisk --quiet \"$0\""))
                    .arg(&theirs)
                    .output()
                    .unwrap();
                assert!(sfdisk.status.success(), "{table:?} {size}: {sfdisk:?}");
                let ours_name = ours.file_name().unwrap().to_string_lossy().into_owned();
                let both = [dump(&ours), dump(&theirs)];
                assert_eq!(both[0], both[1], "{table:?} of {size} bytes");
                assert!(
                    both[0].contains("DISK1 : start=        2048"),
                    "{}",
                    both[0]
                );
                let verify = std::process::Command::new("sfdisk")
                    .arg("--verify")
                    .arg(&ours)
                    .output()
                    .unwrap();
                let said = String::from_utf8_lossy(&verify.stdout).into_owned()
                    + &String::from_utf8_lossy(&verify.stderr);
                assert!(
                    verify.status.success(),
                    "{ours_name} {table:?} {size}: {said}"
                );
                assert!(
                    said.contains("No errors detected"),
                    "{table:?} {size}: {said}"
                );
            }
        }
    }

    #[test]
    fn too_small_a_disk_is_refused_and_none_writes_nothing() {
        let e = layout(PartitionTable::Dos, MIN_SIZE - 1).unwrap_err();
        assert!(e.contains("too small"), "{e}");
        assert!(layout(PartitionTable::Gpt, 1 << 20).is_err());
        assert!(layout(PartitionTable::None, 1).unwrap().is_empty());
        assert_eq!(layout(PartitionTable::Dos, MIN_SIZE).unwrap().len(), 1);
        assert_eq!(layout(PartitionTable::Gpt, MIN_SIZE).unwrap().len(), 3);
    }
}
