//! The mediator: guests, dispatch of trapped calls, fast calls, lifecycle,
//! async notifications, statistics.

use alloc::collections::BTreeMap;

use crate::abi::{caps, regpair, ret, smc, OPTEE_MSG_UID};
use crate::call::{fail_x0, return_from_rpc, std_call, Cx, Variant};
use crate::config::Config;
use crate::error::{GuestError, LifecycleError, ProbeError};
use crate::guest::{free_buf, free_rpc, Guest, GuestState, ShadowPool, NOTIF_QUEUE};
use crate::platform::Platform;
use crate::stats::GuestStats;
use crate::types::{ClientId, DomId, Regs, ShmCookie};

/// Number of functions the mediator answers, reported by CALLS_COUNT
/// (Xen answers its own `OPTEE_MEDIATOR_SMC_COUNT` = 11; we handle more).
pub const MEDIATOR_SMC_COUNT: u64 = 16;

/// Async notification values fetched per guest per interrupt at most.
const NOTIF_POLL_BUDGET: usize = 64;

/// Outcome of one bounded teardown step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The guest is gone; VM_DESTROYED has been sent (if it was created).
    Done,
    /// More work remains; call again.
    Pending,
}

/// The OP-TEE mediator for all guests. Knows nothing of Xen: every effect
/// goes through the [`Platform`] passed to each method.
#[derive(Debug)]
pub struct Mediator {
    config: Config,
    threads: usize,
    guests: BTreeMap<DomId, Guest>,
    pool: ShadowPool,
}

impl Mediator {
    /// A mediator for an OP-TEE with `threads` threads (GET_THREAD_COUNT).
    pub fn new(config: Config, threads: usize) -> Mediator {
        let threads = threads.max(1);
        Mediator {
            config,
            threads,
            guests: BTreeMap::new(),
            // Enough cached shadow pages for every thread's argument and one
            // page list each, so a warm path never allocates.
            pool: ShadowPool::new(threads.saturating_mul(4).saturating_add(8)),
        }
    }

    /// Probes OP-TEE like Xen's `optee_probe`: API UID, thread count, and
    /// virtualization support (VM_DESTROYED for client 0 must be known).
    pub fn probe<P: Platform>(config: Config, p: &mut P) -> Result<Mediator, ProbeError> {
        let r = p.smc([u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 0]);
        let uid_ok = r
            .iter()
            .zip(OPTEE_MSG_UID.iter())
            .all(|(a, b)| (a & 0xFFFF_FFFF) == u64::from(*b));
        if !uid_ok {
            return Err(ProbeError::NotOpTee);
        }
        let r = p.smc([u64::from(smc::GET_THREAD_COUNT), 0, 0, 0, 0, 0, 0, 0]);
        if r[0] != ret::OK {
            return Err(ProbeError::ThreadCount(r[0]));
        }
        let threads = usize::try_from(r[1] & 0xFFFF_FFFF).unwrap_or(1);
        let r = p.smc([u64::from(smc::VM_DESTROYED), 0, 0, 0, 0, 0, 0, 0]);
        if r[0] & 0xFFFF_FFFF == ret::UNKNOWN_FUNCTION {
            return Err(ProbeError::NoVirtualization);
        }
        Ok(Mediator::new(config, threads))
    }

    /// OP-TEE threads (the per-guest bound on concurrent standard calls).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// A TEE guest appeared: VM_CREATED with its client ID (Xen:
    /// `optee_domain_init`). If OP-TEE refuses, the guest is still recorded,
    /// as unavailable: its calls get ENOTAVAIL.
    pub fn guest_created<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        label: &str,
    ) -> Result<(), LifecycleError> {
        if self.guests.contains_key(&dom) {
            return Err(LifecycleError::AlreadyExists);
        }
        let (limits, allow) = self.config.policy_for(label);
        let mut g = Guest::new(dom, limits, allow, self.threads);
        let r = p.smc([
            u64::from(smc::VM_CREATED),
            ClientId::of(dom).raw(),
            0,
            0,
            0,
            0,
            0,
            ClientId::HYPERVISOR.raw(),
        ]);
        let res = if r[0] == ret::OK {
            Ok(())
        } else {
            g.state = GuestState::Unavailable;
            Err(LifecycleError::VmCreatedFailed(r[0]))
        };
        self.guests.insert(dom, g);
        res
    }

    /// The guest is being destroyed (its vCPUs no longer run). Does at most
    /// `budget` units of work (one call, RPC buffer or pinned page each)
    /// and returns [`Progress::Pending`] until everything is released; then
    /// sends VM_DESTROYED exactly once and forgets the guest (Xen:
    /// `optee_relinquish_resources`, preemptible the same way).
    pub fn guest_destroying<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        budget: usize,
    ) -> Progress {
        let Some(g) = self.guests.get_mut(&dom) else {
            return Progress::Done;
        };
        let created = g.state != GuestState::Unavailable;
        g.state = GuestState::Destroying;
        let mut left = budget.max(1);
        while left > 0 {
            left = left.saturating_sub(1);
            // 1. In-flight calls: OP-TEE forgets them with VM_DESTROYED.
            if let Some(call) = g.calls.pop() {
                while let Some(i) = g
                    .bufs
                    .iter()
                    .position(|b| b.kind == crate::guest::BufKind::Temp(call.serial))
                {
                    free_buf(g, i, &mut self.pool, p);
                }
                self.pool.free(p, call.shadow);
                continue;
            }
            // 2. RPC argument buffers.
            if !g.rpc_bufs.is_empty() {
                free_rpc(g, 0, &mut self.pool, p);
                continue;
            }
            // 3. Shared buffers, a page at a time.
            if let Some(b) = g.bufs.last_mut() {
                if let Some(pin) = b.pins.pop() {
                    p.unpin(dom, pin);
                    g.shm_pages = g.shm_pages.saturating_sub(1);
                    g.stats.unpinned(1);
                    continue;
                }
                let last = g.bufs.len().saturating_sub(1);
                free_buf(g, last, &mut self.pool, p);
                continue;
            }
            // 4. Everything released: tell OP-TEE, once.
            if created {
                p.smc([
                    u64::from(smc::VM_DESTROYED),
                    g.client.raw(),
                    0,
                    0,
                    0,
                    0,
                    0,
                    ClientId::HYPERVISOR.raw(),
                ]);
            }
            self.guests.remove(&dom);
            return Progress::Done;
        }
        Progress::Pending
    }

    /// Handles one trapped SMC/HVC of guest `dom` and returns x0..x7 for its
    /// vCPU. Registers the mediator does not set keep the guest's values.
    pub fn handle_call<P: Platform>(&mut self, p: &mut P, dom: DomId, regs: Regs) -> Regs {
        let mut out = regs;
        let Some(g) = self.guests.get_mut(&dom) else {
            // Not a TEE guest (Xen: no tee context → unknown function).
            out[0] = GuestError::UnknownFunction.answer_x0();
            return out;
        };
        g.stats.calls = g.stats.calls.saturating_add(1);
        if g.state != GuestState::Active {
            fail_x0(g, GuestError::Unavailable, &mut out);
            return out;
        }
        let mut cx = Cx {
            p,
            pool: &mut self.pool,
            threads: self.threads,
        };
        let fid = regs[0];
        let client = g.client.raw();
        let fwd = |cx: &mut Cx<'_, P>| cx.p.smc([regs[0] & 0xFFFF_FFFF, 0, 0, 0, 0, 0, 0, client]);
        match u32::try_from(fid) {
            Ok(smc::CALLS_COUNT) => out[0] = MEDIATOR_SMC_COUNT,
            Ok(smc::CALLS_UID) | Ok(smc::GET_OS_UUID) => {
                let r = fwd(&mut cx);
                out[..4].copy_from_slice(&r[..4]);
            }
            Ok(smc::CALLS_REVISION) => {
                let r = fwd(&mut cx);
                out[..2].copy_from_slice(&r[..2]);
            }
            Ok(smc::GET_OS_REVISION) => {
                // a2 is the optional build ID.
                let r = fwd(&mut cx);
                out[..3].copy_from_slice(&r[..3]);
            }
            Ok(smc::ENABLE_SHM_CACHE) => out[0] = fwd(&mut cx)[0],
            Ok(smc::DISABLE_SHM_CACHE) => {
                let r = fwd(&mut cx);
                out[0] = r[0];
                if r[0] == ret::OK {
                    // OP-TEE dropped a cached RPC buffer: release it too.
                    if let Some(i) = g.find_rpc(ShmCookie(regpair(r[1], r[2]))) {
                        free_rpc(g, i, cx.pool, cx.p);
                    }
                    out[1] = r[1];
                    out[2] = r[2];
                }
            }
            // No static SHM for guests.
            Ok(smc::GET_SHM_CONFIG) => fail_x0(g, GuestError::NotAvailable, &mut out),
            Ok(smc::EXCHANGE_CAPABILITIES) => exchange_caps(&mut cx, g, &regs, &mut out),
            Ok(smc::GET_THREAD_COUNT) => {
                let r = fwd(&mut cx);
                out[..2].copy_from_slice(&r[..2]);
            }
            Ok(smc::ENABLE_ASYNC_NOTIF) => {
                let r = fwd(&mut cx);
                out[0] = r[0];
                if r[0] == ret::OK {
                    g.async_enabled = true;
                }
            }
            Ok(smc::GET_ASYNC_NOTIF_VALUE) => get_notif(&mut cx, g, &mut out),
            Ok(smc::CALL_WITH_ARG) => std_call(&mut cx, g, &regs, Variant::Plain, &mut out),
            Ok(smc::CALL_WITH_RPC_ARG) => std_call(&mut cx, g, &regs, Variant::RpcArg, &mut out),
            Ok(smc::CALL_WITH_REGD_ARG) => std_call(&mut cx, g, &regs, Variant::Regd, &mut out),
            Ok(smc::RETURN_FROM_RPC) => return_from_rpc(&mut cx, g, &regs, &mut out),
            // VM_CREATED/VM_DESTROYED are the hypervisor's; the rest unknown.
            _ => fail_x0(g, GuestError::UnknownFunction, &mut out),
        }
        out
    }

    /// OP-TEE raised its async notification interrupt. Fetches pending
    /// values for every guest that enabled notifications (with that guest's
    /// client ID, so OP-TEE's partitions keep them apart), queues them per
    /// guest, and calls `signal` for each guest that has values to read.
    pub fn async_notification<P: Platform>(&mut self, p: &mut P, mut signal: impl FnMut(DomId)) {
        for g in self.guests.values_mut() {
            if !g.async_enabled || g.state != GuestState::Active {
                continue;
            }
            let mut got = false;
            for _ in 0..NOTIF_POLL_BUDGET {
                let r = p.smc([
                    u64::from(smc::GET_ASYNC_NOTIF_VALUE),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    g.client.raw(),
                ]);
                if r[0] != ret::OK {
                    break;
                }
                if r[2] & caps::NOTIF_VALUE_VALID != 0 {
                    let v = u32::try_from(r[1] & 0xFFFF_FFFF).unwrap_or(u32::MAX);
                    if g.notif.len() < NOTIF_QUEUE {
                        if !g.notif.contains(&v) {
                            g.notif.push_back(v);
                        }
                    } else {
                        g.notif_lost = g.notif_lost.saturating_add(1);
                    }
                    got = true;
                }
                if r[2] & caps::NOTIF_VALUE_PENDING == 0 {
                    break;
                }
            }
            if got || !g.notif.is_empty() {
                signal(g.dom);
            }
        }
    }

    /// Statistics of one guest.
    pub fn stats(&self, dom: DomId) -> Option<GuestStats> {
        self.guests.get(&dom).map(|g| g.stats)
    }

    /// Whether `dom` is known (created and not yet fully destroyed).
    pub fn has_guest(&self, dom: DomId) -> bool {
        self.guests.contains_key(&dom)
    }

    /// Shared-buffer pages pinned for `dom` (the limit's measure).
    pub fn shm_pages(&self, dom: DomId) -> usize {
        self.guests.get(&dom).map_or(0, |g| g.shm_pages)
    }

    /// Standard calls of `dom` suspended in an RPC.
    pub fn suspended_calls(&self, dom: DomId) -> usize {
        self.guests.get(&dom).map_or(0, |g| g.calls.len())
    }

    /// Shadow pages cached by the mediator.
    pub fn cached_shadow_pages(&self) -> usize {
        self.pool.cached()
    }

    /// Gives every cached shadow page back to the platform.
    pub fn trim<P: Platform>(&mut self, p: &mut P) {
        while let Some(pg) = self.pool.alloc_cached() {
            p.free(pg);
        }
    }
}

impl GuestError {
    fn answer_x0(self) -> u64 {
        match self.answer() {
            crate::error::Answer::X0(v) => v,
            crate::error::Answer::Message { .. } => ret::OK,
        }
    }
}

/// Xen handle_exchange_capabilities, extended: guest bits masked to those
/// we know, OP-TEE bits to those we support; no DYNAMIC_SHM → ENOTAVAIL.
fn exchange_caps<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, regs: &Regs, out: &mut Regs) {
    let nsec = regs[1] & caps::KNOWN_NSEC;
    let r = cx.p.smc([
        u64::from(smc::EXCHANGE_CAPABILITIES),
        nsec,
        0,
        0,
        0,
        0,
        0,
        g.client.raw(),
    ]);
    if r[0] != ret::OK {
        out[0] = r[0];
        return;
    }
    let sec = r[1] & caps::SUPPORTED_SEC;
    if sec & caps::SEC_DYNAMIC_SHM == 0 {
        fail_x0(g, GuestError::NotAvailable, out);
        return;
    }
    out[0] = ret::OK;
    out[1] = sec;
    out[2] = if sec & caps::SEC_ASYNC_NOTIF != 0 {
        r[2] & 0xFFFF_FFFF
    } else {
        0
    };
    let rpc_params = if sec & caps::SEC_RPC_ARG != 0 {
        r[3] & 0xFF
    } else {
        0
    };
    out[3] = rpc_params;
    g.rpc_param_count = u32::try_from(rpc_params).unwrap_or(0);
}

/// GET_ASYNC_NOTIF_VALUE: values fetched at interrupt time first, then
/// OP-TEE itself (with the guest's client ID).
fn get_notif<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, out: &mut Regs) {
    if !g.async_enabled {
        fail_x0(g, GuestError::NotAvailable, out);
        return;
    }
    if let Some(v) = g.notif.pop_front() {
        g.stats.notifications = g.stats.notifications.saturating_add(1);
        out[0] = ret::OK;
        out[1] = u64::from(v);
        out[2] = caps::NOTIF_VALUE_VALID
            | if g.notif.is_empty() {
                0
            } else {
                caps::NOTIF_VALUE_PENDING
            };
        return;
    }
    let r = cx.p.smc([
        u64::from(smc::GET_ASYNC_NOTIF_VALUE),
        0,
        0,
        0,
        0,
        0,
        0,
        g.client.raw(),
    ]);
    out[..3].copy_from_slice(&r[..3]);
    if r[0] == ret::OK && r[2] & caps::NOTIF_VALUE_VALID != 0 {
        g.stats.notifications = g.stats.notifications.saturating_add(1);
    }
}
