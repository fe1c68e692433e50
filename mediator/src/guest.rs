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

use crate::access::Sid;
use crate::config::Limits;
use crate::platform::{PinnedPage, Platform, ShadowPage};
use crate::stats::GuestStats;
use crate::types::{ClientId, DomId, Ipa, Regs, ShmCookie, TaUuid, ThreadId};

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

/// Where a standard call is: held by the code that runs it, in a secure call
/// the mediator's caller makes, or suspended in an RPC at the guest. One
/// value in place of Xen's `in_flight`, `optee_thread_id`, `rpc_op`,
/// `rpc_params`, `rpc_buffer_type` and `state` (`struct optee_std_call`), so
/// that a call is never both running and suspended, nor suspended without
/// its thread, nor holding another RPC's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallPhase {
    /// Being prepared or handling what OP-TEE or the guest answered: held by
    /// that code, not in [`Guest::calls`].
    Running,
    /// In the secure call of an `Execute` step ([`crate::Step::Execute`]):
    /// in [`Guest::calls`] (it counts against [`Guest::thread_cap`]), where
    /// `Mediator::result` finds it by `tag`.
    Executing {
        /// The caller's tag of the guest's trapped call.
        tag: u64,
        /// OP-TEE resumes the mediator made for this trapped call without
        /// the guest (an RPC that could not reach it), bounded.
        restarts: u32,
        /// The secure call resumes an OP-TEE thread (RETURN_FROM_RPC),
        /// which the guest therefore holds; a new call does not hold one
        /// until OP-TEE has given it one.
        resumes: bool,
        /// The guest's registers of the trapped call: the answer keeps those
        /// the mediator does not set, and a call OP-TEE refuses for want of
        /// a thread is tried again with them.
        regs: Regs,
    },
    /// Suspended in `rpc` on OP-TEE thread `thread`: in [`Guest::calls`],
    /// where the guest's RETURN_FROM_RPC finds it by `thread`.
    InRpc { thread: ThreadId, rpc: Rpc },
}

impl CallPhase {
    /// The call holds an OP-TEE thread: it is suspended in an RPC, or its
    /// secure call resumes one.
    pub fn holds_thread(&self) -> bool {
        matches!(
            self,
            CallPhase::InRpc { .. } | CallPhase::Executing { resumes: true, .. }
        )
    }

    /// The caller's tag, while the call is in an `Execute` step.
    pub fn executing_tag(&self) -> Option<u64> {
        match self {
            CallPhase::Executing { tag, .. } => Some(*tag),
            CallPhase::Running | CallPhase::InRpc { .. } => None,
        }
    }
}

/// What the mediator does with OP-TEE's answer to a fast call it had its
/// caller make for the guest (`optee_smc.h`), one variant per kind of
/// post-processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterFast {
    /// A constant call of a mediator made without a probe: the first `n`
    /// registers as OP-TEE gave them.
    Constant(usize),
    /// ENABLE_SHM_CACHE: OP-TEE's x0.
    X0,
    /// DISABLE_SHM_CACHE: OP-TEE's x0, and the RPC buffer whose cookie it
    /// gives back is released.
    DisableShmCache,
    /// EXCHANGE_CAPABILITIES: OP-TEE's capabilities, filtered.
    Capabilities,
    /// ENABLE_ASYNC_NOTIF: OP-TEE's x0; on success the guest's
    /// notifications are on.
    EnableAsyncNotif,
    /// GET_ASYNC_NOTIF_VALUE: OP-TEE's value, counted.
    AsyncNotifValue,
}

/// A fast call of the guest in the secure call of an `Execute` step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastCall {
    /// The caller's tag of the guest's trapped call.
    pub tag: u64,
    /// The guest's registers (the answer keeps those the mediator does not
    /// set).
    pub regs: Regs,
    pub after: AfterFast,
}

/// The RPC a suspended call waits in (`optee_smc.h`,
/// `OPTEE_SMC_RPC_FUNC_*`), with what the guest's answer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rpc {
    /// `OPTEE_SMC_RPC_FUNC_ALLOC`: the guest's answer names an RPC argument
    /// buffer.
    Alloc,
    /// `OPTEE_SMC_RPC_FUNC_CMD`: OP-TEE's request in an RPC argument.
    Cmd(CmdRpc),
    /// The mediator's own SHM_FREE, in the RPC argument of OP-TEE's
    /// SHM_ALLOC (this `CmdRpc`): the guest is asked to free the buffer it
    /// gave, which could not be translated, before OP-TEE hears of the
    /// failure (Xen: `OPTEE_CALL_XEN_RPC`).
    MediatorFree(CmdRpc),
    /// `OPTEE_SMC_RPC_FUNC_FREE`, `_FOREIGN_INTR` or a function the mediator
    /// does not know: the guest's answer is not read, OP-TEE is resumed with
    /// its own a1/a2.
    Other { func: u32, a1: u64, a2: u64 },
}

impl Rpc {
    /// The RPC function (`OPTEE_SMC_RPC_FUNC_*`): the mediator's own RPC is
    /// an RPC_FUNC_CMD too.
    pub fn func(&self) -> u32 {
        match self {
            Rpc::Alloc => crate::abi::ret::RPC_FUNC_ALLOC,
            Rpc::Cmd(_) | Rpc::MediatorFree(_) => crate::abi::ret::RPC_FUNC_CMD,
            Rpc::Other { func, .. } => *func,
        }
    }

    /// OP-TEE's command (`OPTEE_RPC_CMD_*`; SHM_ALLOC while the mediator's
    /// own SHM_FREE runs); 0 when the RPC is not a command or the command
    /// did not reach the guest.
    pub fn cmd(&self) -> u32 {
        match self {
            Rpc::Cmd(c) | Rpc::MediatorFree(c) => c.forwarded.map_or(0, |f| f.cmd),
            Rpc::Alloc | Rpc::Other { .. } => 0,
        }
    }
}

/// OP-TEE's RPC_FUNC_CMD as the guest got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CmdRpc {
    /// a1/a2 as OP-TEE returned them: the cookie of the RPC argument buffer
    /// (unused when the call has an [`RpcArea`]).
    pub a1: u64,
    pub a2: u64,
    /// The request as it reached the guest; `None` when it could not (the
    /// guest's answer then carries `ret` and `ret_origin` only).
    pub forwarded: Option<ForwardedCmd>,
}

/// An RPC command that reached the guest (`optee_rpc_cmd.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForwardedCmd {
    /// `cmd`.
    pub cmd: u32,
    /// `num_params` as forwarded (bounded): the most the answer may carry.
    pub num_params: u32,
    /// For SHM_ALLOC, the buffer type (`value.a` of its parameter,
    /// `OPTEE_RPC_SHM_TYPE_*`), which the mediator's own SHM_FREE repeats;
    /// 0 otherwise.
    pub buffer_type: u64,
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
    /// Running, in a secure call, or suspended in an RPC (which, on which
    /// OP-TEE thread).
    pub phase: CallPhase,
    /// The buffer this call's latest SHM_ALLOC answer gave OP-TEE, until
    /// OP-TEE's SHM_FREE of it; the next SHM_ALLOC releases its page list
    /// if still held.
    pub rpc_data_cookie: Option<ShmCookie>,
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

/// RPC argument buffers (RPC_FUNC_ALLOC) a guest may have at once. OP-TEE
/// asks for one per thread it runs a call of the guest on and keeps it
/// (SHM cache) or frees it when the call ends, and it has a handful of
/// threads; the bound keeps the teardown bounded by the limits alone
/// ([`crate::Mediator::teardown_steps`]). Past it OP-TEE gets a null buffer.
pub(crate) const MAX_RPC_BUFS: usize = 64;

/// One guest.
#[derive(Debug)]
pub(crate) struct Guest {
    pub dom: DomId,
    pub client: ClientId,
    pub limits: Limits,
    pub allowed_tas: Option<Vec<TaUuid>>,
    /// The guest's FLASK SID as Xen announced it (`None`: no FLASK).
    pub sid: Option<Sid>,
    pub state: GuestState,
    /// Standard calls in an `Execute` step or suspended in an RPC.
    pub calls: Vec<StdCall>,
    /// Fast calls in an `Execute` step.
    pub fast: Vec<FastCall>,
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
    /// Whether the guest has a notification interrupt, once asked
    /// ([`crate::GuestNotification`]).
    pub notif_irq: Option<bool>,
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
            sid: None,
            state: GuestState::Active,
            calls: Vec::with_capacity(threads),
            // As many as the guest has vCPUs; OP-TEE's thread count is a
            // guess that keeps a warm guest from allocating.
            fast: Vec::with_capacity(threads),
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
            notif_irq: None,
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

    /// OP-TEE threads the guest's calls hold ([`CallPhase::holds_thread`]).
    pub fn threads_held(&self) -> usize {
        self.calls.iter().filter(|c| c.phase.holds_thread()).count()
    }

    /// Whether a call with `tag` is in an `Execute` step.
    pub fn executing(&self, tag: u64) -> bool {
        self.fast.iter().any(|f| f.tag == tag)
            || self
                .calls
                .iter()
                .any(|c| c.phase.executing_tag() == Some(tag))
    }

    /// Calls in an `Execute` step.
    pub fn executing_calls(&self) -> usize {
        let std = self
            .calls
            .iter()
            .filter(|c| c.phase.executing_tag().is_some())
            .count();
        std.saturating_add(self.fast.len())
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
    p.unpin_many(g.dom, buf.pins.drain(..));
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
