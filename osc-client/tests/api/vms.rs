use osc_client::MetadataClient;
use osc_client::api::FiltersVm;

use crate::common::setup;

#[tokio::test]
async fn metadata_names_the_host_vm_and_read_vms_finds_it() {
    let (sim, client) = setup().await;
    let md = MetadataClient::new(sim.metadata_url()).expect("metadata client");
    let vm_id = md.instance_id().await.expect("instance-id");
    assert_eq!(vm_id, sim.vm_id());
    assert_eq!(md.availability_zone().await.expect("az"), sim.subregion());
    assert_eq!(md.region().await.expect("region"), sim.region());
    assert!(md.get("no-such-key").await.expect_err("404").status() == Some(404));

    let vm = client
        .vms()
        .find(&vm_id)
        .await
        .expect("ReadVms")
        .expect("the host VM");
    assert_eq!(vm.placement.subregion_name, sim.subregion());
    assert_eq!(vm.state, "running");
    assert_eq!(vm.block_device_mappings[0].device_name, "/dev/sda1");

    let none = client
        .vms()
        .read(FiltersVm::ids(["i-00000000"]))
        .await
        .expect("ReadVms");
    assert!(none.is_empty());
    sim.shutdown().await;
}
