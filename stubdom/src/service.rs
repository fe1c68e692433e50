//! The request loop's logic: the forwarder's ring requests fed to the mediator core, one at a
//! time (the core never blocks; an OP-TEE RPC is just the answer of one call).
//!
//! - `CREATED` → [`Mediator::guest_created_with_sid`] with the SID Xen announces in `x[0]`
//!   (hv-patches 0019) and the label its context names, when FLASK decides TA access
//!   ([`Server::enable_flask`], [`crate::flask`]); else with `guests=`' label and no SID (and, for a client OP-TEE already knew,
//!   [`Mediator::flush_rpc_cache`]) (VM_CREATED with the guest's client ID, from the
//!   hypervisor client; a replay of a client OP-TEE already knows is accepted, see
//!   [`crate::secure::answer_for`]).
//! - `CALL` → [`Mediator::start`], and each step the core decides: `Return` →
//!   `TEE_STUBDOM_OP_respond` with x0–x7; `Execute` → `TEE_STUBDOM_OP_respond` with
//!   `TEE_STUBDOM_RESPOND_EXECUTE`: the guest's own vCPU makes the secure call on its pCPU
//!   (hv-patches 0013), so OP-TEE's time is the guest's and guests run in parallel; `Held` → the
//!   call waits for an OP-TEE thread ([`Server::answer_waiting`]).
//! - `RESULT` (the outcome of an `Execute`) → [`Mediator::result`], and its next step likewise.
//! - With `execute=0` the mediator makes every secure call itself instead
//!   ([`Mediator::submit`], `TEE_STUBDOM_OP_secure_call` from our vCPU), as before 0013.
//! - `DESTROYED` → [`Mediator::guest_destroying`] until done (VM_DESTROYED once), then
//!   `TEE_STUBDOM_OP_release`.
//!
//! Every effect goes through a [`Hook`]; output lines go to a sink, so the logic runs on the
//! host against a fake Xen.

use crate::config::{lookup, GuestName};
use crate::flask::{self, Flask, FlaskOps};
use crate::hook::{Hook, HookPlatform};
use crate::secure::{answer_for, failed_resume};
use crate::shadow::ShadowStore;
use crate::stats::Line;
use crate::testfault::PanicAfter;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use mediator::abi::smc;
use mediator::access::{AccessStats, Sid};
use mediator::{
    Config, DomId, FunctionId, GuestStats, Mediator, ProbeError, Progress, Regs, Reply, Step,
};
use xenif::hook::shared::Shared;
use xenif::hook::{req, BackRing, Request, F_DIRECT, F_TEE_KNOWN};
use xenif::XenError;

/// Teardown work units per step of [`Mediator::guest_destroying`].
const TEARDOWN_BUDGET: usize = 64;

/// Where output lines go (the console in the image).
pub type Sink<'a> = &'a mut dyn FnMut(fmt::Arguments<'_>);

/// Counters of the mediator itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Ring requests consumed.
    pub requests: u64,
    /// Calls answered.
    pub calls: u64,
    /// Answers Xen refused (the guest went away).
    pub respond_failed: u64,
}

/// Bound on the core's steps for a call whose vCPU Xen no longer lets us answer (each a failed
/// secure call the core unwinds: a standard call's RPC restarts are bounded by 32).
const UNWIND_STEPS: usize = 64;

/// A CALL the core has not answered yet: waiting for an OP-TEE thread ([`Reply::Held`],
/// [`Step::Held`]) or with its vCPU making a secure call ([`Step::Execute`]). What its next
/// answer needs.
#[derive(Clone, Copy, Debug)]
struct HeldCall {
    domid: u16,
    vcpu: u32,
    /// The secure call its vCPU makes now, and whether it is our retry of a RETURN_FROM_RPC
    /// that Xen refused, with Xen's failed answer.
    executing: Option<(Regs, bool)>,
}

/// Xen's FLASK operations, kept for the guests' labels (the core holds its own copy as its
/// security server).
struct Labels(Box<dyn FlaskOps + Send>);

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Labels(FLASK)")
    }
}

/// The mediator domain's state.
#[derive(Debug)]
pub struct Server {
    name: &'static str,
    mediator: Mediator,
    ring: BackRing,
    /// `guests=`: display names (and, without FLASK, labels).
    guests: Vec<GuestName>,
    /// FLASK decides TA access ([`Server::enable_flask`]): labels come from guests' SIDs.
    flask: Option<Labels>,
    /// The label of each guest the core was told at CREATED (kept after DESTROYED for the
    /// last statistics line).
    labels: BTreeMap<u16, String>,
    /// The security server's counters as last printed.
    access_printed: Option<AccessStats>,
    /// Counters as last printed, per live guest.
    printed: BTreeMap<u16, GuestStats>,
    /// Guests the core knows (CREATED seen, DESTROYED not yet).
    live: BTreeSet<u16>,
    /// Final counters of destroyed guests.
    gone: BTreeMap<u16, GuestStats>,
    /// The mediator's own counters.
    pub stats: ServerStats,
    /// The test-only crash trigger (off by default).
    panic_after: PanicAfter,
    /// Let the guests' vCPUs make their calls' secure calls (`execute=1`, the default).
    execute: bool,
    /// Let OP-TEE's foreign interrupts go straight to the guest (`direct-intr=1`, the default).
    direct_intr: bool,
    /// CALLs waiting for an OP-TEE thread or for a RESULT, by ring sequence number (the core's
    /// tag; Xen keeps it for every step of a call).
    held: BTreeMap<u64, HeldCall>,
}

impl Server {
    /// Probes OP-TEE through `hook` (the constant fast calls, CALLS_UID and GET_THREAD_COUNT among
    /// them, which guests then get without a secure call; the virtualization check: the
    /// last is refused by Xen, which already made it, and the refusal is not "unknown
    /// function") and makes the server. `config` also says which optional OP-TEE features
    /// guests are offered ([`mediator::Features`]: the core masks and enforces them).
    pub fn probe<H: Hook>(
        name: &'static str,
        hook: &mut H,
        shadow: &mut ShadowStore,
        config: Config,
        guests: Vec<GuestName>,
    ) -> Result<Server, ProbeError> {
        let mut p = HookPlatform { hook, shadow };
        let mediator = Mediator::probe(config, &mut p)?;
        Ok(Server {
            name,
            mediator,
            ring: BackRing::new(),
            guests,
            flask: None,
            labels: BTreeMap::new(),
            access_printed: None,
            printed: BTreeMap::new(),
            live: BTreeSet::new(),
            gone: BTreeMap::new(),
            stats: ServerStats::default(),
            panic_after: PanicAfter::default(),
            execute: true,
            direct_intr: true,
            held: BTreeMap::new(),
        })
    }

    /// Lets Xen's FLASK policy decide which guest may open a session to which TA
    /// (`xsm-policy/ta-access.md`): installs the core's security server on `ops` and from now
    /// on takes each guest's SID from its CREATED and its label from the SID's context.
    /// `Err(ENOSYS)`: Xen has no FLASK (`FLASK_GETENFORCE`), nothing changes and guests keep
    /// `guests=`' labels. `Ok`: the policy's sequence number if the first probe was answered
    /// (`None`: it was not; every decision then fails closed until one is).
    pub fn enable_flask<F>(&mut self, mut ops: F) -> Result<Option<u32>, XenError>
    where
        F: FlaskOps + Clone + Send + 'static,
    {
        if !flask::available(&mut ops) {
            return Err(XenError::ENOSYS);
        }
        self.flask = Some(Labels(Box::new(ops.clone())));
        Ok(self.mediator.set_security_server(Box::new(Flask(ops))))
    }

    /// Whether FLASK decides TA access ([`Server::enable_flask`]).
    pub fn flask_enabled(&self) -> bool {
        self.flask.is_some()
    }

    /// The periodic probe of the policy's sequence number ([`Mediator::probe_policy`]): a
    /// policy reload reaches cached decisions within one period (`policy-probe-ms=`).
    pub fn probe_policy(&mut self) -> Option<u32> {
        self.mediator.probe_policy()
    }

    /// The SID and label of a guest Xen announced with `x0` (CREATED's `x[0]`), and the line
    /// to print about them, if any. With FLASK: the SID Xen gives and the type of its context
    /// (Xen's label wins over `guests=`'); without FLASK, or without a SID: no SID, `guests=`'
    /// label.
    fn sid_and_label(&mut self, domid: u16, x0: u64) -> (Option<Sid>, String, Option<String>) {
        let (_, configured) = lookup(&self.guests, domid);
        let Some(f) = self.flask.as_mut() else {
            return (None, configured, None);
        };
        let Some(sid) = flask::created_sid(x0) else {
            let note = alloc::format!(
                "announced without a FLASK SID (x0={x0:#x}): not asked of the policy, label from guests="
            );
            return (None, configured, Some(note));
        };
        match flask::label_of(&mut *f.0, sid) {
            Ok(label) if !configured.is_empty() && configured != label => {
                let note = alloc::format!(
                    "guests= says label {configured}, Xen's SID {} says {label}: Xen's is used",
                    sid.raw()
                );
                (Some(sid), label, Some(note))
            }
            Ok(label) => (Some(sid), label, None),
            Err(e) => {
                // The policy still decides with the SID; limits and allow-list: those of the
                // configured label, not the defaults (which would loosen a restricted guest).
                let note = alloc::format!(
                    "SID {}: no label ({e:?}); TA access by its SID, limits of guests=' label {configured:?}",
                    sid.raw()
                );
                (Some(sid), configured, Some(note))
            }
        }
    }

    /// Let each guest's own vCPU make the secure calls of its calls (hv-patches 0013, the
    /// default), or make them all from our vCPU (`execute=0`: one at a time, OP-TEE's time ours).
    pub fn set_execute(&mut self, on: bool) {
        self.execute = on;
    }

    /// With `execute=1`: let OP-TEE's foreign interrupts (`RPC_FOREIGN_INTR`) go to the guest and
    /// its resumes from them to OP-TEE without us (hv-patches 0015, the default): the core never
    /// sees them, which is what it would answer anyway (the interrupt is the guest's, the resume
    /// carries nothing); `direct-intr=0` makes each one a round trip through us.
    pub fn set_direct_intr(&mut self, on: bool) {
        self.direct_intr = on;
    }

    /// Arms the test-only crash trigger (`test-panic-after=`, [`crate::testfault`]).
    pub fn set_panic_after(&mut self, p: PanicAfter) {
        self.panic_after = p;
    }

    /// OP-TEE threads suspended in an RPC for the live guests.
    pub fn suspended_calls(&self) -> usize {
        self.live
            .iter()
            .filter_map(|&d| DomId::new(d))
            .map(|d| self.mediator.suspended_calls(d))
            .sum()
    }

    /// The core.
    pub fn mediator(&self) -> &Mediator {
        &self.mediator
    }

    /// Drains the ring until it stays empty after the final check
    /// (`RING_FINAL_CHECK_FOR_REQUESTS`).
    pub fn serve<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        page: Shared<'_>,
        out: Sink<'_>,
    ) {
        loop {
            while let Some(rq) = self.ring.next_request(&page) {
                self.handle(hook, shadow, &rq, out);
            }
            self.ring.push_responses(&page);
            if !self.ring.final_check(&page) {
                return;
            }
        }
    }

    /// Whether requests wait on the ring (also asks Xen to notify the next one).
    pub fn has_work(&self, page: Shared<'_>) -> bool {
        self.ring.final_check(&page)
    }

    /// Handles one ring request.
    pub fn handle<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        rq: &Request,
        out: Sink<'_>,
    ) {
        self.stats.requests = self.stats.requests.saturating_add(1);
        let Some(dom) = DomId::new(rq.domid) else {
            self.reserved_domid(hook, rq, out);
            return;
        };
        let name = self.name;
        match rq.kind {
            req::CREATED => {
                let (gname, _) = lookup(&self.guests, rq.domid);
                let (sid, label, note) = self.sid_and_label(rq.domid, rq.x[0]);
                if let Some(note) = note {
                    out(format_args!("TSD-INFO {name} guest dom{} {note}", rq.domid));
                }
                hook.forget(rq.domid);
                let mut p = HookPlatform { hook, shadow };
                let r = self
                    .mediator
                    .guest_created_with_sid(&mut p, dom, &label, sid);
                self.gone.remove(&rq.domid);
                self.live.insert(rq.domid);
                out(format_args!(
                    "TSD-INFO {name} guest dom{} ({gname}, {}) created: {r:?}{}",
                    rq.domid,
                    if label.is_empty() { "-" } else { &label },
                    match sid {
                        Some(s) => alloc::format!(" (FLASK SID {})", s.raw()),
                        None => String::new(),
                    }
                ));
                self.labels.insert(rq.domid, label);
                if rq.flags & F_TEE_KNOWN != 0 {
                    // OP-TEE's cached RPC argument buffers of this client were lent while an
                    // earlier mediator lived (hv-patches 0009): no mediator has a copy of them
                    // any more. `EBUSY` shows a thread Xen gave up on (Xen refuses the
                    // registration while it still ends a dead mediator's calls).
                    let mut p = HookPlatform { hook, shadow };
                    let f = self.mediator.flush_rpc_cache(&mut p, dom);
                    out(format_args!(
                        "TSD-INFO {name} guest dom{} known to OP-TEE (replayed): RPC argument buffers of an earlier mediator dropped: {f:?}",
                        rq.domid
                    ));
                }
            }
            req::DESTROYED => {
                let last = self.mediator.stats(dom);
                let mut p = HookPlatform { hook, shadow };
                // Bounded by the guest's limits, not by what it holds (`teardown_steps`).
                let steps = self.mediator.teardown_steps(dom, TEARDOWN_BUDGET);
                let done = (0..steps).any(|_| {
                    self.mediator.guest_destroying(&mut p, dom, TEARDOWN_BUDGET) == Progress::Done
                });
                if !done {
                    // The core's bound rules this out; Xen's `release` drops what is left.
                    out(format_args!(
                        "TSD-INFO {name} guest dom{} teardown not done in {steps} steps",
                        rq.domid
                    ));
                }
                self.live.remove(&rq.domid);
                // Its waiting calls went with it (the core dropped them; Xen ends its vCPUs).
                self.held.retain(|_, h| h.domid != rq.domid);
                hook.forget(rq.domid);
                // `pinned`: the core's count when the guest died; `xen_pinned`: what Xen still
                // holds for it after our teardown, before `release` (which drops whatever is
                // left): 0 unless the teardown leaked pins.
                let xen_pinned = hook.pinned(rq.domid);
                let rel = hook.release(rq.domid);
                out(format_args!(
                    "TSD-INFO {name} guest dom{} destroyed, pinned={} xen_pinned={} released: {rel:?}",
                    rq.domid,
                    last.map_or(0, |s| s.pinned_pages),
                    match xen_pinned {
                        Ok(n) => alloc::format!("{n}"),
                        Err(e) => alloc::format!("{e:?}"),
                    }
                ));
                if let Some(s) = last {
                    let mut s = s;
                    s.pinned_pages = xen_pinned.map_or(s.pinned_pages, u64::from);
                    self.gone.insert(rq.domid, s);
                    self.printed.remove(&rq.domid);
                    self.print_one(rq.domid, &s, false, out);
                }
            }
            req::CALL => {
                if self.panic_after.on_call(self.suspended_calls() > 0) {
                    panic!(
                        "test-panic-after: deliberate crash with a call pending (test-only option)"
                    );
                }
                hook.begin_call();
                let mut p = HookPlatform { hook, shadow };
                let x = if self.execute {
                    let now = p.hook.now_ms();
                    let step = self.mediator.start(&mut p, dom, rq.seq, rq.x, now);
                    let call = HeldCall {
                        domid: rq.domid,
                        vcpu: rq.vcpu,
                        executing: None,
                    };
                    self.take_step(hook, shadow, rq.seq, call, step, out);
                    self.answer_waiting(hook, shadow, out);
                    return;
                } else {
                    let now = p.hook.now_ms();
                    match self.mediator.submit(&mut p, dom, rq.seq, rq.x, now) {
                        Reply::Now(x) => x,
                        Reply::Held => {
                            // Its vCPU waits in Xen; `answer_waiting` completes it.
                            self.held.insert(
                                rq.seq,
                                HeldCall {
                                    domid: rq.domid,
                                    vcpu: rq.vcpu,
                                    executing: None,
                                },
                            );
                            self.answer_waiting(hook, shadow, out);
                            return;
                        }
                    }
                };
                self.respond(hook, rq.seq, rq.domid, rq.vcpu, x, out);
                self.answer_waiting(hook, shadow, out);
            }
            req::RESULT => {
                self.result(hook, shadow, rq, out);
                self.answer_waiting(hook, shadow, out);
            }
            k => out(format_args!("TSD-INFO {name} unknown request type {k}")),
        }
    }

    /// Carries out the core's `step` for call `seq`.
    fn take_step<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        seq: u64,
        call: HeldCall,
        step: Step,
        out: Sink<'_>,
    ) {
        match step {
            Step::Return(x) => self.respond(hook, seq, call.domid, call.vcpu, x, out),
            Step::Held => {
                // Its vCPU waits in Xen; `answer_waiting` goes on with it.
                self.held.insert(
                    seq,
                    HeldCall {
                        executing: None,
                        ..call
                    },
                );
            }
            Step::Execute(x) => self.execute(hook, shadow, seq, call, x, false, out),
        }
    }

    /// Has the vCPU of call `seq` make secure call `x` (`retry`: Xen's failed answer to a
    /// RETURN_FROM_RPC it refused).
    #[allow(clippy::too_many_arguments)]
    fn execute<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        seq: u64,
        call: HeldCall,
        x: Regs,
        retry: bool,
        out: Sink<'_>,
    ) {
        let name = self.name;
        let Err(e) = hook.execute(seq, call.domid, call.vcpu, x, self.direct_intr) else {
            self.held.insert(
                seq,
                HeldCall {
                    executing: Some((x, retry)),
                    ..call
                },
            );
            return;
        };
        // The vCPU no longer has this call (its domain is being destroyed, or Xen failed the
        // call): nothing was issued. Let the core unwind it as after a refused secure call.
        self.stats.respond_failed = self.stats.respond_failed.saturating_add(1);
        out(format_args!(
            "TSD-INFO {name} secure call {:#x} for dom{} vCPU{} seq {seq} refused: {e:?}",
            x[0], call.domid, call.vcpu
        ));
        let mut res = answer_for(&x, e);
        for _ in 0..UNWIND_STEPS {
            match self.core_result(hook, shadow, call.domid, seq, res) {
                Some(Step::Execute(again)) => res = answer_for(&again, XenError::ENOENT),
                _ => return,
            }
        }
    }

    /// [`Mediator::result`] of call `seq` of `domid`: its next step.
    fn core_result<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        domid: u16,
        seq: u64,
        res: Regs,
    ) -> Option<Step> {
        let now = hook.now_ms();
        let mut p = HookPlatform { hook, shadow };
        self.mediator
            .result(&mut p, DomId::new(domid)?, seq, res, now)
    }

    /// A RESULT request: the outcome of the secure call the vCPU made for its call.
    fn result<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        rq: &Request,
        out: Sink<'_>,
    ) {
        let name = self.name;
        let executing = self
            .held
            .get(&rq.seq)
            .filter(|c| c.domid == rq.domid)
            .and_then(|c| Some((*c, c.executing?)));
        let Some((mut call, (x, retried))) = executing else {
            out(format_args!(
                "TSD-INFO {name} RESULT for dom{} seq {}: no such call executing",
                rq.domid, rq.seq
            ));
            return;
        };
        self.held.remove(&rq.seq);
        // After a foreign interrupt Xen gave the guest, any of its vCPUs may have resumed the
        // thread: the one that waits now is the RESULT's.
        call.vcpu = rq.vcpu;
        let refused = rq.status < 0;
        // Xen's own resume after a foreign interrupt it gave the guest (hv-patches 0015): the
        // resume of the thread in x3, whatever we executed last.
        let x = if rq.flags & F_DIRECT != 0 {
            [u64::from(smc::RETURN_FROM_RPC), 0, 0, rq.x[3], 0, 0, 0, 0]
        } else {
            x
        };
        if refused && FunctionId::parse(x[0]) == FunctionId::ReturnFromRpc && !retried {
            // A refused resume would leave the OP-TEE thread suspended for good: have Xen resume
            // it with its own failed answer (as `SecureWorld::smc` does for our own calls).
            self.execute(hook, shadow, rq.seq, call, failed_resume(&x), true, out);
            return;
        }
        let res = if refused {
            answer_for(&x, XenError(rq.status.saturating_neg()))
        } else {
            [rq.x[0], rq.x[1], rq.x[2], rq.x[3], 0, 0, 0, 0]
        };
        match self.core_result(hook, shadow, rq.domid, rq.seq, res) {
            Some(step) => self.take_step(hook, shadow, rq.seq, call, step, out),
            None => out(format_args!(
                "TSD-INFO {name} RESULT for dom{} seq {}: the core has no such call",
                rq.domid, rq.seq
            )),
        }
    }

    fn respond<H: Hook>(
        &mut self,
        hook: &mut H,
        seq: u64,
        domid: u16,
        vcpu: u32,
        x: [u64; 8],
        out: Sink<'_>,
    ) {
        let name = self.name;
        self.stats.calls = self.stats.calls.saturating_add(1);
        if let Err(e) = hook.respond(seq, domid, vcpu, x) {
            self.stats.respond_failed = self.stats.respond_failed.saturating_add(1);
            out(format_args!(
                "TSD-INFO {name} answer to dom{domid} vCPU{vcpu} seq {seq} refused: {e:?}"
            ));
        }
    }

    /// A request naming a reserved domain ID (`xen.h`: `DOMID_FIRST_RESERVED` and up, e.g.
    /// `DOMID_SELF`), which Xen's hook never sends: no domain the core can serve ([`DomId::new`]).
    /// A call gets what a domain without a TEE gets (unknown function); the rest is dropped.
    fn reserved_domid<H: Hook>(&mut self, hook: &mut H, rq: &Request, out: Sink<'_>) {
        out(format_args!(
            "TSD-INFO {} request type {} for reserved domid {:#x} ignored",
            self.name, rq.kind, rq.domid
        ));
        if rq.kind == req::CALL {
            let mut x = rq.x;
            x[0] = mediator::abi::ret::UNKNOWN_FUNCTION;
            self.respond(hook, rq.seq, rq.domid, rq.vcpu, x, out);
        }
    }

    /// Answers the calls that waited for an OP-TEE thread and are due: one got a thread, or ran
    /// out of time ([`Mediator::next_answer`], [`Mediator::next_step`] with `execute=1`). Called
    /// after every call and periodically (the event loop's turns), so that the bound on the wait
    /// holds without new calls.
    pub fn answer_waiting<H: Hook>(
        &mut self,
        hook: &mut H,
        shadow: &mut ShadowStore,
        out: Sink<'_>,
    ) {
        loop {
            let now = hook.now_ms();
            let mut p = HookPlatform {
                hook: &mut *hook,
                shadow: &mut *shadow,
            };
            if self.execute {
                let next = self.mediator.next_step(&mut p, now);
                let Some((dom, seq, step)) = next else {
                    return;
                };
                match self.held.remove(&seq) {
                    Some(h) if h.domid == dom.raw() && h.executing.is_none() => {
                        self.take_step(hook, shadow, seq, h, step, out)
                    }
                    h => {
                        debug_assert!(false, "core and service disagree on seq {seq}: {h:?}");
                        out(format_args!(
                            "TSD-INFO {} step for dom{} seq {seq}: no such waiting call",
                            self.name,
                            dom.raw()
                        ));
                    }
                }
                continue;
            }
            let Some((dom, seq, x)) = self.mediator.next_answer(&mut p, now) else {
                return;
            };
            let name = self.name;
            match self.held.remove(&seq) {
                Some(h) => {
                    // The sequence number is Xen's and unique: the vCPU that waits is this one.
                    if h.domid != dom.raw() {
                        debug_assert!(false, "core and service disagree on seq {seq}");
                        out(format_args!(
                            "TSD-INFO {name} waiting call seq {seq}: core says dom{}, ring said dom{}",
                            dom.raw(), h.domid
                        ));
                    }
                    self.respond(hook, seq, h.domid, h.vcpu, x, out);
                }
                None => out(format_args!(
                    "TSD-INFO {name} answer for dom{} seq {seq}: no such waiting call",
                    dom.raw()
                )),
            }
        }
    }

    /// Counts `n` answers that Xen refused after [`Server::serve`] had handed them over (the
    /// image holds the last one back to send it with its wait, hv-patches 0016).
    pub fn count_refused_answers(&mut self, n: u64) {
        self.stats.respond_failed = self.stats.respond_failed.saturating_add(n);
    }

    /// Calls waiting for an OP-TEE thread.
    pub fn waiting_calls(&self) -> usize {
        self.mediator.waiting_calls()
    }

    /// OP-TEE raised its notification interrupt: fetch the values per guest and raise the
    /// interrupt of each guest that has some.
    pub fn async_notification<H: Hook>(&mut self, hook: &mut H, shadow: &mut ShadowStore) {
        let mut raise = Vec::new();
        {
            let mut p = HookPlatform {
                hook: &mut *hook,
                shadow,
            };
            self.mediator
                .async_notification(&mut p, |d: DomId| raise.push(d.raw()));
        }
        for d in raise {
            let _ = hook.notify(d);
        }
    }

    /// Prints the `TSD-STATS` line of every live guest whose counters changed since its last
    /// line (all of them, and the destroyed ones, with `all`).
    pub fn print_stats(&mut self, all: bool, out: Sink<'_>) {
        let ids: Vec<u16> = self.live.iter().copied().collect();
        for d in ids {
            let Some(s) = DomId::new(d).and_then(|d| self.mediator.stats(d)) else {
                continue;
            };
            if !all && self.printed.get(&d) == Some(&s) {
                continue;
            }
            self.printed.insert(d, s);
            self.print_one(d, &s, true, out);
        }
        if all {
            let gone: Vec<(u16, GuestStats)> = self.gone.iter().map(|(d, s)| (*d, *s)).collect();
            for (d, s) in gone {
                self.print_one(d, &s, false, out);
            }
        }
    }

    /// Prints the security server's counters if they changed since the last line
    /// (`TSD-INFO <mediator> flask decisions=N hits=N queries=N flushes=N failures=N`).
    pub fn print_access_stats(&mut self, out: Sink<'_>) {
        let Some(a) = self.mediator.access_stats() else {
            return;
        };
        if self.access_printed == Some(a) {
            return;
        }
        self.access_printed = Some(a);
        out(format_args!(
            "TSD-INFO {} flask decisions={} hits={} queries={} flushes={} failures={}",
            self.name, a.decisions, a.hits, a.queries, a.flushes, a.failures
        ));
    }

    fn print_one(&self, domid: u16, s: &GuestStats, live: bool, out: Sink<'_>) {
        let (gname, configured) = lookup(&self.guests, domid);
        let label = self.labels.get(&domid).cloned().unwrap_or(configured);
        let dom = DomId::new(domid);
        let suspended: Vec<mediator::Suspended> = dom
            .into_iter()
            .flat_map(|d| self.mediator.suspended(d))
            .collect();
        out(format_args!(
            "TSD-STATS {} {}",
            self.name,
            Line {
                domid,
                name: &gname,
                label: &label,
                stats: s,
                live,
                suspended: &suspended,
                waiting: dom.map_or(0, |d| self.mediator.waiting_calls_of(d)),
            }
        ));
    }
}
