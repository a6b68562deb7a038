//! The boot-storm guard: at most N driver starts at once per host and per cluster. Waiting
//! starts queue in arrival order (tokio's semaphore is fair) and their desks stay START_UP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct BootGuard {
    per_host: usize,
    per_cluster: usize,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while a desk's start runs.
pub struct BootSlot {
    _cluster: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

impl BootGuard {
    pub fn new(per_host: usize, per_cluster: usize) -> Self {
        BootGuard {
            per_host: per_host.max(1),
            per_cluster: per_cluster.max(1),
            gates: Mutex::new(HashMap::new()),
        }
    }

    fn gate(&self, key: String, size: usize) -> Arc<Semaphore> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(size)))
            .clone()
    }

    /// Waits for a cluster slot, then a host slot (always in that order, so no two starts can
    /// hold each other's second slot).
    pub async fn enter(&self, cluster_id: &str, host_id: &str) -> BootSlot {
        let cluster = self.gate(format!("cluster/{cluster_id}"), self.per_cluster);
        let host = self.gate(format!("host/{host_id}"), self.per_host);
        // The semaphores are never closed, so acquiring cannot fail.
        let c = cluster
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("boot gate closed"));
        let h = host
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("boot gate closed"));
        BootSlot {
            _cluster: c,
            _host: h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn bounds_concurrent_starts_per_host_and_cluster() {
        let guard = Arc::new(BootGuard::new(2, 3));
        let per_host: Arc<Vec<AtomicUsize>> =
            Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
        let peak_host = Arc::new(AtomicUsize::new(0));
        let cluster_now = Arc::new(AtomicUsize::new(0));
        let peak_cluster = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..18 {
            let (g, ph, pk, cn, pc) = (
                guard.clone(),
                per_host.clone(),
                peak_host.clone(),
                cluster_now.clone(),
                peak_cluster.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let host = i % 3;
                let _slot = g.enter("c", &format!("h{host}")).await;
                let n = ph[host].fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(n, Ordering::SeqCst);
                let c = cn.fetch_add(1, Ordering::SeqCst) + 1;
                pc.fetch_max(c, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                ph[host].fetch_sub(1, Ordering::SeqCst);
                cn.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak_host.load(Ordering::SeqCst) <= 2);
        assert!(peak_cluster.load(Ordering::SeqCst) <= 3);
        assert_eq!(
            peak_cluster.load(Ordering::SeqCst),
            3,
            "the cluster gate is the binding one here"
        );
    }
}
