//! [`mediator::ShadowPages`] on the hook: page-aligned heap pages of the mediator domain. OP-TEE
//! reads them by machine address, which only Xen knows (a dom0less domU's RAM is not
//! direct-mapped): each page is pinned once with `TEE_STUBDOM_OP_pin(DOMID_SELF)`, which also
//! keeps Xen from ever taking it from us, and stays pinned while we hold it. Freed pages go to a
//! free list, still pinned, so a warm path makes no hypercall (the core caches pages as well).
//!
//! The kernel maps all our RAM with an identity stage-1 map, so a page's address is its
//! guest-physical address and `address >> 12` its frame.

use crate::hook::{Hook, HookPlatform};
use alloc::boxed::Box;
use alloc::vec::Vec;
use mediator::abi::PAGE_SIZE;
use mediator::{NoShadowPage, Pa, ShadowPage, ShadowPages};
use xenif::abi::DOMID_SELF;

/// One 4 KiB page, page aligned.
#[repr(C, align(4096))]
#[derive(Debug)]
pub struct PageBuf(pub [u8; PAGE_SIZE]);

#[derive(Debug)]
struct Slot {
    page: Box<PageBuf>,
    pa: u64,
}

/// The mediator's shadow pages: a growing pool of pinned pages, indexed by
/// [`ShadowPage::id`].
#[derive(Debug)]
pub struct ShadowStore {
    slots: Vec<Slot>,
    free: Vec<usize>,
    in_use: usize,
    max: usize,
    /// Answers `bytes` for an id we never gave out (a core bug): never OP-TEE-visible.
    scratch: Box<PageBuf>,
}

impl ShadowStore {
    /// A store that holds at most `max` pages.
    pub fn new(max: usize) -> Self {
        ShadowStore {
            slots: Vec::new(),
            free: Vec::new(),
            in_use: 0,
            max,
            scratch: Box::new(PageBuf([0; PAGE_SIZE])),
        }
    }

    /// Pages handed out now.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Pages pinned (handed out or on the free list).
    pub fn pinned(&self) -> usize {
        self.slots.len()
    }

    fn alloc_with<H: Hook>(&mut self, hook: &mut H) -> Result<ShadowPage, NoShadowPage> {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                if self.slots.len() >= self.max {
                    return Err(NoShadowPage);
                }
                let page = Box::new(PageBuf([0; PAGE_SIZE]));
                let gfn = (&*page as *const PageBuf as usize as u64) >> 12;
                let pa = hook.pin(DOMID_SELF, gfn).map_err(|_| NoShadowPage)?;
                self.slots.push(Slot { page, pa });
                self.slots.len() - 1
            }
        };
        self.in_use = self.in_use.saturating_add(1);
        if let Some(s) = self.slots.get_mut(id) {
            s.page.0.fill(0);
        }
        Ok(ShadowPage {
            id,
            pa: Pa::new(self.slots[id].pa),
        })
    }

    fn free_page(&mut self, page: ShadowPage) {
        if page.id < self.slots.len() && !self.free.contains(&page.id) {
            self.free.push(page.id);
            self.in_use = self.in_use.saturating_sub(1);
        }
    }

    fn bytes_of(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE] {
        match self.slots.get(page.id) {
            Some(s) => &s.page.0,
            None => &self.scratch.0,
        }
    }

    fn bytes_mut_of(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE] {
        match self.slots.get_mut(page.id) {
            Some(s) => &mut s.page.0,
            None => &mut self.scratch.0,
        }
    }
}

impl<H: Hook> ShadowPages for HookPlatform<'_, H> {
    fn alloc(&mut self) -> Result<ShadowPage, NoShadowPage> {
        self.shadow.alloc_with(self.hook)
    }
    fn free(&mut self, page: ShadowPage) {
        self.shadow.free_page(page)
    }
    fn bytes(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE] {
        self.shadow.bytes_of(page)
    }
    fn bytes_mut(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE] {
        self.shadow.bytes_mut_of(page)
    }
}
