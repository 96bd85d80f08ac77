use futures::TryStreamExt;
use oxide_client::{Error, ListOptions, SortMode, SshKeyCreate};

use crate::common::{PUBLIC_KEY, client, project, sim, since};
use crate::instances::baker_body;

#[tokio::test]
async fn lists_walk_several_pages_sending_only_the_token_later() {
    let sim = sim().await;
    let c = client(&sim);
    let debian = c.image_view("debian-12", None).await.unwrap();
    for n in 0..5 {
        let body = baker_body(&format!("vm-{n}"), debian.id).start(false);
        c.instance_create(&project(), &body).await.unwrap();
    }
    let from = sim.requests().len();
    let opts = ListOptions::limit(2).sort_by(SortMode::NameDescending);
    let all: Vec<_> = c
        .instance_list(&project(), opts)
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = all.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["vm-4", "vm-3", "vm-2", "vm-1", "vm-0"]);

    let reqs = since(&sim, from);
    // 2 + 2 + 1 + an empty last page.
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    let keys = |i: usize| {
        let mut k: Vec<&str> = reqs[i].query.iter().map(|(k, _)| k.as_str()).collect();
        k.sort_unstable();
        k
    };
    assert_eq!(keys(0), ["limit", "project", "sort_by"]);
    for i in 1..4 {
        assert_eq!(keys(i), ["limit", "page_token"], "page {i}");
    }
}

#[tokio::test]
async fn ssh_key_list_pages_and_a_zero_limit_is_refused() {
    let sim = sim().await;
    let c = client(&sim);
    for n in 0..3 {
        c.current_user_ssh_key_create(&SshKeyCreate::new(format!("k{n}"), PUBLIC_KEY))
            .await
            .unwrap();
    }
    let all: Vec<_> = c
        .current_user_ssh_key_list(ListOptions::limit(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["k0", "k1", "k2"]
    );
    let e = c
        .current_user_ssh_key_list(ListOptions::limit(0))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
}
