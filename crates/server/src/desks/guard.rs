//! The boot-storm guard: at most N driver starts at once per host and per cluster. Waiting
//! starts queue in arrival order (tokio's semaphore is fair) and their desks stay START_UP.
//!
//! The guard also keeps its queue's tallies — per host, how many starts wait for a slot and how
//! many hold one — so the fleet overview can show the storm ([`BootGuard::queue`], served by
//! [`crate::fleet::summary::boot_queue`]). The tallies are this process's: each replica has its own guard.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct BootGuard {
    per_host: usize,
    per_cluster: usize,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
    tallies: Arc<Tallies>,
}

/// How many starts of one host wait for a slot, and how many hold one (the driver's start runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub waiting: usize,
    pub starting: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.waiting += other.waiting;
        self.starting += other.starting;
    }
}

/// The guard's queue at one moment: the limits, and the hosts and clusters with a start waiting
/// or running (ordered by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub per_host: usize,
    pub per_cluster: usize,
    /// (cluster id, tally)
    pub clusters: Vec<(String, Tally)>,
    /// (host id, its cluster id, tally)
    pub hosts: Vec<(String, String, Tally)>,
}

impl Queue {
    /// Every host's tallies added up.
    pub fn total(&self) -> Tally {
        let mut t = Tally::default();
        self.hosts.iter().for_each(|(_, _, h)| t.add(*h));
        t
    }
}

/// (cluster id, host id) → tally; an entry goes when both counts are back at zero.
type Key = (String, String);

#[derive(Default)]
struct Tallies(Mutex<HashMap<Key, Tally>>);

impl Tallies {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Tally>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn change(&self, key: &Key, f: impl FnOnce(&mut Tally)) {
        let mut map = self.lock();
        let t = map.entry(key.clone()).or_default();
        f(t);
        if *t == Tally::default() {
            map.remove(key);
        }
    }
}

/// One start's place in the tallies: counted as waiting until [`Mark::admit`], then as
/// starting; uncounted when dropped, so a start whose future is dropped while it waits (its
/// task item cancelled) leaves no phantom behind.
struct Mark {
    tallies: Arc<Tallies>,
    key: Key,
    admitted: bool,
}

impl Mark {
    fn new(tallies: Arc<Tallies>, key: Key) -> Mark {
        tallies.change(&key, |t| t.waiting += 1);
        Mark {
            tallies,
            key,
            admitted: false,
        }
    }

    fn admit(&mut self) {
        self.tallies.change(&self.key, |t| {
            t.waiting -= 1;
            t.starting += 1;
        });
        self.admitted = true;
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        let admitted = self.admitted;
        self.tallies.change(&self.key, |t| match admitted {
            true => t.starting -= 1,
            false => t.waiting -= 1,
        });
    }
}

/// Held while a desk's start runs.
pub struct BootSlot {
    _cluster: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
    _mark: Mark,
}

impl BootGuard {
    pub fn new(per_host: usize, per_cluster: usize) -> Self {
        BootGuard {
            per_host: per_host.max(1),
            per_cluster: per_cluster.max(1),
            gates: Mutex::new(HashMap::new()),
            tallies: Arc::default(),
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
        let mut mark = Mark::new(
            self.tallies.clone(),
            (cluster_id.to_string(), host_id.to_string()),
        );
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
        mark.admit();
        BootSlot {
            _cluster: c,
            _host: h,
            _mark: mark,
        }
    }

    /// The queue as it is now.
    pub fn queue(&self) -> Queue {
        let pairs: Vec<(Key, Tally)> = self
            .tallies
            .lock()
            .iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect();
        let mut clusters: BTreeMap<String, Tally> = BTreeMap::new();
        let mut hosts: BTreeMap<String, (String, Tally)> = BTreeMap::new();
        for ((cluster, host), t) in pairs {
            clusters.entry(cluster.clone()).or_default().add(t);
            hosts
                .entry(host)
                .or_insert((cluster, Tally::default()))
                .1
                .add(t);
        }
        Queue {
            per_host: self.per_host,
            per_cluster: self.per_cluster,
            clusters: clusters.into_iter().collect(),
            hosts: hosts.into_iter().map(|(h, (c, t))| (h, c, t)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Polls a start once: it registers in the queue and, without a free slot, stays pending.
    fn poll_once(
        f: &mut std::pin::Pin<Box<impl std::future::Future<Output = BootSlot>>>,
    ) -> Option<BootSlot> {
        futures::FutureExt::now_or_never(f.as_mut())
    }

    fn tally(waiting: usize, starting: usize) -> Tally {
        Tally { waiting, starting }
    }

    #[tokio::test]
    async fn the_queue_counts_waiting_and_running_starts_per_host_and_cluster() {
        let guard = BootGuard::new(1, 2);
        assert_eq!(guard.queue().total(), Tally::default());
        let a = guard.enter("c1", "h1").await;
        // h1's second start holds a cluster slot and waits for the host's
        let mut b = Box::pin(guard.enter("c1", "h1"));
        assert!(poll_once(&mut b).is_none());
        // h2's start finds the cluster's two slots taken
        let mut c = Box::pin(guard.enter("c1", "h2"));
        assert!(poll_once(&mut c).is_none());
        let d = guard.enter("c2", "h3").await;
        let q = guard.queue();
        assert_eq!((q.per_host, q.per_cluster), (1, 2));
        assert_eq!(
            q.clusters,
            vec![("c1".into(), tally(2, 1)), ("c2".into(), tally(0, 1))]
        );
        assert_eq!(
            q.hosts,
            vec![
                ("h1".into(), "c1".into(), tally(1, 1)),
                ("h2".into(), "c1".into(), tally(1, 0)),
                ("h3".into(), "c2".into(), tally(0, 1)),
            ]
        );
        assert_eq!(q.total(), tally(2, 2));

        // a start dropped while it waits (its item cancelled) leaves the queue
        drop(c);
        let q = guard.queue();
        assert_eq!(q.clusters[0], ("c1".into(), tally(1, 1)));
        assert_eq!(q.hosts.len(), 2, "h2 has nothing queued any more: {q:?}");
        // a finished start lets the next one of its host in
        drop(a);
        let b = b.await;
        assert_eq!(
            guard.queue().hosts,
            vec![
                ("h1".into(), "c1".into(), tally(0, 1)),
                ("h3".into(), "c2".into(), tally(0, 1)),
            ]
        );
        drop((b, d));
        let q = guard.queue();
        assert!(q.clusters.is_empty() && q.hosts.is_empty(), "{q:?}");
    }

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
