//! kernel-selftest: boots the kernel as a dom0less domU and checks each service, printing
//! `TSD-CHECK selftest <check> PASS|FAIL detail`, measurements as `TSD-INFO`, a `TSD-RESULT`,
//! and finally a deliberate data abort whose crash report the runner expects.
//!
//! With two vCPUs (the scenario gives it two) it also checks secondary-vCPU support
//! (`kernel::smp`): a concurrent atomic counter, a hypercall, the heap and the console from vCPU 1,
//! CPU_OFF after return, restarts, and the NoSuchCpu / AlreadyOn refusals.
//!
//! Command line: `name=selftest peer-port=N peer-gfn=G` (the static event channel's local port,
//! whose remote end names the peer domain, and the peer's frame holding its pattern).
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use kernel::xenif::abi::DOMID_SELF;
use kernel::xenif::foreign::ForeignMapError;
use kernel::xenif::{hypercall, XenError};
use kernel::{println, smp, Kernel};

use kernel::report::Report;

kernel::entry!(main);

/// The pattern the peer writes at the start of its shared page.
const PATTERN: &[u8; 16] = b"TSD-PEER-PATTERN";

/// "min_ns=.. median_ns=.. n=.." of counter-tick samples.
fn stats(k: &Kernel, mut ticks: Vec<u64>) -> alloc::string::String {
    ticks.sort_unstable();
    let ns = |t: u64| k.freq().duration(t).as_nanos() as u64;
    let min = ticks.first().copied().unwrap_or(0);
    let med = ticks.get(ticks.len() / 2).copied().unwrap_or(0);
    alloc::format!("min_ns={} median_ns={} n={}", ns(min), ns(med), ticks.len())
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let mut r = Report {
        name,
        passed: 0,
        failed: 0,
    };
    let stats = k.boot_stats();
    let boot_us = stats.t_ready.since(k.freq(), stats.t_entry).as_micros();
    let f = k.freq();
    println!(
        "TSD-INFO {name} kernel up in {boot_us} us (first instruction to application): mmu on +{} us, dt parsed +{} us; counter {} Hz",
        stats.t_mmu.since(f, stats.t_entry).as_micros(),
        stats.t_dt.since(f, stats.t_entry).as_micros(),
        f.hz()
    );

    // Console: this line went out through console_io (or the vpl011 fallback).
    let via_xen = hypercall::console_write(b"").is_ok();
    r.check(
        "console",
        true,
        format_args!(
            "backend={} console_io={}",
            kernel::console::backend(),
            if via_xen { "ok" } else { "refused" }
        ),
    );

    // Device tree.
    let dt = k.dt();
    let ok = !dt.memory.is_empty()
        && dt.gic_dist.size > 0
        && dt.gic_redist.size > 0
        && dt.evtchn_intid == 31
        && dt.vtimer_intid == 27
        && dt.xen_compatible.starts_with("xen,xen-")
        && k.bootargs().get("name") == Some(name);
    r.check(
        "device-tree",
        ok,
        format_args!(
            "ram={:#x}+{:#x} gicd={:#x} gicr={:#x} evtchn-intid={} vtimer-intid={} {} regions={} uart={:?}",
            dt.memory[0].base,
            dt.memory[0].size,
            dt.gic_dist.base,
            dt.gic_redist.base,
            dt.evtchn_intid,
            dt.vtimer_intid,
            dt.xen_compatible,
            dt.xen_regions.len(),
            dt.uart.map(|u| u.base)
        ),
    );

    // Heap: alloc + a map of 2000 heap strings (the kernel's own maps are BTreeMaps).
    {
        let mut m = alloc::collections::BTreeMap::new();
        for i in 0..2000u32 {
            m.insert(i, alloc::format!("v{i}"));
        }
        let big: Vec<u8> = alloc::vec![0xa5; 256 * 1024];
        let ok = m.len() == 2000 && m[&1234] == "v1234" && big.iter().all(|&b| b == 0xa5);
        let (used, total) = k.heap_stats();
        r.check("heap", ok, format_args!("used={used} total={total}"));
    }

    check_timers(k, &mut r);
    check_clobbers(&mut r);
    measure_hypercall(k);
    check_loopback(k, &mut r);
    check_virq(k, &mut r);
    let offer = offer_grant(k, &mut r);
    check_interdomain(k, &mut r);
    if let Some((gref, _page)) = offer {
        // The peer mapped, read and unmapped the page when our first ping arrived.
        let res = k.end_access(gref);
        r.check(
            "grant-end-access",
            res.is_ok(),
            format_args!("ref={gref} revoke={res:?} (the peer's check grant-map used it)"),
        );
    }
    check_foreign(k, &mut r);
    check_smp(k, &mut r);

    println!(
        "TSD-RESULT {name} passed={} failed={} image_bytes={} boot_us={boot_us} status={}",
        r.passed,
        r.failed,
        stats.image_bytes,
        if r.failed == 0 { "PASS" } else { "FAIL" }
    );
    if k.bootargs().get("crash") == Some("stack") {
        // Manual check of the stack guard page: unbounded recursion.
        println!("TSD-INFO {name} deliberate stack overflow follows");
        let n = recurse(core::hint::black_box(1));
        println!("TSD-INFO {name} recursion returned {n}");
    }
    if k.bootargs().get("crash") == Some("panic") {
        panic!("deliberate panic (crash=panic)");
    }
    if k.bootargs().get("crash") == Some("smp") {
        // Manual check of a crash report from a secondary vCPU.
        println!("TSD-INFO {name} deliberate data abort on vCPU 1 follows");
        match smp::spawn(1, |_| kernel::crash::data_abort(), 0) {
            Ok(()) => {
                let _ = k.run_until(k.after(Duration::from_secs(10)), |_| false);
            }
            Err(e) => println!("TSD-INFO {name} spawn for crash=smp: {e}"),
        }
    }
    if k.bootargs().get("crash") == Some("smp-stack") {
        // Manual check of a secondary's stack guard page: unbounded recursion on vCPU 1.
        println!("TSD-INFO {name} deliberate stack overflow on vCPU 1 follows");
        match smp::spawn(
            1,
            |_| {
                let n = recurse(core::hint::black_box(1));
                println!("TSD-INFO selftest recursion on vCPU 1 returned {n}");
            },
            0,
        ) {
            Ok(()) => {
                let _ = k.run_until(k.after(Duration::from_secs(10)), |_| false);
            }
            Err(e) => println!("TSD-INFO {name} spawn for crash=smp-stack: {e}"),
        }
    }
    if k.bootargs().get("crash") == Some("text") {
        println!("TSD-INFO {name} deliberate store to text follows");
        kernel::crash::write_to_text();
    }
    println!("TSD-INFO {name} deliberate data abort at 0x10 follows");
    kernel::crash::data_abort();
}

fn recurse(n: u64) -> u64 {
    let frame = core::hint::black_box([n; 64]);
    if core::hint::black_box(n) == 0 {
        return 0;
    }
    recurse(n + 1).wrapping_add(frame[(n % 64) as usize])
}

fn check_timers(k: &mut Kernel, r: &mut Report) {
    let fired: Rc<RefCell<Vec<(u32, bool)>>> = Rc::new(RefCell::new(Vec::new()));
    let start = k.now();
    for ms in [30u32, 10, 20] {
        let deadline = start.add(k.freq(), Duration::from_millis(ms.into()));
        let f = fired.clone();
        k.add_timer(deadline, move |k| {
            f.borrow_mut().push((ms, k.now() >= deadline))
        });
    }
    let cancelled = {
        let f = fired.clone();
        let id = k.add_timer(start.add(k.freq(), Duration::from_millis(15)), move |_| {
            f.borrow_mut().push((15, false))
        });
        k.cancel_timer(id)
    };
    let done = k.run_until(k.after(Duration::from_secs(2)), |_| {
        fired.borrow().len() >= 3
    });
    let elapsed = k.since(start);
    // A deadline with nothing to do: run_until must return false at (not before) the deadline.
    let t0 = k.now();
    let deadline = t0.add(k.freq(), Duration::from_millis(5));
    let timed_out = !k.run_until(deadline, |_| false) && k.now() >= deadline;
    let order: Vec<u32> = fired.borrow().iter().map(|f| f.0).collect();
    let ok = done
        && cancelled
        && timed_out
        && order == [10, 20, 30]
        && fired.borrow().iter().all(|f| f.1);
    r.check(
        "timer-deadlines",
        ok,
        format_args!("order={order:?} not-early={} cancel={cancelled} run_until-timeout={timed_out} last-fired-after={}us", fired.borrow().iter().all(|f| f.1), elapsed.as_micros()),
    );
}

fn check_clobbers(r: &mut Report) {
    let [x1, x2, x3, x4, x16] = hypercall::probe_clobbers();
    const BEEF: u64 = 0xDEAD_BEEF;
    let debug = x1 == BEEF && x16 == BEEF && (x2, x3, x4) == (2, 3, 4);
    let release = (x1, x2, x3, x4, x16) == (1, 2, 3, 4, 17);
    r.check(
        "hypercall-clobbers",
        debug || release,
        format_args!(
            "{} Xen: after xen_version x1={x1:#x} x2={x2:#x} x3={x3:#x} x4={x4:#x} x16={x16:#x}",
            if debug {
                "debug"
            } else if release {
                "release"
            } else {
                "unexpected"
            }
        ),
    );
}

fn measure_hypercall(k: &mut Kernel) {
    let mut t = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let a = k.now();
        let _ = hypercall::xen_version();
        t.push(k.now().0 - a.0);
    }
    // Back to back, without per-call counter reads.
    let s = k.now();
    for _ in 0..1000 {
        let _ = hypercall::xen_version();
    }
    let per_call = k.freq().duration((k.now().0 - s.0) / 1000).as_nanos();
    let v = hypercall::xen_version().unwrap_or(0);
    println!(
        "TSD-INFO {} measure hypercall xen_version {} back-to-back_ns={per_call} (Xen {}.{})",
        k.name(),
        stats(k, t),
        v >> 16,
        v & 0xffff
    );
}

fn check_loopback(k: &mut Kernel, r: &mut Report) {
    let res = (|| -> Result<(u32, alloc::string::String), XenError> {
        let a = k.evtchn_alloc_unbound(DOMID_SELF)?;
        let b = k.evtchn_bind_interdomain(DOMID_SELF, a)?;
        let got = Rc::new(Cell::new(0u32));
        let g = got.clone();
        k.on_event(b, move |_, _| g.set(g.get() + 1))?;
        let mut t = Vec::new();
        for i in 1..=200u32 {
            let s = k.now();
            k.evtchn_send(a)?;
            if !k.run_until(k.after(Duration::from_secs(1)), |_| got.get() >= i) {
                return Err(XenError::ETIMEDOUT);
            }
            t.push(k.now().0 - s.0);
        }
        let med = stats(k, t);
        // Masked: the event stays pending and is delivered on unmask.
        k.mask_event(b);
        k.evtchn_send(a)?;
        if k.run_until(k.after(Duration::from_millis(50)), |_| got.get() > 200) {
            return Err(XenError::EEXIST); // delivered while masked
        }
        k.unmask_event(b)?;
        if !k.run_until(k.after(Duration::from_secs(1)), |_| got.get() > 200) {
            return Err(XenError::ENODATA); // lost across the mask
        }
        k.evtchn_close(b)?;
        k.evtchn_close(a)?;
        Ok((got.get(), med))
    })();
    match res {
        Ok((n, med)) => {
            r.check(
                "evtchn-loopback",
                n == 201,
                format_args!("upcalls={n} (200 + 1 held while masked, delivered on unmask)"),
            );
            println!(
                "TSD-INFO {} measure evtchn loopback send->handler {med}",
                k.name()
            );
        }
        Err(e) => r.check("evtchn-loopback", false, format_args!("{e}")),
    }
}

fn check_virq(k: &mut Kernel, r: &mut Report) {
    // VIRQ_DEBUG fires only on Xen's debug key, so this checks binding and closing. (Xen labels
    // VIRQ ports unlabeled_t, so FLASK refuses EVTCHNOP_status on them: not used here.)
    use kernel::xenif::abi::virq;
    let res = k
        .evtchn_bind_virq(virq::DEBUG)
        .and_then(|p| k.evtchn_close(p).map(|_| p));
    match res {
        Ok(p) => r.check(
            "evtchn-virq",
            true,
            format_args!("VIRQ_DEBUG bound to port {p} and closed"),
        ),
        Err(e) => r.check(
            "evtchn-virq",
            false,
            format_args!("bind/close VIRQ_DEBUG: {e}"),
        ),
    }
}

/// Grant the peer read access to a page with a pattern; the peer maps it when our first ping
/// arrives (check grant-map in the peer) and is told ref 8, the first non-reserved one.
fn offer_grant(k: &mut Kernel, r: &mut Report) -> Option<(u32, kernel::SharedPage)> {
    let port = k.bootargs().get_u64("peer-port")? as u32;
    let (dom, _) = k.evtchn_remote(port).ok()?;
    let page = kernel::SharedPage::new()?;
    page.write(0, b"TSD-SELFTEST-GRANT");
    match k.grant_access(dom, &page, true) {
        Ok(gref) => {
            r.check(
                "grant-access",
                gref == 8,
                format_args!(
                    "page gfn={:#x} granted read-only to dom {dom} as ref {gref}",
                    page.gfn()
                ),
            );
            Some((gref, page))
        }
        Err(e) => {
            r.check("grant-access", false, format_args!("{e}"));
            None
        }
    }
}

fn check_interdomain(k: &mut Kernel, r: &mut Report) {
    let Some(port) = k.bootargs().get_u64("peer-port").map(|p| p as u32) else {
        r.check(
            "evtchn-interdomain",
            false,
            format_args!("no peer-port= on the command line"),
        );
        return;
    };
    let got = Rc::new(Cell::new(0u32));
    let g = got.clone();
    if let Err(e) = k.on_event(port, move |_, _| g.set(g.get() + 1)) {
        r.check(
            "evtchn-interdomain",
            false,
            format_args!("unmask port {port}: {e}"),
        );
        return;
    }
    // The peer announces itself with one event when it is ready (possibly long before us).
    if !k.run_until(k.after(Duration::from_secs(60)), |_| got.get() >= 1) {
        r.check(
            "evtchn-interdomain",
            false,
            format_args!("no event from the peer on port {port} within 60 s"),
        );
        return;
    }
    let mut t = Vec::new();
    let mut fail = None;
    for _ in 0..100 {
        let want = got.get() + 1;
        let s = k.now();
        if let Err(e) = k.evtchn_send(port) {
            fail = Some(alloc::format!("send: {e}"));
            break;
        }
        if !k.run_until(k.after(Duration::from_secs(5)), |_| got.get() >= want) {
            fail = Some(alloc::format!(
                "no echo within 5 s after {} round trips",
                t.len()
            ));
            break;
        }
        t.push(k.now().0 - s.0);
    }
    let n = t.len();
    let med = stats(k, t);
    match fail {
        None => {
            r.check(
                "evtchn-interdomain",
                true,
                format_args!("port={port} round-trips={n}"),
            );
            println!(
                "TSD-INFO {} measure evtchn interdomain round trip (peer echoes) {med}",
                k.name()
            );
        }
        Some(f) => r.check(
            "evtchn-interdomain",
            false,
            format_args!("port={port}: {f}"),
        ),
    }
}

fn check_foreign(k: &mut Kernel, r: &mut Report) {
    let Some(gfn) = k.bootargs().get_u64("peer-gfn") else {
        r.check(
            "foreign-map",
            false,
            format_args!("no peer-gfn= on the command line"),
        );
        return;
    };
    // The peer is whoever is at the other end of the static channel.
    let port = k.bootargs().get_u64("peer-port").unwrap_or(0) as u32;
    let dom = match k.evtchn_remote(port) {
        Ok((d, _)) => d,
        Err(e) => {
            r.check(
                "foreign-map",
                false,
                format_args!("peer domain from port {port}: {e}"),
            );
            return;
        }
    };
    let mut buf = [0u8; 32];
    match k.map_foreign(dom, gfn) {
        Ok(p) => {
            p.read(0, &mut buf);
            let want_gfn = alloc::format!("{gfn:#x}");
            let ok = &buf[..16] == PATTERN && buf[16..].starts_with(want_gfn.as_bytes());
            let addr = p.addr();
            let un = k.unmap_foreign(p);
            r.check(
                "foreign-map",
                ok && un.is_ok(),
                format_args!(
                    "dom={dom} gfn={gfn:#x} at={addr:#x} read={:?} unmap={un:?}",
                    core::str::from_utf8(&buf)
                        .unwrap_or("<binary>")
                        .trim_end_matches('\0')
                ),
            );
        }
        Err(e) => {
            r.check(
                "foreign-map",
                false,
                format_args!("dom={dom} gfn={gfn:#x}: {e}"),
            );
            return;
        }
    }
    // A batch: the same page twice, then with a frame that is not RAM of the peer (page 0):
    // all or nothing, the typed error names the failing index, the window is whole again.
    let free = k.window_free();
    let two = k.map_foreign_many(dom, &[gfn, gfn]);
    let two_ok = match two {
        Ok(v) => {
            let mut a = [0u8; 16];
            let mut b = [0u8; 16];
            v[0].read(0, &mut a);
            v[1].read(0, &mut b);
            let same = a == *PATTERN && a == b && v[0].addr() != v[1].addr();
            v.into_iter().all(|p| k.unmap_foreign(p).is_ok()) && same
        }
        Err(_) => false,
    };
    let bad = k.map_foreign_many(dom, &[gfn, 0, gfn]);
    let bad_ok = matches!(bad, Err(ForeignMapError::Page { index: 1, .. }));
    r.check(
        "foreign-map-batch",
        two_ok && bad_ok && k.window_free() == free,
        format_args!(
            "two pages ok={two_ok}; with a bad frame: {:?}; window free {} of {free}",
            bad.map(|v| v.len()),
            k.window_free()
        ),
    );

    let mut t = Vec::new();
    for _ in 0..100 {
        let s = k.now();
        match k.map_foreign(dom, gfn) {
            Ok(p) => {
                let _ = k.unmap_foreign(p);
            }
            Err(_) => break,
        }
        t.push(k.now().0 - s.0);
    }
    println!(
        "TSD-INFO {} measure foreign map+unmap of one page {}",
        k.name(),
        stats(k, t)
    );
}

// ---- secondary vCPUs (kernel::smp) ----

/// Increments each vCPU makes at least in the concurrent-counter check; both go on (up to
/// [`SMP_COUNT_LIMIT`]) until each has seen the other's increments between two of its own, so the
/// check also proves the two ran at once (or were at least interleaved by Xen's scheduler) on a
/// busy host.
const SMP_INCREMENTS: u64 = 100_000;
const SMP_COUNT_LIMIT: Duration = Duration::from_secs(10);
static SMP_COUNTER: AtomicU64 = AtomicU64::new(0);
static SMP_READY: AtomicBool = AtomicBool::new(false);
static SMP_GO: AtomicBool = AtomicBool::new(false);
static SMP_STOP: AtomicBool = AtomicBool::new(false);
static SMP_RELEASE: AtomicBool = AtomicBool::new(false);
/// What vCPU 1 saw: its index, its own increments and how often the other vCPU incremented the
/// counter between two of its own (live), the xen_version hypercall's result, whether its heap
/// churn read back what it wrote.
static SMP_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);
static SMP_MINE_1: AtomicU64 = AtomicU64::new(0);
static SMP_INTERLEAVED_1: AtomicU64 = AtomicU64::new(0);
static SMP_XEN_VERSION: AtomicI64 = AtomicI64::new(i64::MIN);
static SMP_HEAP_OK: AtomicBool = AtomicBool::new(false);
static SMP_FLAG: AtomicUsize = AtomicUsize::new(0);
/// Back-to-back restarts in smp-rapid-restart.
const SMP_RAPID: usize = 50;

/// Counts of one vCPU in the counter check.
#[derive(Debug, Default)]
struct Counting {
    /// Own increments.
    mine: u64,
    /// Times the other vCPU incremented between two of our increments.
    interleaved: u64,
    last: Option<u64>,
}

impl Counting {
    /// 1000 increments of the shared counter.
    fn chunk(&mut self) {
        for _ in 0..1000 {
            let prev = SMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            if self.last.is_some_and(|l| prev != l + 1) {
                self.interleaved += 1;
            }
            self.last = Some(prev);
            self.mine += 1;
        }
    }
}

/// Allocate, check and free small boxes (the heap from two vCPUs at once).
fn smp_heap_churn(tag: u8) -> bool {
    let mut ok = true;
    for round in 0..100u8 {
        let v: Vec<alloc::boxed::Box<[u8; 48]>> = (0..32u8)
            .map(|i| alloc::boxed::Box::new([tag ^ i ^ round; 48]))
            .collect();
        ok &= v
            .iter()
            .enumerate()
            .all(|(i, b)| b.iter().all(|&x| x == tag ^ i as u8 ^ round));
    }
    ok
}

/// vCPU 1 in the main check: hypercall, console, wait for the start signal, count until told to
/// stop, churn the heap, print.
fn smp_worker(_: usize) {
    let cpu = smp::current_cpu();
    SMP_CPU.store(cpu, Ordering::Relaxed);
    let v = hypercall::xen_version().map_or(-1, i64::from);
    SMP_XEN_VERSION.store(v, Ordering::Relaxed);
    println!("TSD-INFO selftest smp hello from vCPU {cpu}: xen_version={v:#x}");
    SMP_READY.store(true, Ordering::Release);
    while !SMP_GO.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let mut c = Counting::default();
    while !SMP_STOP.load(Ordering::Acquire) {
        c.chunk();
        SMP_INTERLEAVED_1.store(c.interleaved, Ordering::Relaxed);
    }
    SMP_MINE_1.store(c.mine, Ordering::Relaxed);
    SMP_HEAP_OK.store(smp_heap_churn(0x5a), Ordering::Relaxed);
    for i in 0..10 {
        println!(
            "TSD-INFO selftest smp console vcpu={cpu} line={i} of 10 (both vCPUs print at once)"
        );
    }
}

/// Spin until `cond` holds or `timeout` passes.
fn spin_until(k: &Kernel, timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = k.after(timeout);
    while !cond() {
        if k.now() >= deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

fn check_smp(k: &mut Kernel, r: &mut Report) {
    let n = smp::cpu_count();
    let me = smp::current_cpu();
    r.check(
        "smp-cpu-count",
        n == 2 && me == 0,
        format_args!(
            "cpu_count={n} current_cpu={me} psci conduit={:?} mpidrs={:?}",
            k.dt().psci,
            k.dt().cpus
        ),
    );
    if n < 2 {
        return;
    }

    // Both vCPUs increment one counter at once; vCPU 1 also makes a hypercall and prints.
    // The first spawn takes the stacks from the heap and unmaps their guard pages; a 2 MiB
    // allocation held across it pushes them out of the image's 2 MiB (already mapped by pages)
    // into a 2 MiB block mapping, which the kernel must split into pages while we keep using
    // the heap around it.
    // (In a 4 MiB domain there is no room for it: then the stacks stay near the image.)
    let mut pad: Vec<u8> = Vec::new();
    if pad.try_reserve_exact(2 << 20).is_ok() {
        pad.resize(2 << 20, 0x3c);
    }
    let t0 = k.now();
    let spawned = smp::spawn(1, smp_worker, 0);
    let ready = spawned.is_ok()
        && spin_until(k, Duration::from_secs(5), || {
            SMP_READY.load(Ordering::Acquire)
        });
    let start_us = k.since(t0).as_micros();
    SMP_GO.store(true, Ordering::Release);
    let mut c = Counting::default();
    let limit = k.after(SMP_COUNT_LIMIT);
    loop {
        c.chunk();
        let both_saw = c.interleaved > 0 && SMP_INTERLEAVED_1.load(Ordering::Relaxed) > 0;
        if (c.mine >= SMP_INCREMENTS && both_saw) || k.now() >= limit {
            break;
        }
    }
    SMP_STOP.store(true, Ordering::Release);
    let heap_ok = smp_heap_churn(0xa5);
    for i in 0..10 {
        println!("TSD-INFO selftest smp console vcpu=0 line={i} of 10 (both vCPUs print at once)");
    }
    let done = ready && spin_until(k, Duration::from_secs(20), || !smp::running(1));
    let total = SMP_COUNTER.load(Ordering::Relaxed);
    let (mine1, seen1) = (
        SMP_MINE_1.load(Ordering::Relaxed),
        SMP_INTERLEAVED_1.load(Ordering::Relaxed),
    );
    r.check(
        "smp-spawn-counter",
        done && total == c.mine + mine1
            && mine1 > 0
            && SMP_CPU.load(Ordering::Relaxed) == 1
            && c.interleaved > 0
            && seen1 > 0,
        format_args!(
            "spawn={spawned:?} ready-after={start_us}us finished={done} counter={total} = vCPU0 {} + vCPU1 {mine1} increments; vcpu1-current_cpu={} times the other vCPU incremented between two own: vCPU0={} by vCPU1={seen1}",
            c.mine,
            SMP_CPU.load(Ordering::Relaxed),
            c.interleaved
        ),
    );
    let pad_ok = pad.iter().all(|&b| b == 0x3c);
    let pad_len = pad.len();
    drop(pad);
    let area = smp::stack_area(1);
    r.check(
        "smp-stack-guards",
        smp::stacks_guarded() && pad_ok && area.is_some(),
        format_args!(
            "vCPU 1 stack guards unmapped={} area={:x?} (overflow: crash=smp-stack); {} bytes held across the first spawn intact={pad_ok}",
            smp::stacks_guarded(),
            area,
            pad_len
        ),
    );
    let v0 = hypercall::xen_version().map_or(-1, i64::from);
    let v1 = SMP_XEN_VERSION.load(Ordering::Relaxed);
    r.check(
        "smp-hypercall",
        done && v1 == v0,
        format_args!("xen_version from vCPU 1 = {v1:#x}, from vCPU 0 = {v0:#x}"),
    );
    let (used, _) = k.heap_stats();
    r.check(
        "smp-heap",
        done && heap_ok && SMP_HEAP_OK.load(Ordering::Relaxed),
        format_args!("3200 boxes allocated, checked and freed on each vCPU at once; vCPU0 ok={heap_ok} vCPU1 ok={} heap used now {used}", SMP_HEAP_OK.load(Ordering::Relaxed)),
    );
    if !done {
        return; // vCPU 1 is stuck: the rest cannot work
    }

    // Refusals: no vCPU 2, not the boot vCPU, not a vCPU that is running.
    let e2 = smp::spawn(2, |_| {}, 0);
    let e99 = smp::spawn(99, |_| {}, 0);
    r.check(
        "smp-no-such-cpu",
        e2 == Err(smp::SmpError::NoSuchCpu) && e99 == Err(smp::SmpError::NoSuchCpu),
        format_args!("spawn(2)={e2:?} spawn(99)={e99:?}"),
    );
    let hold = smp::spawn(
        1,
        |_| {
            while !SMP_RELEASE.load(Ordering::Acquire) {
                core::hint::spin_loop();
            }
        },
        0,
    );
    let again = smp::spawn(1, |_| {}, 0);
    let zero = smp::spawn(0, |_| {}, 0);
    let on = smp::powered_on(1);
    SMP_RELEASE.store(true, Ordering::Release);
    let stopped = spin_until(k, Duration::from_secs(5), || !smp::running(1));
    r.check(
        "smp-already-on",
        hold.is_ok()
            && again == Err(smp::SmpError::AlreadyOn)
            && zero == Err(smp::SmpError::AlreadyOn)
            && on == Ok(true)
            && stopped,
        format_args!("spawn(1) while it runs={again:?} spawn(0)={zero:?} (holder spawn={hold:?}, PSCI says on={on:?}, returned after release={stopped})"),
    );

    // Restart at once (the vCPU may still be on its way out: spawn waits for CPU_OFF), then
    // check that the vCPU turns itself off when its function returns, and start it again.
    let t = k.now();
    let quick = smp::spawn(1, |a| SMP_FLAG.store(a, Ordering::Release), 7);
    let quick_ran = quick.is_ok()
        && spin_until(k, Duration::from_secs(5), || {
            SMP_FLAG.load(Ordering::Acquire) == 7
        });
    let quick_us = k.since(t).as_micros();
    let ret = spin_until(k, Duration::from_secs(5), || !smp::running(1));
    let t = k.now();
    let off = ret
        && spin_until(k, Duration::from_secs(5), || {
            smp::powered_on(1) == Ok(false)
        });
    let off_us = k.since(t).as_micros();
    r.check(
        "smp-cpu-off",
        quick_ran && off,
        format_args!("restart right after return={quick:?} ran={quick_ran} in {quick_us}us; after return PSCI AFFINITY_INFO says off={off} after {off_us}us"),
    );
    let mut times = Vec::new();
    let mut res = Ok(());
    for i in 1..=5usize {
        let t = k.now();
        res = smp::spawn(1, |a| SMP_FLAG.store(a, Ordering::Release), 100 + i);
        let want = 100 + i;
        if res.is_err()
            || !spin_until(k, Duration::from_secs(5), || {
                SMP_FLAG.load(Ordering::Acquire) == want
            })
        {
            break;
        }
        times.push(k.now().0 - t.0);
        if !spin_until(k, Duration::from_secs(5), || !smp::running(1)) {
            break;
        }
    }
    let n_ok = times.len();
    r.check(
        "smp-respawn",
        n_ok == 5,
        format_args!(
            "{n_ok} of 5 spawns after return ran (last spawn={res:?}); spawn->running {}",
            stats(k, times)
        ),
    );

    // Rapid restarts: spawn again as soon as the function returned, so most spawns meet the
    // vCPU still in CPU_OFF (the window where Xen already says off but still writes x0).
    let before = smp::stats();
    let mut n_ok = 0;
    let mut res = Ok(());
    for i in 1..=SMP_RAPID {
        let want = 1000 + i;
        res = smp::spawn(1, |a| SMP_FLAG.store(a, Ordering::Release), want);
        if res.is_err()
            || !spin_until(k, Duration::from_secs(5), || {
                SMP_FLAG.load(Ordering::Acquire) == want
            })
            || !spin_until(k, Duration::from_secs(5), || !smp::running(1))
        {
            break;
        }
        n_ok += 1;
    }
    let after = smp::stats();
    r.check(
        "smp-rapid-restart",
        n_ok == SMP_RAPID,
        format_args!(
            "{n_ok} of {SMP_RAPID} back-to-back spawns ran (last spawn={res:?}); {} waited for CPU_OFF to finish, {} entered with x0 clobbered by Xen",
            after.waited_for_off - before.waited_for_off,
            after.context_id_clobbered - before.context_id_clobbered
        ),
    );
}
