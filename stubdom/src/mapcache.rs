//! A small LRU cache of foreign mappings, so that the pages of a guest's OP-TEE messages, which
//! the core reads and writes several times per call and the guest reuses call after call, are
//! mapped once instead of once per access (each map and unmap is a hypercall plus a TLB
//! invalidation).
//!
//! A cached mapping holds Xen's reference on the guest page: the page cannot be freed or given to
//! another domain while it is mapped, so a stale entry can only show the guest's own page at an
//! old frame (a guest that remaps its RAM under its own OP-TEE call confuses only itself). All
//! of a domain's entries are dropped when it is created or destroyed, before the mediator
//! releases it, so the cache never keeps a dying domain's memory alive.

use alloc::vec::Vec;

#[derive(Debug)]
struct Entry<P> {
    dom: u16,
    gfn: u64,
    page: P,
    used: u64,
}

/// Up to `cap` mapped pages, least recently used evicted first.
#[derive(Debug)]
pub struct MapCache<P> {
    entries: Vec<Entry<P>>,
    cap: usize,
    tick: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that needed a new mapping.
    pub misses: u64,
}

impl<P> MapCache<P> {
    /// An empty cache of at most `cap` pages (at least one).
    pub fn new(cap: usize) -> Self {
        MapCache {
            entries: Vec::new(),
            cap: cap.max(1),
            tick: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The index of the mapping of `gfn` of `dom`, if cached (and marks it used).
    pub fn lookup(&mut self, dom: u16, gfn: u64) -> Option<usize> {
        self.tick = self.tick.wrapping_add(1);
        let i = self
            .entries
            .iter()
            .position(|e| e.dom == dom && e.gfn == gfn);
        match i {
            Some(i) => {
                self.hits = self.hits.saturating_add(1);
                self.entries[i].used = self.tick;
            }
            None => self.misses = self.misses.saturating_add(1),
        }
        i
    }

    /// Whether inserting needs an eviction first.
    pub fn full(&self) -> bool {
        self.entries.len() >= self.cap
    }

    /// Removes the least recently used entry (to unmap it).
    pub fn evict(&mut self) -> Option<P> {
        let i = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.used)
            .map(|(i, _)| i)?;
        Some(self.entries.swap_remove(i).page)
    }

    /// Adds a new mapping (the caller evicted first if [`MapCache::full`]); its index.
    pub fn insert(&mut self, dom: u16, gfn: u64, page: P) -> usize {
        self.tick = self.tick.wrapping_add(1);
        self.entries.push(Entry {
            dom,
            gfn,
            page,
            used: self.tick,
        });
        self.entries.len() - 1
    }

    /// The mapping at `idx` (from [`MapCache::lookup`] or [`MapCache::insert`], valid until the
    /// next insert, evict or forget).
    pub fn get(&self, idx: usize) -> Option<&P> {
        self.entries.get(idx).map(|e| &e.page)
    }

    /// Removes every mapping of `dom` (to unmap them).
    pub fn forget(&mut self, dom: u16) -> Vec<P> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            if self.entries[i].dom == dom {
                out.push(self.entries.swap_remove(i).page);
            } else {
                i += 1;
            }
        }
        out
    }

    /// Mapped pages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_eviction_and_forget() {
        let mut c = MapCache::new(2);
        assert_eq!(c.lookup(1, 10), None);
        c.insert(1, 10, "a");
        c.insert(2, 20, "b");
        assert!(c.full());
        assert!(c.lookup(1, 10).is_some()); // a is now the most recent
        assert_eq!(c.evict(), Some("b"));
        let i = c.insert(1, 11, "c");
        assert_eq!(c.get(i), Some(&"c"));
        assert_eq!((c.hits, c.misses), (1, 1));
        let mut gone = c.forget(1);
        gone.sort();
        assert_eq!(gone, ["a", "c"]);
        assert!(c.is_empty());
    }
}
