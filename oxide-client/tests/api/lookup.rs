use oxide_client::{Error, NameOrId};

use crate::common::{client, project, sim, since};
use crate::instances::{build_instance, delete_instance};

#[tokio::test]
async fn by_id_no_project_by_name_with_project() {
    let sim = sim().await;
    let c = client(&sim);
    let (i, disk) = build_instance(&c, "looked-up").await;
    let p = project();

    let from = sim.requests().len();
    // By ID, a given project is dropped (the rack would answer 400).
    c.instance_view(i.id, Some(&p)).await.unwrap();
    c.disk_view(disk, Some(&p)).await.unwrap();
    // By name, the project is sent.
    c.instance_view("looked-up", Some(&p)).await.unwrap();
    c.disk_view("looked-up", Some(&p)).await.unwrap();
    // Images: a name without project is a silo lookup.
    c.image_view("debian-12", None).await.unwrap();
    let reqs = since(&sim, from);
    let got: Vec<(String, Option<&str>)> = reqs
        .iter()
        .map(|r| (r.path.clone(), r.query_param("project")))
        .collect();
    assert_eq!(
        got,
        vec![
            (format!("/v1/instances/{}", i.id), None),
            (format!("/v1/disks/{disk}"), None),
            ("/v1/instances/looked-up".to_owned(), Some("imagebake")),
            ("/v1/disks/looked-up".to_owned(), Some("imagebake")),
            ("/v1/images/debian-12".to_owned(), None),
        ]
    );

    // A name without a project fails before sending anything.
    let before = sim.request_count();
    let e = c.instance_view("looked-up", None).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert_eq!(sim.request_count(), before);

    // A UUID-shaped string is an ID.
    assert!(NameOrId::from(i.id.to_string()).is_id());
    delete_instance(&c, i.id).await;
}
