//! The ABI of tee-stubdom's Xen hook: the OP-TEE forwarder (`tee=stubdom`) and its mediator
//! domain. Mirrors `xen/include/public/tee_stubdom.h`, which `hv-patches/0005` adds to Xen;
//! `tests/hook_layout.rs` compiles that header (taken from the patch) and checks every size,
//! offset and constant here against it.
//!
//! - [`op`] and the `#[repr(C)]` argument structs: `HYPERVISOR_tee_stubdom_op(cmd, arg)`.
//! - [`Request`] / [`Response`] and [`BackRing`]: the request ring (`public/io/ring.h`
//!   conventions; Xen is the front end, the mediator the back end). The ring logic is pure and
//!   host-tested; the shared page itself is reached through [`RingPage`], which [`shared`]
//!   implements over the real page with atomics (the mediator image's ring) and the tests over
//!   plain memory.
//! - `call` (aarch64 only): the hypercall wrappers, safe; the `unsafe` under them (the hypercall
//!   and the guest's SMCCC `hvc #0`) is in `hypercall::hook`.
//!
//! Contract summary (the header has the details): a CALL request makes the guest's vCPU wait in
//! Xen until [`op::RESPOND`] with its `seq` (hv-patches 0012: it takes the answer on its own
//! pCPU); a respond with [`RESPOND_EXECUTE`] instead has that vCPU make a checked secure call for
//! its domain and comes back as a [`req::RESULT`] of the same `seq`, to be answered in turn
//! (hv-patches 0013); every consumed request must be acknowledged by a response on
//! the ring (Xen only reads the index, to free slots); a domain's CREATED comes before its calls
//! and its DESTROYED after them; the mediator must look at the ring on every wake-up because a
//! notification can be lost.
#![forbid(unsafe_code)]

use crate::abi::DomId;
use crate::error::{XenError, XenResult};

/// `__HYPERVISOR_tee_stubdom_op` (= `__HYPERVISOR_arch_1`, hv-patches 0005).
pub const HYPERVISOR_TEE_STUBDOM_OP: u64 = 49;

/// `TEE_STUBDOM_OP_*`: the `cmd` argument of the hypercall.
pub mod op {
    /// Register as the mediator ([`super::Register`]).
    pub const REGISTER: u32 = 1;
    /// Complete a forwarded call ([`super::Respond`]).
    pub const RESPOND: u32 = 2;
    /// Pin a page and get its machine address ([`super::Pin`]).
    pub const PIN: u32 = 3;
    /// Drop one pin ([`super::Pin`]).
    pub const UNPIN: u32 = 4;
    /// SMC to OP-TEE for a client, checked by Xen ([`super::SecureCall`]).
    pub const SECURE_CALL: u32 = 5;
    /// Done with a destroyed domain ([`super::DomainArg`]).
    pub const RELEASE: u32 = 6;
    /// The forwarder's state of a domain ([`super::Query`]).
    pub const QUERY: u32 = 7;
    /// Raise a guest's TEE notification interrupt ([`super::DomainArg`]).
    pub const NOTIFY: u32 = 8;
    /// Test builds of Xen only: Xen's canary page ([`super::Canary`]; hv-patches 0011).
    pub const CANARY: u32 = 9;
    /// [`PIN`] for each page of a list, in order, the machine addresses written over the gfns
    /// ([`super::PinList`]; hv-patches 0018).
    pub const PIN_LIST: u32 = 10;
    /// [`UNPIN`] for each page of a list, in order ([`super::PinList`]; hv-patches 0018).
    pub const UNPIN_LIST: u32 = 11;
}

/// `TEE_STUBDOM_MAX_PINS`: Xen's per-domain pin cap.
pub const MAX_PINS: u32 = 16384;

/// `TEE_STUBDOM_MAX_PIN_LIST`: the most entries of one [`op::PIN_LIST`] / [`op::UNPIN_LIST`]
/// (a page list page's 511 and more; hv-patches 0018).
pub const MAX_PIN_LIST: u32 = 512;

/// `TEE_STUBDOM_RPC_FAILED`: x6 of a RETURN_FROM_RPC secure call that asks Xen to resume the
/// OP-TEE thread with a failed answer of its own (no buffer, or a failed RPC argument without
/// memory references) instead of the mediator's (hv-patches 0009).
pub const RPC_FAILED: u64 = 1;

/// `TEE_STUBDOM_REQ_*`: request types.
pub mod req {
    /// A guest's TEE call (`domid`, `vcpu`, `x`).
    pub const CALL: u16 = 1;
    /// `domid` may use the TEE; `x[0]` is its FLASK SID when announced, 0 without FLASK
    /// (hv-patches 0019), also when replayed at registration.
    pub const CREATED: u16 = 2;
    /// `domid` is being destroyed.
    pub const DESTROYED: u16 = 3;
    /// The outcome of a secure call the calling vCPU made for its call on our word
    /// ([`super::RESPOND_EXECUTE`], hv-patches 0013): `x[0..4]`, or Xen's refusal in `status`.
    pub const RESULT: u16 = 4;
}

/// `TEE_STUBDOM_RESPOND_EXECUTE`: [`Respond::flags`] that makes `x` a secure call for the
/// calling vCPU to make for its own domain (checked as [`op::SECURE_CALL`] is, x7 ignored),
/// whose outcome comes back as a [`req::RESULT`] of the same call (hv-patches 0013).
pub const RESPOND_EXECUTE: u16 = 1 << 0;

/// `TEE_STUBDOM_RESPOND_DIRECT_INTR`, with [`RESPOND_EXECUTE`] only: OP-TEE's RPC_FOREIGN_INTR
/// answer goes to the vCPU itself, and Xen makes the domain's RETURN_FROM_RPC of that thread at
/// once, with the same `seq`; only an answer other than a foreign interrupt comes back as the
/// [`req::RESULT`] (hv-patches 0015).
pub const RESPOND_DIRECT_INTR: u16 = 1 << 1;

/// `TEE_STUBDOM_RESPOND_WAIT`, with either kind of answer: once the answer is taken, the
/// mediator's vCPU blocks until an event is pending for it, as a WFI would, so that its last
/// answer before it waits and the wait are one entry into Xen; a refused answer returns at once
/// (hv-patches 0016).
pub const RESPOND_WAIT: u16 = 1 << 2;

/// `TEE_STUBDOM_F_REPLAY`: the request was replayed at registration.
pub const F_REPLAY: u32 = 1 << 0;
/// `TEE_STUBDOM_F_TEE_KNOWN`: OP-TEE already knows the client (no VM_CREATED needed).
pub const F_TEE_KNOWN: u32 = 1 << 1;
/// `TEE_STUBDOM_F_DIRECT`: a RESULT of Xen's resume from a foreign interrupt
/// ([`RESPOND_DIRECT_INTR`]); refused, `x[3]` is the thread, still suspended (hv-patches 0015).
pub const F_DIRECT: u32 = 1 << 2;

/// `TEE_STUBDOM_Q_TEE_KNOWN`.
pub const Q_TEE_KNOWN: u32 = 1 << 0;
/// `TEE_STUBDOM_Q_DYING`.
pub const Q_DYING: u32 = 1 << 1;
/// `TEE_STUBDOM_Q_CALL_PENDING`.
pub const Q_CALL_PENDING: u32 = 1 << 2;

/// `struct tee_stubdom_register`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Register {
    /// IN: frame of the ring page.
    pub ring_gfn: u64,
    /// OUT: the event channel (bind it with `EVTCHNOP_bind_interdomain` to `DOMID_SELF`).
    pub port: u32,
    /// OUT: requests replayed on the ring.
    pub nr_replayed: u32,
    /// OUT: the SPI of OP-TEE's notifications, routed to the caller under this number; 0: none.
    pub notif_irq: u32,
    /// Unused.
    pub pad: u32,
}

/// `struct tee_stubdom_respond`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Respond {
    /// The `seq` of the CALL request.
    pub seq: u64,
    /// The calling domain.
    pub domid: DomId,
    /// 0 (`x` is the answer) or [`RESPOND_EXECUTE`] (`x` is a secure call to make), with
    /// [`RESPOND_DIRECT_INTR`] and [`RESPOND_WAIT`].
    pub flags: u16,
    /// The calling vCPU.
    pub vcpu: u32,
    /// The answer, x0–x7, or the secure call.
    pub x: [u64; 8],
}

/// `struct tee_stubdom_pin` (pin and unpin).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pin {
    /// A TEE guest, or `DOMID_SELF` for the mediator's own page.
    pub domid: DomId,
    /// Must be 0.
    pub pad: [u16; 3],
    /// The page.
    pub gfn: u64,
    /// OUT (pin): its machine address.
    pub maddr: u64,
}

/// `struct tee_stubdom_pin_list` (pin_list and unpin_list, hv-patches 0018). Not an argument of
/// [`call::tee_stubdom_op`]: `list` is an address Xen reads (and, for pin_list, writes), so
/// only `hypercall::hook::pin_list_once`, which fills it from a live slice, makes one for Xen.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinList {
    /// A TEE guest, or `DOMID_SELF` for the mediator's own pages.
    pub domid: DomId,
    /// Must be 0.
    pub pad: u16,
    /// Entries of `list`, at most [`MAX_PIN_LIST`].
    pub nr: u32,
    /// `XEN_GUEST_HANDLE_64(uint64)`: IN the gfns; OUT (pin_list) each pinned one's machine
    /// address.
    pub list: u64,
}

/// A list operation ([`op::PIN_LIST`] / [`op::UNPIN_LIST`]) stopped at an entry that failed:
/// the entries before `done` were done, entry `done` failed with `error`, and the entries after
/// it were not tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListError {
    /// The entries done, from the first: the index of the entry that failed.
    pub done: usize,
    /// That entry's error, as [`op::PIN`] / [`op::UNPIN`] give it, or `EFAULT` for the list.
    pub error: XenError,
}

/// Drives a list operation of `len` entries through Xen's partial progress: `entry(range)` is
/// one entry into Xen for the entries `range` (at most [`MAX_PIN_LIST`]), returning how many
/// of them, from the first, Xen did, or the first one's error (`public/tee_stubdom.h`: fewer
/// than asked when Xen stopped at a failing entry or to let other work run). Calls again from
/// the first entry not done until every entry is done, or an entry fails: then that entry's
/// error, learnt by the call that starts at it.
///
/// A count of 0 for a non-empty range or beyond the range is not something Xen answers; it
/// ends the operation as a failure of that entry with `EIO` rather than loop or trust it.
///
/// ```
/// use xenif::hook::{list_entries, ListError};
/// use xenif::XenError;
/// // Xen does at most 3 entries per entry into it and refuses entry 7.
/// let mut entries = 0;
/// let r = list_entries(10, |r| {
///     entries += 1;
///     if r.start == 7 { Err(XenError::EINVAL) } else { Ok(r.len().min(3).min(7 - r.start)) }
/// });
/// assert_eq!(r, Err(ListError { done: 7, error: XenError::EINVAL }));
/// assert_eq!(entries, 4); // 0..3, 3..6, 6..7, then 7 fails
/// ```
pub fn list_entries(
    len: usize,
    mut entry: impl FnMut(core::ops::Range<usize>) -> XenResult<usize>,
) -> Result<(), ListError> {
    let mut done = 0;
    while done < len {
        let end = len.min(done.saturating_add(MAX_PIN_LIST as usize));
        match entry(done..end) {
            Ok(n) if n >= 1 && n <= end - done => done += n,
            Ok(_) => {
                return Err(ListError {
                    done,
                    error: XenError::EIO,
                })
            }
            Err(error) => return Err(ListError { done, error }),
        }
    }
    Ok(())
}

/// `struct tee_stubdom_secure_call`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecureCall {
    /// IN: x0–x7 (x7 names the client: domid + 1, or 0 for the hypervisor; Xen makes the SMC
    /// with that client's ID itself). Addresses in x1/x2 are machine addresses of *our* pages,
    /// which Xen copies into pages it lends to OP-TEE after checking them (hv-patches 0009,
    /// `public/tee_stubdom.h`). OUT: x0–x3 of the answer, x4–x7 zero.
    pub x: [u64; 8],
}

/// `struct tee_stubdom_domain` (release, notify).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainArg {
    /// The domain.
    pub domid: DomId,
    /// Must be 0.
    pub pad: [u16; 3],
}

/// `struct tee_stubdom_query`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// IN: the domain (`DOMID_SELF` allowed).
    pub domid: DomId,
    /// Must be 0.
    pub pad: u16,
    /// OUT: `Q_*`.
    pub flags: u32,
    /// OUT: pins Xen holds for the domain.
    pub nr_pinned: u32,
    /// OUT: the registered mediator, or `DOMID_INVALID`.
    pub mediator: u32,
    /// OUT: references Xen holds on the domain's pages for OP-TEE (hv-patches 0009).
    pub nr_held: u32,
    /// OUT: 0.
    pub pad2: u32,
}

/// `struct tee_stubdom_canary` (test builds of Xen only, `CONFIG_TEE_STUBDOM_CANARY`): a page of
/// Xen's heap that Xen filled with a pattern at boot and never uses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Canary {
    /// OUT: its machine address.
    pub maddr: u64,
    /// OUT: 1 if it still holds Xen's pattern.
    pub intact: u32,
    /// Must be 0.
    pub pad: u32,
}

/// `struct tee_stubdom_request`: one ring slot written by Xen.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Unique per call; its answers echo it (a RESULT carries its call's `seq`).
    pub seq: u64,
    /// `req::*`.
    pub kind: u16,
    /// The domain concerned.
    pub domid: DomId,
    /// CALL, RESULT: the calling vCPU.
    pub vcpu: u32,
    /// `F_*`.
    pub flags: u32,
    /// RESULT: 0, or Xen's refusal of the secure call (a negative errno; nothing was issued).
    pub status: i32,
    /// CALL: x0–x7 as the guest issued them. RESULT: x0–x3 of OP-TEE's answer. CREATED: `x[0]`
    /// the domain's FLASK SID (0: none).
    pub x: [u64; 8],
}

/// `struct tee_stubdom_response`: the acknowledgement of a consumed request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The `seq` of the request consumed.
    pub seq: u64,
}

/// Offsets in the shared ring page (`struct tee_stubdom_sring`, `public/io/ring.h`).
pub mod sring {
    /// `req_prod` (written by Xen).
    pub const REQ_PROD: usize = 0;
    /// `req_event` (written by the mediator: notify me when `req_prod` reaches it).
    pub const REQ_EVENT: usize = 4;
    /// `rsp_prod` (written by the mediator).
    pub const RSP_PROD: usize = 8;
    /// `rsp_event`.
    pub const RSP_EVENT: usize = 12;
    /// `ring[0]`.
    pub const RING: usize = 64;
    /// `sizeof(union tee_stubdom_sring_entry)`.
    pub const ENTRY_SIZE: usize = 88;
    /// `__CONST_RING_SIZE(tee_stubdom, 4096)`: entries, a power of two.
    pub const RING_SIZE: u32 = 32;

    /// Byte offset of the slot for free-running ring index `idx`.
    pub const fn slot(idx: u32) -> usize {
        RING + (idx & (RING_SIZE - 1)) as usize * ENTRY_SIZE
    }
}

/// The shared ring page as the mediator sees it. [`shared::Shared`] implements it over the real
/// page (atomic accesses with the orderings below); tests implement it over plain memory.
pub trait RingPage {
    /// Read a 32-bit index at `off` with acquire ordering (Xen's `xen_rmb()` before reading the
    /// slots it publishes).
    fn load_u32(&self, off: usize) -> u32;
    /// Write a 32-bit index at `off` with release ordering (`xen_wmb()` after filling slots).
    fn store_u32(&self, off: usize, v: u32);
    /// Copy the request slot at byte offset `off`.
    fn read_request(&self, off: usize) -> Request;
    /// Write a response into the slot at byte offset `off`.
    fn write_response(&self, off: usize, rsp: &Response);
    /// A full barrier (`xen_mb()`), between publishing `req_event` and re-reading `req_prod`.
    fn full_barrier(&self);
}

/// The mediator's (back-end) side of the ring: private consumer and producer indices.
///
/// Indices are free-running `u32` as in `public/io/ring.h`; their differences are taken with
/// `wrapping_sub`, which is exact because at most `RING_SIZE` requests are ever outstanding.
#[derive(Debug, Default)]
pub struct BackRing {
    req_cons: u32,
    rsp_prod_pvt: u32,
}

impl BackRing {
    /// A ring Xen has just initialised (registration resets it).
    pub const fn new() -> Self {
        BackRing {
            req_cons: 0,
            rsp_prod_pvt: 0,
        }
    }

    /// Take the next request and queue its acknowledgement (published by
    /// [`BackRing::push_responses`]). `None` when the ring is empty, or when Xen's producer index
    /// claims more requests than the ring can hold (never trusted).
    pub fn next_request<P: RingPage>(&mut self, page: &P) -> Option<Request> {
        let prod = page.load_u32(sring::REQ_PROD);
        // Free-running indices: the difference is the number of unconsumed requests.
        let unconsumed = prod.wrapping_sub(self.req_cons);
        if unconsumed == 0 || unconsumed > sring::RING_SIZE {
            return None;
        }
        let req = page.read_request(sring::slot(self.req_cons));
        self.req_cons = self.req_cons.wrapping_add(1);
        page.write_response(sring::slot(self.rsp_prod_pvt), &Response { seq: req.seq });
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Some(req)
    }

    /// Publish the queued acknowledgements (frees their slots for Xen).
    pub fn push_responses<P: RingPage>(&self, page: &P) {
        page.store_u32(sring::RSP_PROD, self.rsp_prod_pvt);
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`: ask for a notification at the next request, then look
    /// again. `true`: there is work, do not block.
    pub fn final_check<P: RingPage>(&self, page: &P) -> bool {
        if page.load_u32(sring::REQ_PROD) != self.req_cons {
            return true;
        }
        page.store_u32(sring::REQ_EVENT, self.req_cons.wrapping_add(1));
        page.full_barrier();
        page.load_u32(sring::REQ_PROD) != self.req_cons
    }
}

/// The ring page as a page of the mediator's own memory, shared with Xen's forwarder: a
/// [`RingPage`] over atomics (Xen writes it concurrently, so every access is atomic, with the
/// orderings [`RingPage`] documents). Images keep it in a page-aligned `static`; with the
/// kernel's identity map its address is its guest frame.
pub mod shared {
    use super::{Request, Response, RingPage};
    use core::sync::atomic::{fence, AtomicU32, Ordering};

    /// A 4 KiB page of 32-bit words.
    #[repr(C, align(4096))]
    #[derive(Debug)]
    pub struct RingMem(pub [AtomicU32; 1024]);

    impl RingMem {
        /// A zeroed page.
        pub const fn new() -> Self {
            RingMem([const { AtomicU32::new(0) }; 1024])
        }

        /// Its frame number (the identity map makes the address guest-physical).
        pub fn gfn(&self) -> u64 {
            (self as *const RingMem as usize as u64) >> 12
        }
    }

    impl Default for RingMem {
        fn default() -> Self {
            Self::new()
        }
    }

    /// The [`RingPage`] view of a [`RingMem`].
    #[derive(Debug, Clone, Copy)]
    pub struct Shared<'a>(pub &'a RingMem);

    impl Shared<'_> {
        fn word(&self, off: usize) -> &AtomicU32 {
            // Offsets come from `xenif::hook::sring` (inside the page); an out-of-page offset would
            // be our bug, answered with word 0 rather than a panic.
            self.0 .0.get(off / 4).unwrap_or(&self.0 .0[0])
        }
        fn dword(&self, off: usize) -> u64 {
            let lo = self.word(off).load(Ordering::Relaxed);
            let hi = self.word(off + 4).load(Ordering::Relaxed);
            u64::from(lo) | (u64::from(hi) << 32)
        }
    }

    impl RingPage for Shared<'_> {
        fn load_u32(&self, off: usize) -> u32 {
            self.word(off).load(Ordering::Acquire)
        }
        fn store_u32(&self, off: usize, v: u32) {
            self.word(off).store(v, Ordering::Release)
        }
        fn read_request(&self, off: usize) -> Request {
            let w2 = self.word(off + 8).load(Ordering::Relaxed);
            let mut x = [0; 8];
            for (i, v) in x.iter_mut().enumerate() {
                *v = self.dword(off + 24 + 8 * i);
            }
            Request {
                seq: self.dword(off),
                // Little-endian halves of the 32-bit word: type, then domid.
                kind: (w2 & 0xFFFF) as u16,
                domid: (w2 >> 16) as u16,
                vcpu: self.word(off + 12).load(Ordering::Relaxed),
                flags: self.word(off + 16).load(Ordering::Relaxed),
                status: self.word(off + 20).load(Ordering::Relaxed) as i32,
                x,
            }
        }
        fn write_response(&self, off: usize, rsp: &Response) {
            self.word(off).store(rsp.seq as u32, Ordering::Relaxed);
            self.word(off + 4)
                .store((rsp.seq >> 32) as u32, Ordering::Relaxed);
        }
        fn full_barrier(&self) {
            fence(Ordering::SeqCst)
        }
    }
}

/// Hypercall wrappers (aarch64), all safe. The hypercall itself ([`tee_stubdom_op`], with the
/// [`Arg`] table that says which struct each command copies) and [`smccc_hvc`] live in
/// [`crate::hypercall::hook`], where `xenif`'s `unsafe` is; this module re-exports them.
#[cfg(target_arch = "aarch64")]
pub mod call {
    use super::*;
    pub use crate::hypercall::hook::{pin_list_once, smccc_hvc, tee_stubdom_op, Arg};

    /// [`tee_stubdom_op`] by value: the result and the argument as Xen left it.
    pub fn op<T: Arg>(cmd: u32, mut arg: T) -> (XenResult<u64>, T) {
        let r = tee_stubdom_op(cmd, &mut arg);
        (r, arg)
    }

    /// `TEE_STUBDOM_OP_secure_call` with x0–x7: x0–x3 of OP-TEE's answer (x4–x7 zero).
    pub fn secure_call(x: [u64; 8]) -> XenResult<[u64; 8]> {
        let (r, a) = op(op::SECURE_CALL, SecureCall { x });
        r.map(|_| a.x)
    }

    /// `TEE_STUBDOM_OP_pin` or `_unpin` (`cmd`) of page `gfn` of `domid`: the machine address
    /// (pin).
    pub fn pin(cmd: u32, domid: DomId, gfn: u64) -> XenResult<u64> {
        let (r, a) = op(
            cmd,
            Pin {
                domid,
                gfn,
                ..Pin::default()
            },
        );
        r.map(|_| a.maddr)
    }

    /// `TEE_STUBDOM_OP_pin_list` of the pages `gfns` of `domid`, any number of them: each gfn
    /// pinned is replaced by its machine address. As many entries into Xen as its partial
    /// progress needs ([`list_entries`]): one per [`MAX_PIN_LIST`] pages when nothing fails and
    /// Xen does not stop to let other work run. On [`ListError`] `{ done, error }` the first
    /// `done` pages are pinned (and hold their machine addresses), page `done` is not, and the
    /// rest are untouched gfns.
    pub fn pin_list(domid: DomId, gfns: &mut [u64]) -> Result<(), ListError> {
        list_entries(gfns.len(), |r| {
            pin_list_once(op::PIN_LIST, domid, gfns.get_mut(r).unwrap_or_default())
        })
    }

    /// `TEE_STUBDOM_OP_unpin_list` of the pages `gfns` of `domid`, as [`pin_list`] (Xen does not
    /// write the list): on [`ListError`] `{ done, error }` the first `done` pages are unpinned,
    /// page `done` failed (`ENOENT`: no pin of ours on it) and the rest were not tried.
    pub fn unpin_list(domid: DomId, gfns: &mut [u64]) -> Result<(), ListError> {
        list_entries(gfns.len(), |r| {
            pin_list_once(op::UNPIN_LIST, domid, gfns.get_mut(r).unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;

    /// A ring page in plain memory, with Xen's front-end side for the tests.
    struct Page(RefCell<Vec<u8>>);

    impl Page {
        fn new() -> Self {
            Page(RefCell::new(vec![0; 4096]))
        }
        fn put(&self, idx: u32, r: &Request) {
            let off = sring::slot(idx);
            let mut m = self.0.borrow_mut();
            m[off..off + 8].copy_from_slice(&r.seq.to_le_bytes());
            m[off + 8..off + 10].copy_from_slice(&r.kind.to_le_bytes());
            m[off + 10..off + 12].copy_from_slice(&r.domid.to_le_bytes());
            m[off + 12..off + 16].copy_from_slice(&r.vcpu.to_le_bytes());
            m[off + 20..off + 24].copy_from_slice(&r.status.to_le_bytes());
            for (i, x) in r.x.iter().enumerate() {
                m[off + 24 + 8 * i..off + 32 + 8 * i].copy_from_slice(&x.to_le_bytes());
            }
        }
    }

    impl RingPage for Page {
        fn load_u32(&self, off: usize) -> u32 {
            let m = self.0.borrow();
            u32::from_le_bytes(m[off..off + 4].try_into().unwrap())
        }
        fn store_u32(&self, off: usize, v: u32) {
            self.0.borrow_mut()[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        fn read_request(&self, off: usize) -> Request {
            let m = self.0.borrow();
            let u64_at = |o: usize| u64::from_le_bytes(m[o..o + 8].try_into().unwrap());
            let mut x = [0; 8];
            for (i, v) in x.iter_mut().enumerate() {
                *v = u64_at(off + 24 + 8 * i);
            }
            Request {
                seq: u64_at(off),
                kind: u16::from_le_bytes(m[off + 8..off + 10].try_into().unwrap()),
                domid: u16::from_le_bytes(m[off + 10..off + 12].try_into().unwrap()),
                vcpu: u32::from_le_bytes(m[off + 12..off + 16].try_into().unwrap()),
                flags: 0,
                status: i32::from_le_bytes(m[off + 20..off + 24].try_into().unwrap()),
                x,
            }
        }
        fn write_response(&self, off: usize, rsp: &Response) {
            self.0.borrow_mut()[off..off + 8].copy_from_slice(&rsp.seq.to_le_bytes());
        }
        fn full_barrier(&self) {}
    }

    fn call(seq: u64) -> Request {
        Request {
            seq,
            kind: req::CALL,
            domid: 3,
            vcpu: 1,
            x: [0xBF00_FF01, 0, 0, 0, 0, 0, 0, seq],
            ..Request::default()
        }
    }

    #[test]
    fn consumes_in_order_and_acknowledges() {
        let p = Page::new();
        let mut b = BackRing::new();
        assert!(b.next_request(&p).is_none());
        for i in 0..3 {
            p.put(i, &call(100 + u64::from(i)));
        }
        p.store_u32(sring::REQ_PROD, 3);
        let got: Vec<u64> = core::iter::from_fn(|| b.next_request(&p))
            .map(|r| r.seq)
            .collect();
        assert_eq!(got, [100, 101, 102]);
        assert_eq!(
            p.load_u32(sring::RSP_PROD),
            0,
            "acks are published explicitly"
        );
        b.push_responses(&p);
        assert_eq!(p.load_u32(sring::RSP_PROD), 3);
        // The acknowledgement of the last request sits in its slot.
        assert_eq!(p.read_request(sring::slot(2)).seq, 102);
    }

    #[test]
    fn wraps_around_the_ring() {
        let p = Page::new();
        let mut b = BackRing::new();
        let mut prod = 0u32;
        for round in 0..100u64 {
            p.put(prod, &call(round));
            prod = prod.wrapping_add(1);
            p.store_u32(sring::REQ_PROD, prod);
            assert_eq!(b.next_request(&p).map(|r| r.seq), Some(round));
            b.push_responses(&p);
        }
        assert_eq!(p.load_u32(sring::RSP_PROD), 100);
    }

    #[test]
    fn a_bogus_producer_index_is_ignored() {
        let p = Page::new();
        let mut b = BackRing::new();
        p.store_u32(sring::REQ_PROD, sring::RING_SIZE + 1);
        assert!(b.next_request(&p).is_none());
    }

    #[test]
    fn final_check_arms_the_event_and_sees_late_requests() {
        let p = Page::new();
        let b = BackRing::new();
        assert!(!b.final_check(&p));
        assert_eq!(p.load_u32(sring::REQ_EVENT), 1);
        p.store_u32(sring::REQ_PROD, 1);
        assert!(b.final_check(&p));
    }

    /// Xen's side of a list operation as `tsd_pin_list` does it: each entry `ok(i)` or fails
    /// with `err`, a stop for preemption after `preempt` entries (at least one).
    fn xen_entry(
        r: core::ops::Range<usize>,
        preempt: usize,
        fails: &[usize],
        err: XenError,
    ) -> XenResult<usize> {
        let mut i = 0;
        for e in r.clone() {
            if i > 0 && i >= preempt {
                break;
            }
            if fails.contains(&e) {
                break;
            }
            i += 1;
        }
        if i == 0 && !r.is_empty() {
            Err(err)
        } else {
            Ok(i)
        }
    }

    #[test]
    fn a_list_is_cut_into_entries_of_at_most_max_pin_list() {
        let mut seen = Vec::new();
        let r = list_entries(1100, |r| {
            seen.push(r.clone());
            Ok(r.len())
        });
        assert_eq!(r, Ok(()));
        assert_eq!(seen, [0..512, 512..1024, 1024..1100]);
        // An empty list makes no entry into Xen.
        assert_eq!(list_entries(0, |_| panic!("an entry for nothing")), Ok(()));
    }

    #[test]
    fn xens_partial_progress_is_resumed_from_the_first_entry_not_done() {
        let mut starts = Vec::new();
        let r = list_entries(16, |r| {
            starts.push(r.start);
            xen_entry(r, 5, &[], XenError::EINVAL)
        });
        assert_eq!(r, Ok(()));
        assert_eq!(starts, [0, 5, 10, 15]);
    }

    #[test]
    fn a_failing_entry_is_named_with_its_error_and_nothing_after_it_is_tried() {
        for k in [0, 1, 7, 15] {
            let mut ends = Vec::new();
            let r = list_entries(16, |r| {
                ends.push(r.end);
                // A second failing entry after k is never reached.
                xen_entry(r, 3, &[k, k + 1], XenError::ENOSPC)
            });
            assert_eq!(
                r,
                Err(ListError {
                    done: k,
                    error: XenError::ENOSPC
                }),
                "entry {k} fails"
            );
            assert!(ends.iter().all(|&e| e == 16), "only one list of 16");
        }
    }

    #[test]
    fn a_count_xen_never_gives_ends_the_list_instead_of_looping() {
        for bad in [0, 5] {
            let mut n = 0;
            let r = list_entries(4, |_| {
                n += 1;
                Ok(bad)
            });
            assert_eq!(
                r,
                Err(ListError {
                    done: 0,
                    error: XenError::EIO
                })
            );
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn slots_are_inside_the_page() {
        assert!(sring::slot(sring::RING_SIZE - 1) + sring::ENTRY_SIZE <= 4096);
        assert_eq!(sring::slot(sring::RING_SIZE), sring::slot(0));
    }
}
