//! The task item of a cluster removal.

use deskd_domain::ids::ClusterId;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deskd_domain::store::ClusterStore;
use deskd_domain::task::{Claim, ItemOutcome};
use deskd_tasks::{ItemHandler, Registry};

/// Task kind of a cluster removal.
pub const CLUSTER_DELETE: &str = "cluster.delete";

/// Registers the cluster removal item; `teardown` is how long the simulated teardown takes.
pub fn register(registry: &mut Registry, store: Arc<dyn ClusterStore>, teardown: Duration) {
    registry.register(CLUSTER_DELETE, Arc::new(RemoveCluster { store, teardown }));
}

struct RemoveCluster {
    store: Arc<dyn ClusterStore>,
    teardown: Duration,
}

#[async_trait]
impl ItemHandler for RemoveCluster {
    async fn run(&self, c: &Claim) -> ItemOutcome {
        tokio::time::sleep(self.teardown).await;
        let mut o = match self
            .store
            .remove_cluster(&ClusterId::from(&c.item_id))
            .await
        {
            Ok(_) => ItemOutcome::success(format!("删除集群[{}]成功", c.item_id)),
            Err(e) => ItemOutcome::failure(format!("删除集群[{}]失败：{e}", c.item_id)),
        };
        o.biz_data = Some(serde_json::json!({ "cluster_id": c.item_id }));
        o
    }
}
