use futures::TryStreamExt;
use oxide_client::{IpPoolType, IpVersion, ListOptions, SshKeyCreate};

use crate::common::{PUBLIC_KEY, client, project, sim};

#[tokio::test]
async fn ssh_keys_create_view_list_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let k = c
        .current_user_ssh_key_create(
            &SshKeyCreate::new("temp-key", PUBLIC_KEY).description("Created by a test."),
        )
        .await
        .unwrap();
    assert_eq!(k.public_key, PUBLIC_KEY);
    assert_eq!(c.current_user_ssh_key_view("temp-key").await.unwrap(), k);
    let dup = c
        .current_user_ssh_key_create(&SshKeyCreate::new("temp-key", PUBLIC_KEY))
        .await
        .unwrap_err();
    assert_eq!(dup.error_code(), Some("ObjectAlreadyExists"));
    let bad = c
        .current_user_ssh_key_create(&SshKeyCreate::new("bad-key", "not a key"))
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
    let all: Vec<_> = c
        .current_user_ssh_key_list(ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, vec![k.clone()]);
    c.current_user_ssh_key_delete("temp-key").await.unwrap();
    assert!(
        c.current_user_ssh_key_view(k.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.current_user_ssh_key_delete(k.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn ip_pools_and_projects() {
    let sim = sim().await;
    let c = client(&sim);
    let pools: Vec<_> = c
        .ip_pool_list(None, None, ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pools.len(), 1);
    assert!(pools[0].is_default);
    assert_eq!(pools[0].ip_version, IpVersion::V4);
    assert_eq!(pools[0].pool_type, IpPoolType::Unicast);
    let v6: Vec<_> = c
        .ip_pool_list(
            Some(IpVersion::V6),
            Some(IpPoolType::Unicast),
            ListOptions::default(),
        )
        .try_collect()
        .await
        .unwrap();
    assert!(v6.is_empty());
    assert_eq!(c.ip_pool_view("default").await.unwrap(), pools[0]);
    assert_eq!(c.ip_pool_view(pools[0].id).await.unwrap(), pools[0]);

    let p = c.project_view(project()).await.unwrap();
    assert_eq!(p.id, sim.project_id());
    assert_eq!(c.project_view(p.id).await.unwrap(), p);
    assert!(c.project_view("nope").await.unwrap_err().is_not_found());
}
