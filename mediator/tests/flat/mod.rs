//! An allocation-free platform for the mediator core and a counting global allocator, shared by
//! the warm-path test (`tests/warm_path.rs`) and the benchmark (`benches/null_invoke.rs`, which
//! includes this file by path).
//!
//! `Flat`: guest RAM in one array, pin counters per page, a fixed pool of shadow pages, and a
//! secure world that reads the shadowed argument and page list by PA and answers OK, as OP-TEE
//! would. Nothing in it allocates after `Flat::new`, so every allocation counted while it serves
//! a call is the mediator's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mediator::abi::{msg, smc, split, MsgArg, Param, PAGE_SIZE};
use mediator::{
    DomId, GuestMemory, GuestNotification, Ipa, MemFault, NoShadowPage, Pa, PinFault, PinnedPage,
    Pinning, Regs, SecureWorld, ShadowPage, ShadowPages,
};

/// The system allocator, counting the allocations (and reallocations) of each thread.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    // `const` and without a destructor: reaching it never allocates (no lazy registration).
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // A thread being torn down has no counter any more; its allocations are not ours to count.
    let _ = ALLOCS.try_with(|c| c.set(c.get().saturating_add(1)));
}

/// Allocations made by this thread so far.
pub fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Guest RAM base (IPA).
pub const RAM: u64 = 0x4000_0000;
/// Guest RAM size in pages.
pub const RAM_PAGES: usize = 64;
const SHADOW_BASE: u64 = 0x8000_0000;
/// The guest.
pub const G: DomId = DomId::new(1).unwrap();

/// The allocation-free platform.
#[derive(Debug)]
pub struct Flat {
    /// Guest RAM.
    pub ram: Vec<u8>,
    /// Pins per guest page.
    pub pins: Vec<u32>,
    shadow: Vec<Box<[u8; PAGE_SIZE]>>,
    free: Vec<usize>,
}

impl Default for Flat {
    fn default() -> Flat {
        Flat::new()
    }
}

impl Flat {
    /// RAM of [`RAM_PAGES`] pages at [`RAM`], 32 shadow pages.
    pub fn new() -> Flat {
        Flat {
            ram: vec![0; RAM_PAGES * PAGE_SIZE],
            pins: vec![0; RAM_PAGES],
            shadow: (0..32).map(|_| Box::new([0u8; PAGE_SIZE])).collect(),
            free: (0..32).rev().collect(),
        }
    }
    fn off(&self, ipa: u64, len: usize) -> Result<usize, MemFault> {
        let o = ipa.checked_sub(RAM).ok_or(MemFault)? as usize;
        if o.checked_add(len).ok_or(MemFault)? > self.ram.len() {
            return Err(MemFault);
        }
        Ok(o)
    }
    fn shadow_of(&self, pa: u64) -> Option<&[u8; PAGE_SIZE]> {
        let i = pa.checked_sub(SHADOW_BASE)? as usize / PAGE_SIZE;
        self.shadow.get(i).map(|b| &**b)
    }
}

impl GuestMemory for Flat {
    fn read(&mut self, _: DomId, ipa: Ipa, buf: &mut [u8]) -> Result<(), MemFault> {
        let o = self.off(ipa.raw(), buf.len())?;
        buf.copy_from_slice(&self.ram[o..o + buf.len()]);
        Ok(())
    }
    fn write(&mut self, _: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault> {
        let o = self.off(ipa.raw(), buf.len())?;
        self.ram[o..o + buf.len()].copy_from_slice(buf);
        Ok(())
    }
}

impl Pinning for Flat {
    fn pin(&mut self, _: DomId, page: Ipa) -> Result<PinnedPage, PinFault> {
        let o = self.off(page.raw(), PAGE_SIZE).map_err(|_| PinFault)?;
        self.pins[o / PAGE_SIZE] += 1;
        Ok(PinnedPage {
            ipa: page,
            pa: Pa::new(0x1_0000_0000 + o as u64),
        })
    }
    fn unpin(&mut self, _: DomId, page: PinnedPage) {
        self.pins[(page.pa.raw() - 0x1_0000_0000) as usize / PAGE_SIZE] -= 1;
    }
}

impl ShadowPages for Flat {
    fn alloc(&mut self) -> Result<ShadowPage, NoShadowPage> {
        let i = self.free.pop().ok_or(NoShadowPage)?;
        Ok(ShadowPage {
            id: i,
            pa: Pa::new(SHADOW_BASE + (i * PAGE_SIZE) as u64),
        })
    }
    fn free(&mut self, page: ShadowPage) {
        self.free.push(page.id);
    }
    fn bytes(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE] {
        &self.shadow[page.id]
    }
    fn bytes_mut(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE] {
        &mut self.shadow[page.id]
    }
}

impl GuestNotification for Flat {
    fn has_notif_interrupt(&mut self, _dom: DomId) -> bool {
        true
    }
}

impl SecureWorld for Flat {
    fn smc(&mut self, r: Regs) -> Regs {
        let mut out = r;
        if r[0] == u64::from(smc::CALL_WITH_ARG) {
            // Like OP-TEE: read the argument and the page list by PA.
            let pa = (r[1] << 32) | r[2];
            let arg = self.shadow_of(pa).expect("argument in shadow memory");
            let list = u64::from_le_bytes(arg[40..48].try_into().unwrap());
            let pages = self
                .shadow_of(list & !0xfff)
                .expect("list in shadow memory");
            let mut sum = 0u64;
            for j in 0..4 {
                sum = sum.wrapping_add(u64::from_le_bytes(
                    pages[j * 8..j * 8 + 8].try_into().unwrap(),
                ));
            }
            std::hint::black_box(sum);
            let i = (pa - SHADOW_BASE) as usize / PAGE_SIZE;
            self.shadow[i][20..24].copy_from_slice(&0u32.to_le_bytes());
        }
        out[0] = 0;
        out
    }
}

/// Writes a null INVOKE of `session` with one 4-page TMEM_INOUT memref into `dom`'s RAM: the
/// argument at [`RAM`], its page list at the next page, the data pages from page 8 on.
pub fn setup_arg<P: GuestMemory>(p: &mut P, dom: DomId, session: u32) {
    // Page list at RAM+1 page, data pages RAM+8.., argument at RAM.
    let mut list = [0u8; 32];
    for j in 0..4u64 {
        list[(j * 8) as usize..(j * 8 + 8) as usize]
            .copy_from_slice(&(RAM + (8 + j) * 4096).to_le_bytes());
    }
    p.write(dom, Ipa::new(RAM + 4096).unwrap(), &list).unwrap();
    let mut page = [0u8; PAGE_SIZE];
    {
        let mut m = MsgArg::new(&mut page, 0);
        m.set_cmd(msg::CMD_INVOKE_COMMAND);
        m.set_session(session);
        m.set_num_params(1);
        m.set_param(
            0,
            Param {
                attr: msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
                a: RAM + 4096,
                b: 4 * 4096,
                c: 0x1234,
            },
        );
    }
    p.write(dom, Ipa::new(RAM).unwrap(), &page[..64]).unwrap();
}

/// CALL_WITH_ARG of the argument [`setup_arg`] wrote.
pub fn call_regs() -> Regs {
    let (hi, lo) = split(RAM);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}
