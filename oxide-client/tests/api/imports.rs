//! The bulk import of a disk: create, start, writes, stop, finalize into a
//! snapshot, image; the state errors and the write retries.

use imagebake_sim::Fault;
use oxide_client::{
    BULK_WRITE_MAX_CHUNK, BlockSize, DiskCreate, DiskState, Error, FinalizeDisk, ImageCreate,
    NameOrId,
};

use crate::common::{client, project, sim};

const GIB: u64 = 1 << 30;

#[tokio::test]
async fn a_disk_imported_by_bulk_writes_becomes_an_image_with_its_bytes() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let disk = c
        .disk_create(
            &p,
            &DiskCreate::importing_blocks("imp", GIB, BlockSize::B4096).description("d"),
        )
        .await
        .unwrap();
    assert_eq!(disk.block_size, 4096);
    let d = NameOrId::Id(disk.id);
    assert_eq!(
        c.disk_view(d.clone(), None).await.unwrap().state,
        DiskState::ImportReady
    );
    c.disk_bulk_write_import_start(d.clone(), None)
        .await
        .unwrap();
    assert_eq!(
        c.disk_view(d.clone(), None).await.unwrap().state,
        DiskState::ImportingFromBulkWrites
    );
    // By name, with the project, as well as by ID.
    let data: Vec<u8> = (0..BULK_WRITE_MAX_CHUNK).map(|i| (i % 251) as u8).collect();
    c.disk_bulk_write_import("imp", Some(&p), 0, &data)
        .await
        .unwrap();
    c.disk_bulk_write_import(d.clone(), None, 8 * 4096, &data[..4096])
        .await
        .unwrap();
    c.disk_bulk_write_import_stop(d.clone(), None)
        .await
        .unwrap();
    c.disk_finalize_import(d.clone(), None, &FinalizeDisk::with_snapshot("imp-snap"))
        .await
        .unwrap();
    assert_eq!(
        c.disk_view(d.clone(), None).await.unwrap().state,
        DiskState::Detached
    );
    let snap = c.snapshot_view("imp-snap", Some(&p)).await.unwrap();
    assert_eq!(snap.disk_id, disk.id);
    let image = c
        .image_create(
            Some(&p),
            &ImageCreate::from_snapshot("imp-image", snap.id, "linux", "1"),
        )
        .await
        .unwrap();
    assert_eq!(image.size, GIB);
    let bytes = sim.image_bytes(image.id, 0, 1 << 20).unwrap().unwrap();
    // The second write overwrote the first's block at 32 KiB.
    let mut want = data.clone();
    want[8 * 4096..9 * 4096].copy_from_slice(&data[..4096]);
    assert!(
        bytes[..BULK_WRITE_MAX_CHUNK] == want[..],
        "the image holds the written bytes"
    );
    assert!(bytes[BULK_WRITE_MAX_CHUNK..].iter().all(|b| *b == 0));
    let promoted = c.image_promote(image.id, None).await.unwrap();
    assert!(promoted.is_silo_image());
}

#[tokio::test]
async fn bulk_writes_are_retried_and_state_errors_are_not() {
    let sim = sim().await;
    let c = client(&sim);
    let p = project();
    let disk = c
        .disk_create(
            &p,
            &DiskCreate::importing_blocks("imp", GIB, BlockSize::B512),
        )
        .await
        .unwrap();
    let d = NameOrId::Id(disk.id);
    // A write before the start is refused (400, not retried).
    let before = sim.request_count();
    let e = c
        .disk_bulk_write_import(d.clone(), None, 0, &[1; 512])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(sim.request_count(), before + 1);
    c.disk_bulk_write_import_start(d.clone(), None)
        .await
        .unwrap();
    // A 5xx and a lost answer on a write are retried: writing the same
    // bytes again is harmless.
    sim.faults()
        .inject("disk_bulk_write_import", Fault::Status(500), 1);
    sim.faults()
        .inject("disk_bulk_write_import", Fault::DropAfter, 1);
    let before = sim.request_count();
    c.disk_bulk_write_import(d.clone(), None, 512, &[2; 512])
        .await
        .unwrap();
    assert_eq!(sim.request_count(), before + 3);
    // An oversize chunk is refused before sending.
    let before = sim.request_count();
    let e = c
        .disk_bulk_write_import(d.clone(), None, 0, &vec![0; BULK_WRITE_MAX_CHUNK + 512])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert_eq!(sim.request_count(), before);
    // Finalize while writing: the rack's 400.
    let e = c
        .disk_finalize_import(d.clone(), None, &FinalizeDisk::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(
        e.to_string()
            .contains("cannot finalize disk in state importing_from_bulk_writes"),
        "{e}"
    );
    // A taken disk name: ObjectAlreadyExists.
    let e = c
        .disk_create(
            &p,
            &DiskCreate::importing_blocks("imp", GIB, BlockSize::B512),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("ObjectAlreadyExists"));
    // Abandoning: stop, finalize without a snapshot, delete.
    c.disk_bulk_write_import_stop(d.clone(), None)
        .await
        .unwrap();
    c.disk_finalize_import(d.clone(), None, &FinalizeDisk::default())
        .await
        .unwrap();
    c.disk_delete(d, None).await.unwrap();
    let inv = sim.inventory();
    assert!(inv.disks.is_empty() && inv.snapshots.is_empty(), "{inv:?}");
}
