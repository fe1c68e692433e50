//! tee-mediator: the mediator domain image (kernel + mediator core + the Xen hook).
//!
//! Boots as the dom0less domain marked `xen,tee-mediator` (created and unpaused before every
//! other domain, FLASK type `tee_mediator_t`), registers its ring with Xen's OP-TEE forwarder
//! (`tee=stubdom`), probes OP-TEE through the secure-call hypercall, then serves the ring
//! forever: see [`stubdom::service`]. Statistics: `TSD-STATS` lines every `stats-ms` when they
//! changed (see [`stubdom::config`]).
//!
//! Command line: the options of [`stubdom::config::OPTIONS`], read by
//! [`stubdom::config::Options::parse`] (explained in `stubdom/README.md`, "Command line").
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use kernel::xenif::abi::{DomId, DOMID_SELF};
use kernel::xenif::hook::call::op as hc;
use kernel::xenif::hook::shared::{RingMem, Shared};
use kernel::xenif::hook::{
    call as hook_call, op, DomainArg, ListError, Pin, Query, Register, Respond, SecureCall,
    RESPOND_DIRECT_INTR, RESPOND_EXECUTE, RESPOND_WAIT,
};
use kernel::xenif::hypercall as xh;
use kernel::xenif::{XenError, XenResult};
use kernel::{println, ForeignPage, GicIrq, Kernel, Trigger};
use mediator::access::AccessVector;
use stubdom::config::Options;
use stubdom::flask::FlaskOps;
use stubdom::mapcache::MapCache;
use stubdom::profile::{Profile, Stage};
use stubdom::testfault::PanicAfter;
use stubdom::{Hook, Server, ShadowStore};

kernel::entry!(main);

/// OP-TEE raised its notification interrupt since the loop last looked.
static OPTEE_NOTIFIED: AtomicBool = AtomicBool::new(false);

/// The ring page shared with Xen.
static RING: RingMem = RingMem::new();

/// Shadow pages at most (the core needs one per in-flight call plus page lists and RPC
/// arguments; OP-TEE has a handful of threads).
const MAX_SHADOW_PAGES: usize = 1024;

/// A hypercall or a request that takes longer is reported (diagnostics).
const SLOW: Duration = Duration::from_millis(300);

/// Foreign mappings kept (the window has 512 slots).
const MAP_CACHE_PAGES: usize = 128;

/// How long registration waits while Xen ends a dead mediator's calls in OP-TEE (Xen's own
/// bound: 256 resumes, one per 50 ms watchdog after the first 16, ~12.8 s).
const REGISTER_WAIT: Duration = Duration::from_secs(30);

/// Xen through hypercalls and the kernel's foreign window.
struct Xen<'k> {
    k: &'k mut Kernel,
    maps: &'k mut MapCache<ForeignPage>,
    prof: &'k mut Option<Profile>,
    call_t0: Option<kernel::time::Instant>,
    held: &'k mut Held,
}

/// The last completing answer, held back until the next hypercall, so that when the loop then
/// finds nothing to do, the answer and the wait are one entry into Xen (`RESPOND_WAIT`,
/// hv-patches 0016). Only completions are held: Xen refusing one needs nothing but a log line
/// and a count, while a refused EXECUTE is unwound in the core at once.
#[derive(Default)]
struct Held {
    answer: Option<Respond>,
    /// Held answers Xen refused, not counted in the server's statistics yet.
    refused: u64,
}

impl Held {
    /// Sends the held answer, if any, with `flags` (0, or `RESPOND_WAIT` to wait after it).
    /// Returns whether there was one.
    fn send(&mut self, name: &str, flags: u16) -> bool {
        let Some(a) = self.answer.take() else {
            return false;
        };
        if let Err(e) = hc(op::RESPOND, Respond { flags, ..a }).0 {
            self.refused += 1;
            println!(
                "TSD-INFO {name} answer to dom{} vCPU{} seq {} refused: {e:?}",
                a.domid, a.vcpu, a.seq
            );
        }
        true
    }
}

fn dom_arg(domid: DomId) -> DomainArg {
    DomainArg {
        domid,
        ..DomainArg::default()
    }
}

impl Xen<'_> {
    /// Sends the held answer before another hypercall: it waited only for the loop's wait.
    fn send_held(&mut self) {
        let t0 = self.k.now();
        if self.held.send(self.k.name(), 0) {
            self.record(Stage::Respond, t0);
        }
    }

    fn record(&mut self, stage: Stage, t0: kernel::time::Instant) {
        if let Some(p) = self.prof.as_mut() {
            let ns = self.k.since(t0).as_nanos();
            p.record(stage, u64::try_from(ns).unwrap_or(u64::MAX));
        }
    }

    /// `TEE_STUBDOM_OP_respond` with `flags`.
    fn answer(
        &mut self,
        seq: u64,
        domid: DomId,
        vcpu: u32,
        flags: u16,
        x: [u64; 8],
    ) -> XenResult<()> {
        let a = Respond {
            seq,
            domid,
            flags,
            vcpu,
            x,
        };
        let t0 = self.k.now();
        let r = hc(op::RESPOND, a).0.map(|_| ());
        self.slow("respond", domid, u64::from(vcpu), t0);
        self.record(Stage::Respond, t0);
        if let Some(c) = self.call_t0.take() {
            self.record(Stage::Call, c);
        }
        r
    }

    fn slow(&self, what: &str, domid: DomId, arg: u64, t0: kernel::time::Instant) {
        let took = self.k.since(t0);
        if took > SLOW {
            println!(
                "TSD-INFO {} slow {what} dom{domid} {arg:#x}: {} ms",
                self.k.name(),
                took.as_millis()
            );
        }
    }
}

impl Hook for Xen<'_> {
    type Page = usize;

    fn respond(&mut self, seq: u64, domid: DomId, vcpu: u32, x: [u64; 8]) -> XenResult<()> {
        self.send_held();
        if let Some(c) = self.call_t0.take() {
            self.record(Stage::Call, c);
        }
        self.held.answer = Some(Respond {
            seq,
            domid,
            flags: 0,
            vcpu,
            x,
        });
        Ok(())
    }
    fn execute(
        &mut self,
        seq: u64,
        domid: DomId,
        vcpu: u32,
        x: [u64; 8],
        direct_intr: bool,
    ) -> XenResult<()> {
        self.send_held();
        let direct = if direct_intr { RESPOND_DIRECT_INTR } else { 0 };
        self.answer(seq, domid, vcpu, RESPOND_EXECUTE | direct, x)
    }
    fn pin(&mut self, domid: DomId, gfn: u64) -> XenResult<u64> {
        self.send_held();
        let t0 = self.k.now();
        let (r, a) = hc(
            op::PIN,
            Pin {
                domid,
                gfn,
                ..Pin::default()
            },
        );
        self.record(Stage::Pin, t0);
        r.map(|_| a.maddr)
    }
    fn unpin(&mut self, domid: DomId, gfn: u64) -> XenResult<()> {
        self.send_held();
        let a = Pin {
            domid,
            gfn,
            ..Pin::default()
        };
        let t0 = self.k.now();
        let r = hc(op::UNPIN, a).0.map(|_| ());
        self.record(Stage::Pin, t0);
        r
    }
    fn pin_list(&mut self, domid: DomId, gfns: &mut [u64]) -> Result<(), ListError> {
        self.send_held();
        let t0 = self.k.now();
        let r = hook_call::pin_list(domid, gfns);
        self.record(Stage::Pin, t0);
        r
    }
    fn unpin_list(&mut self, domid: DomId, gfns: &mut [u64]) -> Result<(), ListError> {
        self.send_held();
        let t0 = self.k.now();
        let r = hook_call::unpin_list(domid, gfns);
        self.record(Stage::Pin, t0);
        r
    }
    fn secure_call(&mut self, x: [u64; 8]) -> XenResult<[u64; 8]> {
        self.send_held();
        let t0 = self.k.now();
        let (r, a) = hc(op::SECURE_CALL, SecureCall { x });
        let took = self.k.since(t0);
        self.record(Stage::Smc, t0);
        if took > SLOW {
            println!(
                "TSD-INFO {} slow secure call {:#x} client {}: {} ms -> {:x?}",
                self.k.name(),
                x[0],
                x[7],
                took.as_millis(),
                r.map(|_| a.x[0])
            );
        }
        r.map(|_| a.x)
    }
    fn release(&mut self, domid: DomId) -> XenResult<()> {
        self.send_held();
        hc(op::RELEASE, dom_arg(domid)).0.map(|_| ())
    }
    fn pinned(&mut self, domid: DomId) -> XenResult<u32> {
        self.send_held();
        let (r, q) = hc(
            op::QUERY,
            Query {
                domid,
                ..Query::default()
            },
        );
        r.map(|_| q.nr_pinned)
    }
    fn notify(&mut self, domid: DomId) -> XenResult<()> {
        self.send_held();
        hc(op::NOTIFY, dom_arg(domid)).0.map(|_| ())
    }
    fn map(&mut self, domid: DomId, gfn: u64) -> XenResult<usize> {
        if let Some(i) = self.maps.lookup(domid, gfn) {
            return Ok(i);
        }
        self.send_held();
        let t0 = self.k.now();
        if self.maps.full() {
            if let Some(old) = self.maps.evict() {
                let _ = self.k.unmap_foreign(old);
            }
        }
        let page = self
            .k
            .map_foreign(domid, gfn)
            .map_err(|_| kernel::xenif::XenError::EFAULT)?;
        self.slow("map", domid, gfn, t0);
        self.record(Stage::Map, t0);
        Ok(self.maps.insert(domid, gfn, page))
    }
    fn read_page(&self, page: &usize, off: usize, buf: &mut [u8]) {
        match self.maps.get(*page) {
            Some(p) => {
                p.read(off, buf);
            }
            None => buf.fill(0),
        }
    }
    fn write_page(&self, page: &usize, off: usize, data: &[u8]) {
        if let Some(p) = self.maps.get(*page) {
            p.write(off, data);
        }
    }
    fn unmap(&mut self, _page: usize) {
        // Kept mapped in the cache.
    }
    fn now_ms(&self) -> u64 {
        u64::try_from(self.k.since(kernel::time::Instant(0)).as_millis()).unwrap_or(u64::MAX)
    }
    fn begin_call(&mut self) {
        if self.prof.is_some() {
            self.call_t0 = Some(self.k.now());
        }
    }
    fn forget(&mut self, domid: DomId) {
        self.send_held();
        for p in self.maps.forget(domid) {
            let _ = self.k.unmap_foreign(p);
        }
    }
}

/// Xen's FLASK operations (`__HYPERVISOR_xsm_op`, xenif's wrappers), for TA access.
#[derive(Clone, Copy)]
struct XenFlask;

impl FlaskOps for XenFlask {
    fn context_to_sid(&mut self, context: &str) -> XenResult<u32> {
        xh::flask_context_to_sid(context)
    }
    fn sid_to_context<'b>(&mut self, sid: u32, buf: &'b mut [u8]) -> XenResult<&'b str> {
        xh::flask_sid_to_context(sid, buf)
    }
    fn access(&mut self, ssid: u32, tsid: u32, tclass: u16, req: u32) -> XenResult<AccessVector> {
        xh::flask_access(ssid, tsid, tclass, req).map(|a| AccessVector {
            allowed: a.allowed,
            seqno: a.seqno,
        })
    }
    fn getenforce(&mut self) -> XenResult<bool> {
        xh::flask_getenforce()
    }
}

fn main(k: &mut Kernel) {
    let name = k.name();
    // Every option, with its default: stubdom::config::OPTIONS.
    let opts = Options::parse(&k.bootargs());
    let Options {
        stats_ms,
        poll_us,
        execute,
        policy_probe_ms,
        ..
    } = opts;
    let notif = opts.core.features.async_notif;
    let fault = PanicAfter::new(opts.test_panic_after);

    let gfn = RING.gfn();
    let register = || {
        hc(
            op::REGISTER,
            Register {
                ring_gfn: gfn,
                ..Register::default()
            },
        )
    };
    // EAGAIN: Xen is still ending in OP-TEE what a dead mediator left there (hv-patches 0009,
    // `tsd_reap`, bounded by its resume limit), so that this one starts on a clean OP-TEE.
    let start = k.now();
    let (mut res, mut reg) = register();
    if res == Err(XenError::EAGAIN) {
        println!("TSD-INFO {name} registration deferred: Xen is ending a dead mediator's calls in OP-TEE");
    }
    while res == Err(XenError::EAGAIN) && k.since(start) < REGISTER_WAIT {
        k.sleep(Duration::from_millis(20));
        (res, reg) = register();
    }
    let port = match res.and_then(|_| k.evtchn_bind_interdomain(DOMID_SELF, reg.port)) {
        Ok(p) => p,
        Err(e) => {
            println!("TSD-RESULT {name} passed=0 failed=1 reason=register:{e:?} status=FAIL");
            return;
        }
    };
    let _ = k.on_event(port, |_, _| {});
    println!(
        "TSD-INFO {name} registered: ring gfn {gfn:#x}, port {}, {} requests replayed, notification IRQ {}",
        reg.port, reg.nr_replayed, reg.notif_irq
    );

    let mut shadow = ShadowStore::new(MAX_SHADOW_PAGES);
    let mut held = Held::default();
    let mut maps = MapCache::new(MAP_CACHE_PAGES);
    let mut prof = if opts.profile {
        Some(Profile::default())
    } else {
        None
    };
    let server = Server::probe(
        name,
        &mut Xen {
            k,
            maps: &mut maps,
            prof: &mut prof,
            call_t0: None,
            held: &mut held,
        },
        &mut shadow,
        opts.core,
        opts.guests,
    );
    let mut server = match server {
        Ok(s) => s,
        Err(e) => {
            println!("TSD-RESULT {name} passed=0 failed=1 reason=probe:{e:?} status=FAIL");
            return;
        }
    };
    server.set_panic_after(fault);
    server.set_execute(execute);
    server.set_direct_intr(opts.direct_intr);
    // TA access (xsm-policy/ta-access.md): Xen's FLASK policy decides, if Xen has FLASK.
    match server.enable_flask(XenFlask) {
        Ok(seqno) => println!(
            "TSD-INFO {name} FLASK: TA access decided by the policy (seqno {seqno:?}; probed every {policy_probe_ms} ms); labels from Xen"
        ),
        Err(e) => println!(
            "TSD-INFO {name} FLASK: none ({e:?}): TA access by guests= labels' allow-lists only"
        ),
    }
    println!(
        "TSD-INFO {name} OP-TEE probed: {} threads; serving (stats every {stats_ms} ms, async notifications {}, secure calls made by {})",
        server.mediator().threads(),
        if notif { "on" } else { "off" },
        if execute { "each guest's vCPU" } else { "the mediator" }
    );
    if fault.armed() {
        println!(
            "TSD-INFO {name} TEST ONLY: test-panic-after={}: will panic on that forwarded call (or the next one with no OP-TEE thread suspended)",
            opts.test_panic_after.unwrap_or(0)
        );
    }
    println!("TSD-RESULT {name} passed=1 failed=0 status=PASS");

    // OP-TEE's notification interrupt, routed to us by Xen under its own number (edge rising,
    // as OP-TEE's /firmware/optee names it): the handler only records it; the loop fetches the
    // values per guest and raises each guest's interrupt (Mediator::async_notification).
    if notif && reg.notif_irq != 0 {
        let irq = GicIrq {
            intid: reg.notif_irq,
            trigger: Trigger::Edge,
        };
        match k.on_spi(irq, |_, _| OPTEE_NOTIFIED.store(true, Ordering::Release)) {
            Ok(_) => println!(
                "TSD-INFO {name} async notifications: OP-TEE's SPI {} taken",
                reg.notif_irq
            ),
            Err(e) => println!(
                "TSD-INFO {name} async notifications: SPI {}: {e:?}",
                reg.notif_irq
            ),
        }
    }

    let mut out = |a: core::fmt::Arguments<'_>| println!("{a}");
    let mut next_stats = k.after(Duration::from_millis(stats_ms.max(100)));
    let probe_on = policy_probe_ms > 0 && server.flask_enabled();
    let mut next_probe = k.after(Duration::from_millis(policy_probe_ms));
    loop {
        // Take what woke us (the ring's event) before serving: the wait below then finds nothing
        // pending and takes the held answer with it, instead of the answer going alone and a WFI
        // after it. Never blocks (the deadline is now).
        k.poll(Some(k.now()));
        let t0 = k.now();
        server.serve(
            &mut Xen {
                k,
                maps: &mut maps,
                prof: &mut prof,
                call_t0: None,
                held: &mut held,
            },
            &mut shadow,
            Shared(&RING),
            &mut out,
        );
        if OPTEE_NOTIFIED.swap(false, Ordering::AcqRel) {
            server.async_notification(
                &mut Xen {
                    k,
                    maps: &mut maps,
                    prof: &mut prof,
                    call_t0: None,
                    held: &mut held,
                },
                &mut shadow,
            );
        }
        if server.waiting_calls() > 0 {
            // Calls waiting for an OP-TEE thread: their bound holds without new calls.
            server.answer_waiting(
                &mut Xen {
                    k,
                    maps: &mut maps,
                    prof: &mut prof,
                    call_t0: None,
                    held: &mut held,
                },
                &mut shadow,
                &mut out,
            );
        }
        let took = k.since(t0);
        if took > SLOW {
            println!("TSD-INFO {name} slow serve: {} ms", took.as_millis());
        }
        // A policy reload reaches cached TA decisions within one period (the loop turns at
        // least every 100 ms, below).
        if probe_on && k.now() >= next_probe {
            let _ = server.probe_policy();
            next_probe = k.after(Duration::from_millis(policy_probe_ms));
        }
        if stats_ms > 0 && k.now() >= next_stats {
            server.print_stats(false, &mut out);
            server.print_access_stats(&mut out);
            if let Some(p) = prof.as_ref() {
                println!(
                    "TSD-INFO {name} profile {p} map_cache_hits={} map_cache_misses={}",
                    maps.hits, maps.misses
                );
            }
            next_stats = k.after(Duration::from_millis(stats_ms));
        }
        // Poll the ring a little before blocking: the next call of a busy guest often comes
        // sooner than a block and wake-up of our vCPU would take.
        if poll_us > 0 {
            held.send(name, 0);
            let until = k.after(Duration::from_micros(poll_us));
            while k.now() < until && !server.has_work(Shared(&RING)) {
                core::hint::spin_loop();
            }
            if server.has_work(Shared(&RING)) {
                continue;
            }
        }
        // Look at the ring at least every 100 ms besides the event, in case a notification was
        // lost (Xen also re-notifies while requests stay unacknowledged).
        // The held answer goes with the wait when there is nothing to do, else on its own.
        let t = k.after(Duration::from_millis(100));
        k.poll_with(Some(t), || held.send(name, RESPOND_WAIT));
        held.send(name, 0);
        if held.refused > 0 {
            server.count_refused_answers(core::mem::take(&mut held.refused));
        }
    }
}
