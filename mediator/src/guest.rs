//! Per-guest state: calls, shared buffers, RPC argument buffers, and the
//! accounting that enforces [`Limits`].
//!
//! Invariants (checked by the tests through the simulators' pin counts):
//! - every [`PinnedPage`] the mediator holds is in exactly one of
//!   `ShmBuf::pins` or `ShmRpc::pin`;
//! - `shm_pages` equals the sum of `pins.len()` over `bufs`;
//! - every [`ShadowPage`] is in exactly one call, buffer list, RPC buffer or
//!   the mediator's pool.
//!
//! Buffers and calls are recycled through spare lists so that a warm guest
//! performs no heap allocation on the call path.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::config::Limits;
use crate::platform::{PinnedPage, Platform, ShadowPage};
use crate::stats::GuestStats;
use crate::types::{ClientId, DomId, Ipa, ShmCookie, TaUuid, ThreadId};

/// Why a shared buffer exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BufKind {
    /// A temporary memref of the standard call with this serial; freed when
    /// the call completes (Xen: `free_shm_buffers`).
    Temp(u64),
    /// Registered with REGISTER_SHM; freed by a successful UNREGISTER_SHM.
    Registered,
    /// Given to OP-TEE in answer to RPC SHM_ALLOC; freed by RPC SHM_FREE.
    RpcAlloc,
}

/// A guest buffer shared with OP-TEE (Xen: `struct optee_shm_buf`).
#[derive(Debug)]
pub(crate) struct ShmBuf {
    pub cookie: ShmCookie,
    pub kind: BufKind,
    /// Offset of the data in its first page.
    pub offset: u64,
    /// Pinned data pages, in buffer order.
    pub pins: Vec<PinnedPage>,
    /// Shadow page list given to OP-TEE; emptied once OP-TEE has read it.
    pub list: Vec<ShadowPage>,
    /// Serial of the call whose SMC carries `list`.
    pub list_call: u64,
}

/// An RPC argument buffer (Xen: `struct shm_rpc`): the guest's page stays
/// pinned, OP-TEE gets a shadow page.
#[derive(Debug)]
pub(crate) struct ShmRpc {
    pub cookie: ShmCookie,
    pub pin: PinnedPage,
    pub shadow: ShadowPage,
}

/// State of a suspended or running standard call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallState {
    /// Between OP-TEE and the guest.
    Normal,
    /// The mediator asked the guest to free a buffer it could not translate
    /// (Xen: `OPTEE_CALL_XEN_RPC`).
    MediatorRpc,
}

/// Where a call's RPC argument lives when it was negotiated with
/// `OPTEE_SMC_SEC_CAP_RPC_ARG` (CALL_WITH_RPC_ARG / CALL_WITH_REGD_ARG).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RpcArea {
    /// Offset in the call's shadow page.
    pub shadow_off: usize,
    /// Guest address of the same struct.
    pub guest: Ipa,
    /// Room for this many parameters.
    pub max_params: u32,
}

/// A standard call (Xen: `struct optee_std_call`).
#[derive(Debug)]
pub(crate) struct StdCall {
    pub serial: u64,
    pub shadow: ShadowPage,
    pub guest_arg: Ipa,
    /// Validated `num_params` of the shadowed argument.
    pub num_params: u32,
    pub cmd: u32,
    pub rpc_area: Option<RpcArea>,
    /// OP-TEE thread while suspended in an RPC.
    pub thread: Option<ThreadId>,
    pub in_flight: bool,
    pub rpc_func: u32,
    pub rpc_a1: u64,
    pub rpc_a2: u64,
    /// Command and parameter count of the RPC OP-TEE asked for.
    pub rpc_cmd: u32,
    pub rpc_num_params: u32,
    pub rpc_buffer_type: u64,
    pub rpc_data_cookie: Option<ShmCookie>,
    pub state: CallState,
}

/// Lifecycle of a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuestState {
    Active,
    /// VM_CREATED failed: every call gets ENOTAVAIL.
    Unavailable,
    /// Teardown started: every call gets ENOTAVAIL.
    Destroying,
}

/// Async notification values queued for a guest (bounded).
pub(crate) const NOTIF_QUEUE: usize = 64;

/// One guest.
#[derive(Debug)]
pub(crate) struct Guest {
    pub dom: DomId,
    pub client: ClientId,
    pub limits: Limits,
    pub allowed_tas: Option<Vec<TaUuid>>,
    pub state: GuestState,
    pub calls: Vec<StdCall>,
    pub bufs: Vec<ShmBuf>,
    pub spare_bufs: Vec<ShmBuf>,
    pub rpc_bufs: Vec<ShmRpc>,
    /// Pages pinned for `bufs` (the limit's measure).
    pub shm_pages: usize,
    pub stats: GuestStats,
    pub next_serial: u64,
    pub async_enabled: bool,
    pub notif: VecDeque<u32>,
    pub notif_lost: u64,
    /// Parameters of the RPC argument negotiated with RPC_ARG (0: none).
    pub rpc_param_count: u32,
}

impl Guest {
    pub fn new(
        dom: DomId,
        limits: Limits,
        allowed_tas: Option<Vec<TaUuid>>,
        threads: usize,
    ) -> Guest {
        Guest {
            dom,
            client: ClientId::of(dom),
            limits,
            allowed_tas,
            state: GuestState::Active,
            calls: Vec::with_capacity(threads),
            bufs: Vec::with_capacity(limits.max_buffers),
            spare_bufs: Vec::new(),
            rpc_bufs: Vec::with_capacity(threads),
            shm_pages: 0,
            stats: GuestStats::default(),
            next_serial: 1,
            async_enabled: false,
            notif: VecDeque::with_capacity(NOTIF_QUEUE),
            notif_lost: 0,
            rpc_param_count: 0,
        }
    }

    /// Standard calls the guest may have in OP-TEE at once: its
    /// `max_threads` limit, at most OP-TEE's `threads`.
    pub fn thread_cap(&self, threads: usize) -> usize {
        match self.limits.max_threads {
            0 => threads,
            n => n.min(threads),
        }
    }

    /// A new call serial (never 0).
    pub fn serial(&mut self) -> u64 {
        let s = self.next_serial;
        // 2^64 calls cannot happen; wrapping keeps this total anyway.
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        s
    }

    pub fn find_buf(&self, cookie: ShmCookie) -> Option<usize> {
        self.bufs.iter().position(|b| b.cookie == cookie)
    }

    pub fn find_rpc(&self, cookie: ShmCookie) -> Option<usize> {
        self.rpc_bufs.iter().position(|b| b.cookie == cookie)
    }

    /// An empty buffer record, recycled when possible.
    pub fn take_spare(&mut self, cookie: ShmCookie, kind: BufKind, offset: u64) -> ShmBuf {
        match self.spare_bufs.pop() {
            Some(mut b) => {
                b.cookie = cookie;
                b.kind = kind;
                b.offset = offset;
                b.list_call = 0;
                b
            }
            None => ShmBuf {
                cookie,
                kind,
                offset,
                pins: Vec::new(),
                list: Vec::new(),
                list_call: 0,
            },
        }
    }
}

/// The mediator's cache of shadow pages, so that a warm path never asks the
/// platform (or the heap) for memory.
#[derive(Debug)]
pub(crate) struct ShadowPool {
    pages: Vec<ShadowPage>,
    cap: usize,
}

impl ShadowPool {
    pub fn new(cap: usize) -> ShadowPool {
        ShadowPool {
            pages: Vec::with_capacity(cap),
            cap,
        }
    }
    pub fn alloc<P: Platform>(&mut self, p: &mut P) -> Option<ShadowPage> {
        match self.pages.pop() {
            Some(pg) => Some(pg),
            None => p.alloc().ok(),
        }
    }
    pub fn free<P: Platform>(&mut self, p: &mut P, pg: ShadowPage) {
        if self.pages.len() < self.cap {
            self.pages.push(pg);
        } else {
            p.free(pg);
        }
    }
    /// Takes a cached page without asking the platform.
    pub fn alloc_cached(&mut self) -> Option<ShadowPage> {
        self.pages.pop()
    }
    /// Pages held in the cache.
    pub fn cached(&self) -> usize {
        self.pages.len()
    }
}

/// Releases a buffer's page list (OP-TEE has read it).
pub(crate) fn release_list<P: Platform>(buf: &mut ShmBuf, pool: &mut ShadowPool, p: &mut P) {
    while let Some(pg) = buf.list.pop() {
        pool.free(p, pg);
    }
}

/// Unpins and forgets buffer `idx` of `g`.
pub(crate) fn free_buf<P: Platform>(g: &mut Guest, idx: usize, pool: &mut ShadowPool, p: &mut P) {
    if idx >= g.bufs.len() {
        return;
    }
    let mut buf = g.bufs.swap_remove(idx);
    let n = buf.pins.len();
    while let Some(pin) = buf.pins.pop() {
        p.unpin(g.dom, pin);
    }
    release_list(&mut buf, pool, p);
    g.shm_pages = g.shm_pages.saturating_sub(n);
    g.stats.unpinned(n as u64);
    g.spare_bufs.push(buf);
}

/// Unpins and forgets RPC buffer `idx` of `g`.
pub(crate) fn free_rpc<P: Platform>(g: &mut Guest, idx: usize, pool: &mut ShadowPool, p: &mut P) {
    if idx >= g.rpc_bufs.len() {
        return;
    }
    let r = g.rpc_bufs.swap_remove(idx);
    p.unpin(g.dom, r.pin);
    pool.free(p, r.shadow);
    g.stats.unpinned(1);
}
