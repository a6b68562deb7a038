//! The fleet's order index: every desk's list keys in memory, kept in each order 6.1.2 sorts by,
//! so that a page anywhere in the fleet is found by its position instead of an OFFSET walk.
//!
//! A database index cannot say which row is the 50,000th without stepping over the 49,999
//! before it: neither SQLite's nor PostgreSQL's B-trees count their subtrees. Here each order is
//! a list of desk handles cut into chunks of a few hundred, and each chunk counts its desks per
//! state, so the k-th desk of an order — of the whole fleet or of the desks in some states — is
//! found by adding a few hundred chunk counts and scanning one chunk. No crate offers counted
//! selection under a filter over keys kept outside the tree, which is why this is written here
//! (see ARCHITECTURE.md). The index holds keys only; the rows of a page are always read from the
//! database by id, and [`super::feed`] keeps the keys in step with every committed desk write.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The list columns whose values the index keeps, in this order ([`Keys::text`]).
pub(super) const KEY_COLS: [&str; 13] = [
    "d.name",
    "d.state",
    "d.desk_type",
    "d.ip",
    "d.terminal_ip",
    "d.id",
    "d.user_name",
    "d.image_name",
    "d.category",
    "d.cluster_id",
    "d.strategy_id",
    "d.network_id",
    "d.host_id",
];
const STATE: usize = 1;
const ID: usize = 5;
/// Columns with few distinct values: one shared copy of each value.
const INTERNED: [usize; 8] = [1, 2, 7, 8, 9, 10, 11, 12];
/// The creation time column, the other key and every order's tie-break with the id.
pub(super) const CREATED: &str = "d.created_at";

/// Distinct states the chunk counts have room for (DeskState has 17).
const MAX_STATES: usize = 32;
/// A chunk is split when it grows past this many desks.
const CHUNK_MAX: usize = 1024;
/// A chunk's size when an order is built.
const CHUNK_FILL: usize = 512;

/// One desk's list keys.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Keys {
    pub text: [Arc<str>; 13],
    pub created_at: i64,
}

impl Keys {
    pub(super) fn id(&self) -> &str {
        &self.text[ID]
    }
}

/// An order of the list: by a key column (`None`: by creation time), ascending or descending,
/// ties always broken by creation time and id ascending, as the SQL orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct OrderBy {
    col: Option<usize>,
    desc: bool,
}

impl OrderBy {
    /// The order for a list column (`d.name`, …, `d.created_at`), if the index keeps it.
    pub(super) fn of(column: &str, desc: bool) -> Option<OrderBy> {
        if column == CREATED {
            return Some(OrderBy { col: None, desc });
        }
        let col = KEY_COLS.iter().position(|c| *c == column)?;
        Some(OrderBy {
            col: Some(col),
            desc,
        })
    }
}

/// Which states a page is filtered to: a bit per state code, or every desk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StateMask {
    All,
    Only(u32),
}

struct Chunk {
    items: Vec<u32>,
    per_state: [u32; MAX_STATES],
}

impl Chunk {
    fn matching(&self, mask: StateMask) -> usize {
        match mask {
            StateMask::All => self.items.len(),
            StateMask::Only(m) => bits(m).map(|s| self.per_state[s] as usize).sum(),
        }
    }
}

fn bits(m: u32) -> impl Iterator<Item = usize> {
    (0..MAX_STATES).filter(move |s| m & (1 << s) != 0)
}

/// One order: the handles of every desk, sorted, in chunks.
#[derive(Default)]
struct Order {
    chunks: Vec<Chunk>,
}

/// The keys of every desk and the orders asked for so far.
#[derive(Default)]
pub(super) struct Index {
    slots: Vec<Option<Keys>>,
    state_of: Vec<u8>,
    free: Vec<u32>,
    by_id: HashMap<Arc<str>, u32>,
    states: Vec<Arc<str>>,
    state_totals: [u32; MAX_STATES],
    values: HashSet<Arc<str>>,
    orders: HashMap<OrderBy, Order>,
}

impl Index {
    /// An index of `desks`; orders are built when first asked for.
    pub(super) fn new(desks: Vec<Keys>) -> Option<Index> {
        let mut ix = Index::default();
        for k in desks {
            ix.put(k)?;
        }
        Some(ix)
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn has_order(&self, by: OrderBy) -> bool {
        self.orders.contains_key(&by)
    }

    /// Builds order `by` from the keys: one sort of the fleet, once.
    pub(super) fn build_order(&mut self, by: OrderBy) {
        let mut all: Vec<u32> = self.by_id.values().copied().collect();
        all.sort_unstable_by(|a, b| self.cmp(by, *a, *b));
        let chunks = all
            .chunks(CHUNK_FILL)
            .map(|items| self.chunk(items.to_vec()))
            .collect();
        self.orders.insert(by, Order { chunks });
    }

    /// The state mask of a filter's values; `None` when a value is not a state any desk has
    /// had (it matches nothing, which the mask says by leaving its bit out).
    pub(super) fn mask(&self, states: &[&str]) -> StateMask {
        let mut m = 0u32;
        for s in states {
            if let Some(code) = self.states.iter().position(|t| &**t == *s) {
                m |= 1 << code;
            }
        }
        StateMask::Only(m)
    }

    /// How many desks the mask lets through.
    pub(super) fn total(&self, mask: StateMask) -> usize {
        match mask {
            StateMask::All => self.len(),
            StateMask::Only(m) => bits(m).map(|s| self.state_totals[s] as usize).sum(),
        }
    }

    /// The ids of up to `limit` desks from position `offset` of order `by` among the desks the
    /// mask lets through (`None` if the order has not been built).
    pub(super) fn page(
        &self,
        by: OrderBy,
        mask: StateMask,
        offset: usize,
        limit: usize,
    ) -> Option<Vec<Arc<str>>> {
        let order = self.orders.get(&by)?;
        let mut skip = offset;
        let mut out = Vec::with_capacity(limit);
        for c in &order.chunks {
            if out.len() >= limit {
                break;
            }
            let n = c.matching(mask);
            if skip >= n {
                skip -= n;
                continue;
            }
            for h in &c.items {
                if !self.lets_through(mask, *h) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                } else if out.len() < limit {
                    out.push(self.keys(*h).text[ID].clone());
                } else {
                    break;
                }
            }
        }
        Some(out)
    }

    /// Puts a desk's current keys (a new desk, or a change of one), or removes it (`None`).
    pub(super) fn apply(&mut self, id: &str, keys: Option<Keys>) -> Option<()> {
        let old = self.by_id.get(id).copied();
        match (old, keys) {
            (None, None) => Some(()),
            (None, Some(k)) => self.put(k),
            (Some(h), None) => {
                self.unplace(h);
                self.release(h);
                Some(())
            }
            (Some(h), Some(k)) => self.change(h, k),
        }
    }

    fn put(&mut self, k: Keys) -> Option<()> {
        let h = self.claim(k)?;
        let orders: Vec<OrderBy> = self.orders.keys().copied().collect();
        for by in orders {
            self.insert(by, h);
        }
        Some(())
    }

    /// A desk whose keys changed: orders whose key moved re-place it; the others only move
    /// its count to its new state.
    fn change(&mut self, h: u32, k: Keys) -> Option<()> {
        let Some(old) = self.slots[h as usize].clone() else {
            return Some(());
        };
        if old == k {
            return Some(());
        }
        let moved: Vec<OrderBy> = self
            .orders
            .keys()
            .copied()
            .filter(|by| match by.col {
                Some(c) => old.text[c] != k.text[c],
                None => false,
            } || old.created_at != k.created_at)
            .collect();
        for by in &moved {
            self.remove(*by, h);
        }
        let old_state = self.state_of[h as usize];
        let new_state = self.state_code(&k.text[STATE])?;
        let kept: Vec<OrderBy> = self
            .orders
            .keys()
            .copied()
            .filter(|by| !moved.contains(by))
            .collect();
        if old_state != new_state {
            for by in &kept {
                self.recount(*by, h, old_state, new_state);
            }
            self.state_totals[old_state as usize] -= 1;
            self.state_totals[new_state as usize] += 1;
            self.state_of[h as usize] = new_state;
        }
        self.slots[h as usize] = Some(self.interned(k));
        for by in moved {
            self.insert(by, h);
        }
        Some(())
    }

    /// Gives `k` a handle; `None` when there are more distinct states than the counts hold.
    fn claim(&mut self, k: Keys) -> Option<u32> {
        let state = self.state_code(&k.text[STATE])?;
        let k = self.interned(k);
        let id = k.text[ID].clone();
        let h = match self.free.pop() {
            Some(h) => {
                self.slots[h as usize] = Some(k);
                self.state_of[h as usize] = state;
                h
            }
            None => {
                self.slots.push(Some(k));
                self.state_of.push(state);
                u32::try_from(self.slots.len() - 1).ok()?
            }
        };
        self.state_totals[state as usize] += 1;
        self.by_id.insert(id, h);
        Some(h)
    }

    fn release(&mut self, h: u32) {
        if let Some(k) = self.slots[h as usize].take() {
            self.by_id.remove(k.id());
            self.state_totals[self.state_of[h as usize] as usize] -= 1;
            self.free.push(h);
        }
    }

    fn unplace(&mut self, h: u32) {
        let orders: Vec<OrderBy> = self.orders.keys().copied().collect();
        for by in orders {
            self.remove(by, h);
        }
    }

    fn state_code(&mut self, state: &Arc<str>) -> Option<u8> {
        if let Some(i) = self.states.iter().position(|s| s == state) {
            return u8::try_from(i).ok();
        }
        if self.states.len() >= MAX_STATES {
            return None;
        }
        self.states.push(state.clone());
        u8::try_from(self.states.len() - 1).ok()
    }

    /// `k` with its few-valued columns sharing one copy of each value.
    fn interned(&mut self, mut k: Keys) -> Keys {
        for c in INTERNED {
            match self.values.get(&k.text[c]) {
                Some(v) => k.text[c] = v.clone(),
                None => {
                    self.values.insert(k.text[c].clone());
                }
            }
        }
        k
    }

    fn keys(&self, h: u32) -> &Keys {
        match &self.slots[h as usize] {
            Some(k) => k,
            None => unreachable!("an order holds only live handles"),
        }
    }

    fn lets_through(&self, mask: StateMask, h: u32) -> bool {
        match mask {
            StateMask::All => true,
            StateMask::Only(m) => m & (1 << self.state_of[h as usize]) != 0,
        }
    }

    /// The SQL order: the key (reversed for DESC), then creation time and id ascending.
    fn cmp(&self, by: OrderBy, a: u32, b: u32) -> Ordering {
        let (x, y) = (self.keys(a), self.keys(b));
        let first = match by.col {
            Some(c) => x.text[c].as_bytes().cmp(y.text[c].as_bytes()),
            None => x.created_at.cmp(&y.created_at),
        };
        let first = if by.desc { first.reverse() } else { first };
        first
            .then(x.created_at.cmp(&y.created_at))
            .then_with(|| x.text[ID].as_bytes().cmp(y.text[ID].as_bytes()))
    }

    fn chunk(&self, items: Vec<u32>) -> Chunk {
        let mut per_state = [0u32; MAX_STATES];
        for h in &items {
            per_state[self.state_of[*h as usize] as usize] += 1;
        }
        Chunk { items, per_state }
    }

    /// Where `h` is (or would go) in order `by`: its chunk and its place in that chunk.
    fn locate(&self, by: OrderBy, h: u32) -> (usize, Result<usize, usize>) {
        let Some(order) = self.orders.get(&by) else {
            return (0, Err(0));
        };
        let last = order.chunks.len().saturating_sub(1);
        let ci = order
            .chunks
            .partition_point(|c| {
                c.items
                    .last()
                    .is_some_and(|l| self.cmp(by, *l, h) == Ordering::Less)
            })
            .min(last);
        let at = order.chunks.get(ci).map_or(Err(0), |c| {
            c.items.binary_search_by(|x| self.cmp(by, *x, h))
        });
        (ci, at)
    }

    fn insert(&mut self, by: OrderBy, h: u32) {
        let (ci, at) = self.locate(by, h);
        let state = self.state_of[h as usize] as usize;
        let Some(order) = self.orders.get_mut(&by) else {
            return;
        };
        if order.chunks.is_empty() {
            order.chunks.push(Chunk {
                items: Vec::new(),
                per_state: [0; MAX_STATES],
            });
        }
        let Err(pos) = at else { return };
        let c = &mut order.chunks[ci];
        c.items.insert(pos, h);
        c.per_state[state] += 1;
        if c.items.len() > CHUNK_MAX {
            let tail = c.items.split_off(CHUNK_MAX / 2);
            let head = std::mem::take(&mut c.items);
            let (head, tail) = (self.chunk(head), self.chunk(tail));
            if let Some(order) = self.orders.get_mut(&by) {
                order.chunks[ci] = head;
                order.chunks.insert(ci + 1, tail);
            }
        }
    }

    fn remove(&mut self, by: OrderBy, h: u32) {
        let (ci, at) = self.locate(by, h);
        let state = self.state_of[h as usize] as usize;
        let Some(order) = self.orders.get_mut(&by) else {
            return;
        };
        let Ok(pos) = at else { return };
        let c = &mut order.chunks[ci];
        c.items.remove(pos);
        c.per_state[state] -= 1;
        if c.items.is_empty() {
            order.chunks.remove(ci);
        }
    }

    /// Moves `h`'s count in its chunk of order `by` from one state to another.
    fn recount(&mut self, by: OrderBy, h: u32, from: u8, to: u8) {
        let (ci, at) = self.locate(by, h);
        if at.is_err() {
            return;
        }
        if let Some(c) = self.orders.get_mut(&by).and_then(|o| o.chunks.get_mut(ci)) {
            c.per_state[from as usize] -= 1;
            c.per_state[to as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n.max(1)
        }
    }

    const STATES: [&str; 4] = ["RUNNING", "CLOSE", "SLEEP", "ERROR"];

    fn keys(rng: &mut Lcg, id: usize) -> Keys {
        let t = |s: String| -> Arc<str> { s.into() };
        let mut text: [Arc<str>; 13] =
            std::array::from_fn(|c| t(format!("v{}", rng.next(5 + c as u64))));
        text[ID] = t(format!("id{id:05}"));
        text[STATE] = t(STATES[rng.next(4) as usize].to_string());
        Keys {
            text,
            created_at: rng.next(50) as i64,
        }
    }

    /// The order as a plain sort of every live desk would give it.
    fn naive(
        ix: &Index,
        by: OrderBy,
        mask: StateMask,
        offset: usize,
        limit: usize,
    ) -> Vec<Arc<str>> {
        let mut all: Vec<u32> = ix
            .by_id
            .values()
            .copied()
            .filter(|h| ix.lets_through(mask, *h))
            .collect();
        all.sort_by(|a, b| ix.cmp(by, *a, *b));
        all.iter()
            .skip(offset)
            .take(limit)
            .map(|h| ix.keys(*h).text[ID].clone())
            .collect()
    }

    #[test]
    fn pages_match_a_full_sort_through_inserts_changes_and_removals() {
        let mut rng = Lcg(42);
        let mut ix = Index::new((0..3000).map(|i| keys(&mut rng, i)).collect()).unwrap();
        let orders: Vec<OrderBy> = [Some(0), Some(1), Some(3), Some(6), None]
            .into_iter()
            .flat_map(|col| [false, true].map(|desc| OrderBy { col, desc }))
            .collect();
        for by in &orders {
            ix.build_order(*by);
        }
        let mut next_id = 3000;
        for round in 0..15 {
            for _ in 0..200 {
                match rng.next(4) {
                    0 => {
                        ix.apply(&format!("id{next_id:05}"), Some(keys(&mut rng, next_id)));
                        next_id += 1;
                    }
                    1 => {
                        let id = format!("id{:05}", rng.next(next_id as u64));
                        ix.apply(&id, None);
                    }
                    _ => {
                        let n = rng.next(next_id as u64) as usize;
                        let id = format!("id{n:05}");
                        if let Some(h) = ix.by_id.get(id.as_str()).copied() {
                            let mut k = ix.keys(h).clone();
                            let c = rng.next(13) as usize;
                            if c != ID {
                                k.text[c] = keys(&mut rng, n).text[c].clone();
                            }
                            ix.apply(&id, Some(k));
                        }
                    }
                }
            }
            for by in &orders {
                for mask in [
                    StateMask::All,
                    ix.mask(&["CLOSE"]),
                    ix.mask(&["RUNNING", "ERROR"]),
                ] {
                    let total = ix.total(mask);
                    let offset = rng.next(total as u64 + 5) as usize;
                    let got = ix.page(*by, mask, offset, 20).unwrap();
                    assert_eq!(
                        got,
                        naive(&ix, *by, mask, offset, 20),
                        "round {round} {by:?} {mask:?} at {offset}"
                    );
                    assert_eq!(total, naive(&ix, *by, mask, 0, usize::MAX).len());
                }
            }
        }
    }

    #[test]
    fn a_state_no_desk_has_matches_nothing() {
        let mut rng = Lcg(7);
        let mut ix = Index::new((0..10).map(|i| keys(&mut rng, i)).collect()).unwrap();
        let by = OrderBy::of("d.name", false).unwrap();
        ix.build_order(by);
        let mask = ix.mask(&["MOVING"]);
        assert_eq!(ix.total(mask), 0);
        assert_eq!(ix.page(by, mask, 0, 20).unwrap(), Vec::<Arc<str>>::new());
    }
}
