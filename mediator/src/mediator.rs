//! The mediator: guests, dispatch of trapped calls, fast calls, lifecycle,
//! async notifications, statistics.
//!
//! A trapped call is a sequence of [`Step`]s that the mediator decides: its
//! answer, a secure call to make for the guest, or a wait for an OP-TEE
//! thread. The mediator never makes a secure call for a guest itself (only
//! the hypervisor client's: the probe, VM_CREATED, VM_DESTROYED and the
//! notification fetches), so its caller can make each on the guest's own
//! vCPU and hand OP-TEE's answer back later ([`Mediator::result`]). The
//! synchronous entry points ([`Mediator::submit`],
//! [`Mediator::next_answer`], [`Mediator::handle_call`]) drive the same
//! steps, making each secure call at once.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};

use crate::abi::{caps, regpair, ret, rpc, smc, OPTEE_MSG_UID};
use crate::access::{AccessStats, SecurityServer, Sid, TaAccess};
use crate::call::{fail_x0, return_from_rpc, std_call, std_result, Cx, Stage, Variant};
use crate::config::{Config, Features};
use crate::error::{GuestError, LifecycleError, ProbeError};
use crate::guest::{
    free_buf, free_rpc, AfterFast, CallPhase, FastCall, Guest, GuestState, ShadowPool,
    MAX_RPC_BUFS, NOTIF_QUEUE,
};
use crate::platform::Platform;
use crate::stats::GuestStats;
use crate::types::{ClientId, DomId, FunctionId, Regs, ShmCookie};

/// Number of functions the mediator answers, reported by CALLS_COUNT
/// (Xen answers its own `OPTEE_MEDIATOR_SMC_COUNT` = 11; we handle more).
pub const MEDIATOR_SMC_COUNT: u64 = 16;

/// Async notification values fetched per guest per interrupt at most.
const NOTIF_POLL_BUDGET: usize = 64;

/// DISABLE_SHM_CACHE calls at most in [`Mediator::flush_rpc_cache`]: OP-TEE
/// caches one RPC argument buffer per thread and gives back one per call,
/// and it has a handful of threads; past this the flush gives up (EBUSY).
pub(crate) const FLUSH_MAX: usize = 64;

/// Calls of one guest that may wait for an OP-TEE thread at once. Each
/// waiting call is a paused vCPU of that guest, so a guest has at most as
/// many as vCPUs; past this bound a call fails at once (`NoThread`).
const MAX_WAITING_PER_GUEST: usize = 64;

/// What [`Mediator::submit`] does with a trapped call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Give the guest's vCPU these registers now.
    Now(Regs),
    /// The call waits for an OP-TEE thread that other guests' calls hold;
    /// its answer comes later from [`Mediator::next_answer`], with the tag
    /// it was submitted with. Keep the vCPU waiting until then.
    Held,
}

/// One step of a trapped call, as the mediator decides it
/// ([`Mediator::start`], [`Mediator::result`], [`Mediator::next_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The call's answer for the guest's vCPU (also an RPC the guest must
    /// serve: its RETURN_FROM_RPC is a new trapped call).
    Return(Regs),
    /// Make this secure call for the guest (x7 is the guest's client ID;
    /// Xen sets it itself anyway), then give OP-TEE's answer (x0-x3 matter;
    /// x4-x7 are 0) to [`Mediator::result`] with the same guest and tag.
    /// The mediator keeps the pages the call names (the shadow argument, page
    /// lists, RPC argument buffers) until then.
    Execute(Regs),
    /// The call waits for an OP-TEE thread other guests hold; its next step
    /// comes from [`Mediator::next_step`], with its tag.
    Held,
}

/// A call waiting for an OP-TEE thread ([`Reply::Held`], [`Step::Held`]).
#[derive(Clone, Copy, Debug)]
struct Waiting {
    dom: DomId,
    tag: u64,
    /// The function of its x0 ([`FunctionId::parse`] in [`Mediator::start`]).
    fid: FunctionId,
    regs: Regs,
    since_ms: u64,
    /// Tried again, in the secure call of an [`Step::Execute`]: its result
    /// decides whether it keeps waiting.
    trying: bool,
    /// The round ([`Mediator::round`]) in which OP-TEE last refused it
    /// again (0: never).
    refused_in: u64,
}

/// The round after `round` ([`Mediator::round`]).
fn next_round(round: u64) -> u64 {
    // 2^64 rounds cannot happen; wrapping keeps this total anyway, and 0 stays "never refused".
    round.wrapping_add(1).max(1)
}

/// The answer to a call whose state is lost, which the mediator's own
/// bookkeeping rules out (a step of a call parked a moment ago).
fn lost_call(regs: &Regs) -> Regs {
    let mut out = *regs;
    out[0] = ret::ENOTAVAIL;
    out
}

/// Whether function `fid` needs an OP-TEE thread, and the answer OP-TEE
/// (or the mediator) gives when none is free: ETHREAD_LIMIT for a new
/// standard call, EBUSY for the SHM cache switches (`optee_smc.h`; OP-TEE's
/// `thread_{en,dis}able_prealloc_rpc_cache` refuse while any thread of any
/// guest is in use).
fn busy_answer(f: FunctionId) -> Option<u64> {
    match f {
        _ if f.is_new_call() => Some(ret::ETHREAD_LIMIT),
        FunctionId::EnableShmCache | FunctionId::DisableShmCache => Some(ret::EBUSY),
        _ => None,
    }
}

/// What a call that waited too long gets ([`GuestError::NoThread`]).
fn no_thread_answer(f: FunctionId, regs: &Regs) -> Regs {
    let mut out = *regs;
    out[0] = match f {
        // OP-TEE keeps its RPC argument cache off: the guest loses nothing.
        FunctionId::EnableShmCache => ret::OK,
        // Nothing more to hand back (the mediator keeps what OP-TEE still
        // caches until the guest is destroyed).
        FunctionId::DisableShmCache => ret::ENOTAVAIL,
        _ => ret::EBUSY,
    };
    out
}

/// Outcome of one bounded teardown step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The guest is gone; VM_DESTROYED has been sent (if it was created).
    Done,
    /// More work remains; call again.
    Pending,
}

/// One standard call suspended in an RPC ([`Mediator::suspended`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspended {
    /// OP-TEE's thread ID.
    pub thread: u32,
    /// The RPC function OP-TEE returned with (`OPTEE_SMC_RPC_FUNC_*`).
    pub func: u32,
    /// For `RPC_FUNC_CMD`, the command (`OPTEE_RPC_CMD_*`).
    pub cmd: u32,
}

impl Suspended {
    /// A short name of what the call waits for in the guest: `alloc`, `free`, `irq` (a foreign
    /// interrupt), or the RPC command (`load-ta`, `notif`, `suspend`, ...).
    pub fn what(&self) -> &'static str {
        match self.func {
            ret::RPC_FUNC_ALLOC => "alloc",
            ret::RPC_FUNC_FREE => "free",
            ret::RPC_FUNC_FOREIGN_INTR => "irq",
            ret::RPC_FUNC_CMD => match self.cmd {
                rpc::CMD_LOAD_TA => "load-ta",
                rpc::CMD_RPMB => "rpmb",
                rpc::CMD_FS => "fs",
                rpc::CMD_GET_TIME => "time",
                rpc::CMD_NOTIFICATION => "notif",
                rpc::CMD_SUSPEND => "suspend",
                rpc::CMD_SHM_ALLOC => "shm-alloc",
                rpc::CMD_SHM_FREE => "shm-free",
                _ => "cmd",
            },
            _ => "?",
        }
    }
}

/// The fast calls whose answer cannot change while OP-TEE runs, with the
/// registers their answer has (`optee_smc.h`): asked once, at probe time.
const CONSTANT_CALLS: [(FunctionId, usize); 5] = [
    (FunctionId::CallsUid, 4),
    (FunctionId::CallsRevision, 2),
    (FunctionId::GetOsUuid, 4),
    (FunctionId::GetOsRevision, 3), // a2: the optional build ID
    (FunctionId::GetThreadCount, 2),
];

/// OP-TEE's answers to [`CONSTANT_CALLS`], in that order, as the probe got
/// them with the hypervisor's client ID (OP-TEE answers these alike for
/// every client it knows). A guest's call of one is answered from here,
/// without a secure call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Constants([Regs; CONSTANT_CALLS.len()]);

impl Constants {
    /// Asks OP-TEE each of [`CONSTANT_CALLS`].
    fn probe<P: Platform>(p: &mut P) -> Constants {
        Constants(CONSTANT_CALLS.map(|(f, _)| {
            let fid = f.id().map_or(0, u64::from);
            p.smc([fid, 0, 0, 0, 0, 0, 0, ClientId::HYPERVISOR.raw()])
        }))
    }

    /// OP-TEE's answer to `fid`, if it is a constant call.
    fn answer(&self, fid: FunctionId) -> Option<&Regs> {
        CONSTANT_CALLS
            .iter()
            .position(|&(f, _)| f == fid)
            .map(|i| &self.0[i])
    }
}

/// How many registers the answer to `fid` has, if it is a constant call.
fn constant_width(fid: FunctionId) -> Option<usize> {
    CONSTANT_CALLS
        .iter()
        .find(|&&(f, _)| f == fid)
        .map(|&(_, n)| n)
}

/// The OP-TEE mediator for all guests. Knows nothing of Xen: every effect
/// goes through the [`Platform`] passed to each method.
#[derive(Debug)]
pub struct Mediator {
    config: Config,
    threads: usize,
    /// OP-TEE's constant answers; `None` when made without a probe
    /// ([`Mediator::new`]): such calls are then forwarded.
    constants: Option<Constants>,
    guests: BTreeMap<DomId, Guest>,
    pool: ShadowPool,
    /// Calls waiting for an OP-TEE thread, oldest first.
    waiting: VecDeque<Waiting>,
    /// An OP-TEE thread may have become free since the oldest waiting call
    /// was last tried.
    thread_freed: bool,
    /// Counts the times a thread may have become free: a waiting call
    /// refused again in the current round is not tried again in it.
    round: u64,
    /// TA access decided by the system's security server
    /// ([`Mediator::set_security_server`]); `None`: only the labels'
    /// allow-lists decide.
    access: Option<TaAccess>,
}

impl Mediator {
    /// A mediator for an OP-TEE with `threads` threads (GET_THREAD_COUNT).
    pub fn new(config: Config, threads: usize) -> Mediator {
        let threads = threads.max(1);
        Mediator {
            config,
            threads,
            constants: None,
            guests: BTreeMap::new(),
            // Enough cached shadow pages for every thread's argument and one
            // page list each, so a warm path never allocates.
            pool: ShadowPool::new(threads.saturating_mul(4).saturating_add(8)),
            waiting: VecDeque::new(),
            thread_freed: false,
            round: 1,
            access: None,
        }
    }

    /// Probes OP-TEE like Xen's `optee_probe`: API UID, thread count, and
    /// virtualization support (VM_DESTROYED for client 0 must be known).
    pub fn probe<P: Platform>(config: Config, p: &mut P) -> Result<Mediator, ProbeError> {
        let constants = Constants::probe(p);
        let uid_ok = constants.answer(FunctionId::CallsUid).is_some_and(|r| {
            r.iter()
                .zip(OPTEE_MSG_UID.iter())
                .all(|(a, b)| (a & 0xFFFF_FFFF) == u64::from(*b))
        });
        if !uid_ok {
            return Err(ProbeError::NotOpTee);
        }
        let r = constants
            .answer(FunctionId::GetThreadCount)
            .copied()
            .unwrap_or([ret::EBADCMD; 8]);
        if r[0] != ret::OK {
            return Err(ProbeError::ThreadCount(r[0]));
        }
        let threads = usize::try_from(r[1] & 0xFFFF_FFFF).unwrap_or(1);
        let r = p.smc([u64::from(smc::VM_DESTROYED), 0, 0, 0, 0, 0, 0, 0]);
        if r[0] & 0xFFFF_FFFF == ret::UNKNOWN_FUNCTION {
            return Err(ProbeError::NoVirtualization);
        }
        let mut m = Mediator::new(config, threads);
        m.constants = Some(constants);
        Ok(m)
    }

    /// The optional OP-TEE features offered to guests ([`Config::features`]).
    pub fn features(&self) -> Features {
        self.config.features
    }

    /// From now on the policy of `server` decides which guest announced with
    /// a SID may open a session to which TA (`access.rs`, design in
    /// `xsm-policy/ta-access.md`), through a cache that holds one policy's
    /// answers. Returns the policy's sequence number if the server answered
    /// the first probe.
    pub fn set_security_server(&mut self, server: Box<dyn SecurityServer + Send>) -> Option<u32> {
        let a = self.access.insert(TaAccess::new(server));
        a.probe()
    }

    /// The host learnt the policy's sequence number (a periodic
    /// [`Mediator::probe_policy`], or Xen's word): cached decisions of an
    /// older policy are forgotten.
    pub fn observe_policy_seqno(&mut self, seqno: u32) {
        if let Some(a) = self.access.as_mut() {
            a.observe_seqno(seqno);
        }
    }

    /// Asks the security server for the policy's sequence number (one
    /// query) and forgets cached decisions of an older policy; for a
    /// periodic timer, so that a policy reload takes effect within its
    /// period even for decisions in the cache. `None`: no server, or no
    /// answer.
    pub fn probe_policy(&mut self) -> Option<u32> {
        self.access.as_mut().and_then(TaAccess::probe)
    }

    /// Counters of the security server's use; `None` without one.
    pub fn access_stats(&self) -> Option<AccessStats> {
        self.access.as_ref().map(TaAccess::stats)
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
        self.guest_created_with_sid(p, dom, label, None)
    }

    /// [`Mediator::guest_created`] for a guest Xen announced with its FLASK
    /// SID `sid` (`label`: the type of its context, which selects its
    /// limits and allow-list). With a security server
    /// ([`Mediator::set_security_server`]), its OPEN_SESSIONs are decided by
    /// the policy for `sid` (and by the label's allow-list, if it has one).
    pub fn guest_created_with_sid<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        label: &str,
        sid: Option<Sid>,
    ) -> Result<(), LifecycleError> {
        if self.guests.contains_key(&dom) {
            return Err(LifecycleError::AlreadyExists);
        }
        let (limits, allow) = self.config.policy_for(label);
        let mut g = Guest::new(dom, limits, allow, self.threads);
        g.sid = sid;
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

    /// Empties OP-TEE's cache of preallocated RPC argument buffers of `dom`'s
    /// client (`OPTEE_SMC_DISABLE_SHM_CACHE` with the guest's client ID until
    /// `ENOTAVAIL`, at most [`FLUSH_MAX`] calls; then `OPTEE_SMC_ENABLE_SHM_CACHE`
    /// again, unless [`Features::shm_cache`] is off; `optee_smc.h`), freeing
    /// any of them the mediator tracks. For a client OP-TEE knew before this
    /// mediator (a guest replayed after a mediator restart): its cached
    /// buffers were lent while an earlier mediator lived, so an RPC command
    /// OP-TEE writes into one could not reach this mediator. Call it after
    /// [`Mediator::guest_created`], before any call of the guest.
    ///
    /// Returns how many buffers OP-TEE dropped, or the refusing answer's x0:
    /// `EBUSY` when a thread is in use (OP-TEE refuses then) or the bound
    /// was reached, `ENOTAVAIL` for a guest that is not active, the
    /// re-enable's answer when that failed.
    pub fn flush_rpc_cache<P: Platform>(&mut self, p: &mut P, dom: DomId) -> Result<usize, u64> {
        let reenable = self.config.features.shm_cache;
        let Some(g) = self
            .guests
            .get_mut(&dom)
            .filter(|g| g.state == GuestState::Active)
        else {
            return Err(ret::ENOTAVAIL);
        };
        let client = g.client.raw();
        let call = |p: &mut P, fid: u32| p.smc([u64::from(fid), 0, 0, 0, 0, 0, 0, client]);
        let mut dropped: usize = 0;
        for _ in 0..FLUSH_MAX {
            let r = call(p, smc::DISABLE_SHM_CACHE);
            match r[0] {
                ret::OK => {
                    dropped = dropped.saturating_add(1);
                    if let Some(i) = g.find_rpc(ShmCookie::from_optee(regpair(r[1], r[2]))) {
                        free_rpc(g, i, &mut self.pool, p);
                    }
                }
                ret::ENOTAVAIL => {
                    // Empty: cache again, now buffers this mediator hands out.
                    if reenable {
                        let r = call(p, smc::ENABLE_SHM_CACHE);
                        if r[0] != ret::OK {
                            return Err(r[0]);
                        }
                    }
                    return Ok(dropped);
                }
                e => return Err(e),
            }
        }
        Err(ret::EBUSY)
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
        // Its waiting calls die with its vCPUs, and so do the results of
        // its calls in secure calls (`result` ignores them from now on);
        // its threads go back to OP-TEE with VM_DESTROYED below.
        self.waiting.retain(|w| w.dom != dom);
        g.fast.clear();
        self.thread_freed = true;
        self.round = next_round(self.round);
        let mut left = budget.max(1);
        while left > 0 {
            left = left.saturating_sub(1);
            // 1. Calls suspended or in a secure call: OP-TEE forgets them
            //    with VM_DESTROYED. Their temporary buffers are among the
            //    shared buffers, released a page per unit in 3.
            if let Some(call) = g.calls.pop() {
                self.pool.free(p, call.shadow);
                continue;
            }
            // 2. RPC argument buffers.
            if !g.rpc_bufs.is_empty() {
                free_rpc(g, 0, &mut self.pool, p);
                continue;
            }
            // 3. Shared buffers, a page per unit: as many of the last
            //    buffer's pages as this unit and the ones left allow, in
            //    one batch (`Pinning::unpin_many`).
            if let Some(b) = g.bufs.last_mut() {
                let k = b.pins.len().min(left.saturating_add(1));
                if k > 0 {
                    let from = b.pins.len().saturating_sub(k);
                    p.unpin_many(dom, b.pins.drain(from..));
                    g.shm_pages = g.shm_pages.saturating_sub(k);
                    g.stats.unpinned(k as u64);
                    left = left.saturating_sub(k.saturating_sub(1));
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

    /// How many [`Mediator::guest_destroying`] calls with `budget` release
    /// `dom` at most, from its limits and OP-TEE's thread count alone, never
    /// from what the guest holds: every unit is one of at most `threads`
    /// calls, [`MAX_RPC_BUFS`] RPC buffers, `max_pinned_pages` pinned pages,
    /// `max_buffers` buffers, and VM_DESTROYED. A caller that loops until
    /// [`Progress::Done`] loops at most this often.
    pub fn teardown_steps(&self, dom: DomId, budget: usize) -> usize {
        let Some(g) = self.guests.get(&dom) else {
            return 1;
        };
        let units = g
            .thread_cap(self.threads)
            .saturating_add(MAX_RPC_BUFS)
            .saturating_add(g.limits.max_pinned_pages)
            .saturating_add(g.limits.max_buffers)
            .saturating_add(1);
        units.div_ceil(budget.max(1))
    }

    /// Handles one trapped SMC/HVC of guest `dom` (its vCPU waits) and
    /// either answers it at once or keeps it waiting for an OP-TEE thread:
    /// [`Mediator::start`] driven to the call's answer, every secure call
    /// made at once with [`SecureWorld::smc`](crate::SecureWorld::smc).
    ///
    /// OP-TEE's threads are shared by all guests, but a guest only knows its
    /// own calls: Linux's driver answers ETHREAD_LIMIT (and EBUSY for the
    /// SHM cache switches) by waiting until one of *its own* calls completes
    /// (`optee_cq_wait_for_completion`), forever if it has none. So a guest
    /// that holds no OP-TEE thread is never answered that way: its call
    /// waits here, first in, first out, and is tried again whenever a thread
    /// may have become free ([`Mediator::next_answer`]). A guest that holds
    /// threads still gets ETHREAD_LIMIT (its own calls will wake it), also
    /// while others wait, so that a freed thread goes to the guests that
    /// waited first. A call waits at most [`Config::thread_wait_ms`]
    /// (`now_ms` is any monotonic clock in milliseconds), then fails with
    /// [`GuestError::NoThread`].
    pub fn submit<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        regs: Regs,
        now_ms: u64,
    ) -> Reply {
        let step = self.start(p, dom, tag, regs, now_ms);
        self.drive(p, dom, tag, &regs, step, now_ms)
    }

    /// Makes every secure call of `step` at once until the call is answered
    /// or waits.
    fn drive<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        regs: &Regs,
        mut step: Step,
        now_ms: u64,
    ) -> Reply {
        loop {
            match step {
                Step::Return(x) => return Reply::Now(x),
                Step::Held => return Reply::Held,
                Step::Execute(r) => {
                    let res = p.smc(r);
                    let Some(next) = self.result(p, dom, tag, res, now_ms) else {
                        // Cannot happen: the call was parked under `tag` by the step just made.
                        return Reply::Now(lost_call(regs));
                    };
                    step = next;
                }
            }
        }
    }

    /// The first step of one trapped SMC/HVC of guest `dom` (its vCPU
    /// waits), under the thread-waiting policy of [`Mediator::submit`].
    ///
    /// `tag` names the trapped call in every later step: the caller gives
    /// it again to [`Mediator::result`], and [`Mediator::next_step`] returns
    /// it with the steps of a call that waited. A guest has at most one call
    /// per tag in flight (the stub domain uses Xen's sequence number of the
    /// trapped call); a call whose tag is in flight for `dom` already (in a
    /// secure call or waiting) is answered EBUSY at once and changes
    /// nothing.
    ///
    /// Whether the guest *holds an OP-TEE thread* (which decides whether it
    /// may be answered ETHREAD_LIMIT or EBUSY, or must wait): one of its
    /// standard calls is suspended in an RPC, or is in the secure call of a
    /// RETURN_FROM_RPC (the thread is the guest's while OP-TEE runs it). A
    /// new standard call in its secure call does not hold one yet: OP-TEE
    /// may still refuse it.
    pub fn start<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        regs: Regs,
        now_ms: u64,
    ) -> Step {
        // The edge: the one parse of the guest's x0.
        let fid = FunctionId::parse(regs[0]);
        // With the SHM cache off the mediator answers ENABLE_SHM_CACHE itself: no thread needed.
        let busy = busy_answer(fid)
            .filter(|_| fid != FunctionId::EnableShmCache || self.config.features.shm_cache);
        let holds = match self.guests.get(&dom) {
            Some(g) if g.state == GuestState::Active => {
                if g.executing(tag) || self.waiting.iter().any(|w| w.dom == dom && w.tag == tag) {
                    // The caller's error (or a forged request), not the guest's: nothing counted.
                    let mut out = regs;
                    out[0] = ret::EBUSY;
                    return Step::Return(out);
                }
                g.threads_held()
            }
            _ => {
                let out = self.refused(dom, &regs).unwrap_or_else(|| lost_call(&regs));
                return Step::Return(out);
            }
        };
        // Calls that wait for *a* thread (new standard calls) go first; the SHM cache switches
        // wait for *all* threads to be free and must not hold the others up.
        let others_wait = self
            .waiting
            .iter()
            .any(|w| busy_answer(w.fid) == Some(ret::ETHREAD_LIMIT));
        if let (Some(b), true) = (busy, others_wait) {
            if holds == 0 {
                return self.wait(dom, tag, fid, regs, now_ms);
            }
            // Others wait for the next free thread; this guest's own calls
            // will wake it.
            if let Some(g) = self.guests.get_mut(&dom) {
                g.stats.calls = g.stats.calls.saturating_add(1);
                if b == ret::ETHREAD_LIMIT {
                    g.stats.std_calls = g.stats.std_calls.saturating_add(1);
                    g.stats.error(GuestError::ThreadLimit);
                }
            }
            let mut out = regs;
            out[0] = b;
            return Step::Return(out);
        }
        match self.begin(p, dom, tag, fid, regs) {
            Stage::Smc(r) => Step::Execute(r),
            Stage::Answer(out) => self.settle(dom, tag, fid, &regs, out, false, now_ms),
        }
    }

    /// OP-TEE's answer `res` to the secure call of an [`Step::Execute`] of
    /// `dom`'s call `tag`, and the call's next step. Only x0-x3 of `res`
    /// are read (Xen passes no more). `None`, changing nothing, when no call
    /// of `dom` with `tag` is in a secure call: a forged or stale result, or
    /// one for a guest whose teardown began (its calls are freed without
    /// their results).
    pub fn result<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        res: Regs,
        now_ms: u64,
    ) -> Option<Step> {
        let (regs, stage) = self.resume(p, dom, tag, res)?;
        Some(match stage {
            Stage::Smc(r) => Step::Execute(r),
            Stage::Answer(out) => {
                // The registers the call was parked with, as `start` took them.
                let fid = FunctionId::parse(regs[0]);
                self.settle(dom, tag, fid, &regs, out, true, now_ms)
            }
        })
    }

    /// Calls of `dom` whose [`Step::Execute`] has not come back to
    /// [`Mediator::result`] yet (none once its teardown began).
    pub fn executing_calls_of(&self, dom: DomId) -> usize {
        self.guests
            .get(&dom)
            .filter(|g| g.state == GuestState::Active)
            .map_or(0, Guest::executing_calls)
    }

    /// The thread-waiting policy of [`Mediator::submit`] for the final
    /// answer `out` of `dom`'s call `tag` (trapped with `regs`, a call of
    /// `fid`; `smc`: the answer came from OP-TEE).
    #[allow(clippy::too_many_arguments)] // the call's identity, its trapped registers and its answer
    fn settle(
        &mut self,
        dom: DomId,
        tag: u64,
        fid: FunctionId,
        regs: &Regs,
        out: Regs,
        smc: bool,
        now_ms: u64,
    ) -> Step {
        if let Some(i) = self
            .waiting
            .iter()
            .position(|w| w.trying && w.dom == dom && w.tag == tag)
        {
            return self.retried(i, out).unwrap_or(Step::Held);
        }
        let busy = busy_answer(fid);
        if busy == Some(out[0]) && self.holds(dom) == 0 {
            self.uncount(dom, fid);
            return self.wait(dom, tag, fid, *regs, now_ms);
        }
        // Without a secure call, ETHREAD_LIMIT is the mediator's own (the guest's thread share,
        // counted where it is refused).
        if smc && busy == Some(ret::ETHREAD_LIMIT) && out[0] == ret::ETHREAD_LIMIT {
            // OP-TEE's own ETHREAD_LIMIT, to a guest whose calls hold threads: counted as the
            // mediator's is.
            if let Some(g) = self.guests.get_mut(&dom) {
                g.stats.error(GuestError::ThreadLimit);
            }
        }
        self.note_thread_use(fid, out[0]);
        Step::Return(out)
    }

    /// Waiting call `i`, tried again, was answered `out`: `None` when OP-TEE
    /// still has no thread for it (it keeps its place, and is not tried
    /// again until a thread may have become free).
    fn retried(&mut self, i: usize, out: Regs) -> Option<Step> {
        let w = *self.waiting.get(i)?;
        if busy_answer(w.fid) == Some(out[0]) && self.holds(w.dom) == 0 {
            self.uncount(w.dom, w.fid);
            let round = self.round;
            if let Some(x) = self.waiting.get_mut(i) {
                x.trying = false;
                x.refused_in = round;
            }
            return None;
        }
        self.waiting.remove(i);
        self.note_thread_use(w.fid, out[0]);
        // More threads may be free: the next call tries the rest too.
        self.thread_may_be_free();
        Some(Step::Return(out))
    }

    /// The next answer for a call [`Mediator::submit`] kept waiting, if one
    /// is due: [`Mediator::next_step`] driven to the call's answer, every
    /// secure call made at once. Call it after every submitted call and
    /// periodically, until it returns `None`. Returns the guest, the call's
    /// tag and the registers for its vCPU.
    pub fn next_answer<P: Platform>(
        &mut self,
        p: &mut P,
        now_ms: u64,
    ) -> Option<(DomId, u64, Regs)> {
        loop {
            let (dom, tag, step) = self.next_step(p, now_ms)?;
            let regs = self
                .waiting
                .iter()
                .find(|w| w.trying && w.dom == dom && w.tag == tag)
                .map_or([0; 8], |w| w.regs);
            match self.drive(p, dom, tag, &regs, step, now_ms) {
                Reply::Now(x) => return Some((dom, tag, x)),
                // OP-TEE still refuses it: the next waiting call is tried.
                Reply::Held => continue,
            }
        }
    }

    /// The next step of a call [`Mediator::start`] kept waiting
    /// ([`Step::Held`]), if one is due: a call that waited longer than
    /// [`Config::thread_wait_ms`] (answered [`GuestError::NoThread`]), or
    /// the oldest waiting call when an OP-TEE thread may have become free
    /// (tried again: its first step, often an [`Step::Execute`] whose
    /// result goes to [`Mediator::result`] as any call's; it keeps its place
    /// if OP-TEE still has no thread). Call it after every call's step and
    /// periodically, until it returns `None`. Returns the guest, the call's
    /// tag and the step.
    pub fn next_step<P: Platform>(&mut self, p: &mut P, now_ms: u64) -> Option<(DomId, u64, Step)> {
        let wait_ms = self.config.thread_wait_ms;
        // A call being tried is answered by its result.
        if let Some(i) = self
            .waiting
            .iter()
            .position(|w| !w.trying && now_ms.saturating_sub(w.since_ms) >= wait_ms)
        {
            let w = self.waiting.remove(i)?;
            if let Some(g) = self.guests.get_mut(&w.dom) {
                g.stats.calls = g.stats.calls.saturating_add(1);
                g.stats.error(GuestError::NoThread);
            }
            return Some((w.dom, w.tag, Step::Return(no_thread_answer(w.fid, &w.regs))));
        }
        if !self.thread_freed {
            return None;
        }
        // Oldest first; one that OP-TEE still refuses keeps its place.
        let mut i = 0;
        while let Some(w) = self.waiting.get(i).copied() {
            if w.trying || w.refused_in == self.round {
                i = i.saturating_add(1);
                continue;
            }
            match self.begin(p, w.dom, w.tag, w.fid, w.regs) {
                Stage::Smc(r) => {
                    if let Some(x) = self.waiting.get_mut(i) {
                        x.trying = true;
                    }
                    return Some((w.dom, w.tag, Step::Execute(r)));
                }
                Stage::Answer(out) => {
                    if let Some(step) = self.retried(i, out) {
                        return Some((w.dom, w.tag, step));
                    }
                }
            }
            i = i.saturating_add(1);
        }
        // Every waiting call was tried since a thread may have become free; those still in a
        // secure call decide by their results.
        if !self.waiting.iter().any(|w| w.trying) {
            self.thread_freed = false;
            self.next_round();
        }
        None
    }

    /// Calls waiting for an OP-TEE thread ([`Reply::Held`], [`Step::Held`]).
    pub fn waiting_calls(&self) -> usize {
        self.waiting.len()
    }

    /// Calls of `dom` waiting for an OP-TEE thread.
    pub fn waiting_calls_of(&self, dom: DomId) -> usize {
        self.waiting.iter().filter(|w| w.dom == dom).count()
    }

    /// Takes back the counting of a try that ended waiting (a waiting call
    /// counts once, when it is answered).
    fn uncount(&mut self, dom: DomId, fid: FunctionId) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.stats.calls = g.stats.calls.saturating_sub(1);
            if busy_answer(fid) == Some(ret::ETHREAD_LIMIT) {
                g.stats.std_calls = g.stats.std_calls.saturating_sub(1);
            }
        }
    }

    /// OP-TEE threads `dom`'s calls hold (see [`Mediator::start`]).
    fn holds(&self, dom: DomId) -> usize {
        self.guests.get(&dom).map_or(0, Guest::threads_held)
    }

    fn wait(&mut self, dom: DomId, tag: u64, fid: FunctionId, regs: Regs, now_ms: u64) -> Step {
        let n = self.waiting_calls_of(dom);
        let Some(g) = self.guests.get_mut(&dom) else {
            return Step::Return(no_thread_answer(fid, &regs));
        };
        if n >= MAX_WAITING_PER_GUEST {
            g.stats.calls = g.stats.calls.saturating_add(1);
            g.stats.error(GuestError::NoThread);
            return Step::Return(no_thread_answer(fid, &regs));
        }
        g.stats.thread_waits = g.stats.thread_waits.saturating_add(1);
        self.waiting.push_back(Waiting {
            dom,
            tag,
            fid,
            regs,
            since_ms: now_ms,
            trying: false,
            refused_in: 0,
        });
        Step::Held
    }

    /// A standard call that ended (answered anything but an RPC or the busy
    /// answer) gave its OP-TEE thread back.
    fn note_thread_use(&mut self, fid: FunctionId, x0: u64) {
        if fid.is_standard() && !ret::is_rpc(x0) && x0 != ret::ETHREAD_LIMIT {
            self.thread_may_be_free();
        }
    }

    /// An OP-TEE thread may have become free: every waiting call may be
    /// tried again.
    fn thread_may_be_free(&mut self) {
        self.thread_freed = true;
        self.next_round();
    }

    fn next_round(&mut self) {
        self.round = next_round(self.round);
    }

    /// Handles one trapped SMC/HVC of guest `dom` and returns x0..x7 for its
    /// vCPU at once: the call's steps without the thread-waiting policy,
    /// every secure call made at once. Registers the mediator does not set
    /// keep the guest's values. A call that needs an OP-TEE thread may be
    /// answered ETHREAD_LIMIT or EBUSY because *other* guests hold every
    /// thread: the product uses [`Mediator::submit`] (or the step API,
    /// [`Mediator::start`]), which keeps such calls waiting.
    pub fn handle_call<P: Platform>(&mut self, p: &mut P, dom: DomId, regs: Regs) -> Regs {
        let tag = self.unused_tag(dom);
        // The edge: the one parse of the guest's x0.
        let fid = FunctionId::parse(regs[0]);
        let mut stage = self.begin(p, dom, tag, fid, regs);
        loop {
            match stage {
                Stage::Answer(x) => return x,
                Stage::Smc(r) => {
                    let res = p.smc(r);
                    let Some((_, next)) = self.resume(p, dom, tag, res) else {
                        // Cannot happen: the call was parked under `tag` by the step just made.
                        return lost_call(&regs);
                    };
                    stage = next;
                }
            }
        }
    }

    /// A tag no call of `dom` has in flight (for [`Mediator::handle_call`],
    /// whose caller gives none).
    fn unused_tag(&self, dom: DomId) -> u64 {
        let Some(g) = self.guests.get(&dom) else {
            return u64::MAX;
        };
        let mut tag = u64::MAX;
        // Ends within (calls in flight + 1) tries: each tag is in flight at most once.
        while g.executing(tag) || self.waiting.iter().any(|w| w.dom == dom && w.tag == tag) {
            tag = tag.saturating_sub(1);
        }
        tag
    }

    /// The answer to a call of `dom` that is not a TEE guest (Xen: no tee context → unknown
    /// function) or not active (ENOTAVAIL); `None` for an active guest.
    fn refused(&mut self, dom: DomId, regs: &Regs) -> Option<Regs> {
        let mut out = *regs;
        let Some(g) = self.guests.get_mut(&dom) else {
            out[0] = GuestError::UnknownFunction.answer_x0();
            return Some(out);
        };
        if g.state == GuestState::Active {
            return None;
        }
        g.stats.calls = g.stats.calls.saturating_add(1);
        fail_x0(g, GuestError::Unavailable, &mut out);
        Some(out)
    }

    /// The first step of a trapped call of `dom`, without the
    /// thread-waiting policy: its answer, or a secure call (the call is
    /// parked in the guest under `tag` until [`Mediator::resume`]). `fid`:
    /// the function of `regs[0]`.
    fn begin<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        fid: FunctionId,
        regs: Regs,
    ) -> Stage {
        if let Some(out) = self.refused(dom, &regs) {
            return Stage::Answer(out);
        }
        let Some(g) = self.guests.get_mut(&dom) else {
            return Stage::Answer(lost_call(&regs));
        };
        g.stats.calls = g.stats.calls.saturating_add(1);
        let mut out = regs;
        let client = g.client.raw();
        // What a forwarded fast call carries: its ID and the guest's client ID, nothing else.
        let fwd = [fid.id().map_or(0, u64::from), 0, 0, 0, 0, 0, 0, client];
        let park = |g: &mut Guest, after: AfterFast, smc: Regs| {
            g.fast.push(FastCall { tag, regs, after });
            Stage::Smc(smc)
        };
        if let Some(n) = constant_width(fid) {
            // UID, revisions, OS UUID, thread count: OP-TEE's answer as probed.
            let Some(r) = self.constants.and_then(|c| c.answer(fid).copied()) else {
                return park(g, AfterFast::Constant(n), fwd);
            };
            out[..n].copy_from_slice(&r[..n]);
            return Stage::Answer(out);
        }
        let features = self.config.features;
        if !offered(features, p, g, fid) {
            // A feature the guest was not offered (its capability bit masked): as if absent.
            fail_x0(g, GuestError::UnknownFunction, &mut out);
            return Stage::Answer(out);
        }
        let mut cx = Cx {
            p,
            pool: &mut self.pool,
            threads: self.threads,
            access: self.access.as_mut(),
        };
        match fid {
            FunctionId::CallsCount => out[0] = MEDIATOR_SMC_COUNT,
            // shm-cache=0: OP-TEE keeps its cache off; the guest need not know.
            FunctionId::EnableShmCache if !features.shm_cache => out[0] = ret::OK,
            FunctionId::EnableShmCache => return park(g, AfterFast::X0, fwd),
            FunctionId::DisableShmCache => return park(g, AfterFast::DisableShmCache, fwd),
            // No static SHM for guests.
            FunctionId::GetShmConfig => fail_x0(g, GuestError::NotAvailable, &mut out),
            FunctionId::ExchangeCapabilities => {
                // Xen handle_exchange_capabilities: only the guest bits we know go to OP-TEE.
                let nsec = regs[1] & caps::KNOWN_NSEC;
                let ask = [fwd[0], nsec, 0, 0, 0, 0, 0, client];
                return park(g, AfterFast::Capabilities, ask);
            }
            FunctionId::EnableAsyncNotif => return park(g, AfterFast::EnableAsyncNotif, fwd),
            FunctionId::GetAsyncNotifValue => {
                if !queued_notif(g, &mut out) {
                    return park(g, AfterFast::AsyncNotifValue, fwd);
                }
            }
            FunctionId::CallWithArg => return std_call(&mut cx, g, tag, &regs, Variant::Plain),
            FunctionId::CallWithRpcArg => {
                return std_call(&mut cx, g, tag, &regs, Variant::RpcArg)
            }
            FunctionId::CallWithRegdArg => return std_call(&mut cx, g, tag, &regs, Variant::Regd),
            FunctionId::ReturnFromRpc => return return_from_rpc(&mut cx, g, tag, &regs),
            // Answered above from the probe.
            FunctionId::CallsUid
            | FunctionId::CallsRevision
            | FunctionId::GetOsUuid
            | FunctionId::GetOsRevision
            | FunctionId::GetThreadCount
            // The hypervisor's; the rest unknown.
            | FunctionId::VmCreated
            | FunctionId::VmDestroyed
            | FunctionId::Unknown => fail_x0(g, GuestError::UnknownFunction, &mut out),
        }
        Stage::Answer(out)
    }

    /// OP-TEE's answer `res` to the secure call of `dom`'s call `tag`,
    /// without the thread-waiting policy: the call's trapped registers and
    /// its next step. `None` when no call of `dom` with `tag` is in a
    /// secure call (nothing changes).
    fn resume<P: Platform>(
        &mut self,
        p: &mut P,
        dom: DomId,
        tag: u64,
        res: Regs,
    ) -> Option<(Regs, Stage)> {
        let g = self.guests.get_mut(&dom)?;
        if g.state != GuestState::Active {
            return None;
        }
        // Only x0-x3 are OP-TEE's answer (optee_smc.h; Xen passes no more).
        let res = [res[0], res[1], res[2], res[3], 0, 0, 0, 0];
        if let Some(i) = g.fast.iter().position(|f| f.tag == tag) {
            let f = g.fast.swap_remove(i);
            let out = after_fast(&mut self.pool, p, g, self.config.features, &f, &res);
            return Some((f.regs, Stage::Answer(out)));
        }
        let mut cx = Cx {
            p,
            pool: &mut self.pool,
            threads: self.threads,
            access: self.access.as_mut(),
        };
        std_result(&mut cx, g, tag, &res)
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
        self.suspended(dom).count()
    }

    /// The standard calls of `dom` that hold an OP-TEE thread while they wait in the guest: the
    /// mediator's view of OP-TEE's threads (every thread a guest holds is one of these, or one
    /// in a secure call).
    pub fn suspended(&self, dom: DomId) -> impl Iterator<Item = Suspended> + '_ {
        self.guests
            .get(&dom)
            .into_iter()
            .flat_map(|g| g.calls.iter())
            .filter_map(|c| match c.phase {
                CallPhase::InRpc { thread, rpc } => Some(Suspended {
                    thread: thread.raw(),
                    func: rpc.func(),
                    cmd: rpc.cmd(),
                }),
                CallPhase::Running | CallPhase::Executing { .. } => None,
            })
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

/// What the guest gets of OP-TEE's answer `r` to its fast call `f`.
fn after_fast<P: Platform>(
    pool: &mut ShadowPool,
    p: &mut P,
    g: &mut Guest,
    features: Features,
    f: &FastCall,
    r: &Regs,
) -> Regs {
    let mut out = f.regs;
    match f.after {
        AfterFast::Constant(n) => {
            if let (Some(d), Some(s)) = (out.get_mut(..n), r.get(..n)) {
                d.copy_from_slice(s);
            }
        }
        AfterFast::X0 => out[0] = r[0],
        AfterFast::DisableShmCache => {
            out[0] = r[0];
            if r[0] == ret::OK {
                // OP-TEE dropped a cached RPC buffer: release it too.
                if let Some(i) = g.find_rpc(ShmCookie::from_optee(regpair(r[1], r[2]))) {
                    free_rpc(g, i, pool, p);
                }
                out[1] = r[1];
                out[2] = r[2];
            }
        }
        AfterFast::Capabilities => exchange_caps(features, p, g, r, &mut out),
        AfterFast::EnableAsyncNotif => {
            out[0] = r[0];
            if r[0] == ret::OK {
                g.async_enabled = true;
            }
        }
        AfterFast::AsyncNotifValue => {
            out[..3].copy_from_slice(&r[..3]);
            if r[0] == ret::OK && r[2] & caps::NOTIF_VALUE_VALID != 0 {
                g.stats.notifications = g.stats.notifications.saturating_add(1);
            }
        }
    }
    out
}

/// Whether guest `g` may use function `fid`: every function but those of a
/// feature the configuration does not offer ([`Features`]), or, for async
/// notifications, that the guest has no interrupt for.
fn offered<P: Platform>(features: Features, p: &mut P, g: &mut Guest, fid: FunctionId) -> bool {
    match fid {
        FunctionId::CallWithRpcArg | FunctionId::CallWithRegdArg => features.rpc_arg,
        FunctionId::EnableAsyncNotif | FunctionId::GetAsyncNotifValue => {
            notif_offered(features, p, g)
        }
        _ => true,
    }
}

/// Whether guest `g` is offered async notifications: configured, and it has
/// a notification interrupt (asked once per guest).
fn notif_offered<P: Platform>(features: Features, p: &mut P, g: &mut Guest) -> bool {
    features.async_notif
        && *g
            .notif_irq
            .get_or_insert_with(|| p.has_notif_interrupt(g.dom))
}

/// Xen handle_exchange_capabilities, extended: guest bits masked to those
/// we know (when asking), OP-TEE bits to those we support (`r`, its
/// answer) and offer this guest ([`offered`]); no DYNAMIC_SHM → ENOTAVAIL.
fn exchange_caps<P: Platform>(
    features: Features,
    p: &mut P,
    g: &mut Guest,
    r: &Regs,
    out: &mut Regs,
) {
    if r[0] != ret::OK {
        out[0] = r[0];
        return;
    }
    let mut sec = r[1] & caps::SUPPORTED_SEC;
    if sec & caps::SEC_DYNAMIC_SHM == 0 {
        fail_x0(g, GuestError::NotAvailable, out);
        return;
    }
    if !features.rpc_arg {
        sec &= !caps::SEC_RPC_ARG;
    }
    if sec & caps::SEC_ASYNC_NOTIF != 0 && !notif_offered(features, p, g) {
        sec &= !caps::SEC_ASYNC_NOTIF;
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

/// GET_ASYNC_NOTIF_VALUE: values fetched at interrupt time first (answered
/// in `out`, true), then OP-TEE itself (false: ask it, with the guest's
/// client ID).
fn queued_notif(g: &mut Guest, out: &mut Regs) -> bool {
    if !g.async_enabled {
        fail_x0(g, GuestError::NotAvailable, out);
        return true;
    }
    let Some(v) = g.notif.pop_front() else {
        return false;
    };
    g.stats.notifications = g.stats.notifications.saturating_add(1);
    out[0] = ret::OK;
    out[1] = u64::from(v);
    out[2] = caps::NOTIF_VALUE_VALID
        | if g.notif.is_empty() {
            0
        } else {
            caps::NOTIF_VALUE_PENDING
        };
    true
}
