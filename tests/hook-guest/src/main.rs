//! hook-guest: the guest of the Xen hook self-test (scenario `hook-selftest`) and of the fast-call
//! round-trip measurement (`hook-bench-stubdom`, `hook-bench-optee`).
//!
//! `role=tee` (a labelled TEE guest): its first OP-TEE call is issued before the mediator has
//! registered and must wait, then get OP-TEE's real answer; OP-TEE's fast calls answer through
//! the mediator; the hook's mediator-only hypercalls refuse it; Xen's pin count for it is
//! observable; with `crash=1` it then makes the mediator crash with a call pending, and checks that
//! this call and a new one fail with OP-TEE's ENOTAVAIL within a bounded time, and that Xen has
//! dropped every pin (not before `crash-after-ms` since boot). Its `/firmware/optee` interrupt
//! (hv-patches 0007) is raised by the mediator on request and must reach its handler within 2 s.
//! `role=plain` (no TEE permission): its TEE call gets "unknown function"; with `notify-wait-ms=N` it also checks that no notification
//! interrupt arrives in its first N ms (the mediator's attempt to raise one is refused).
//! `bench=N`: N CALLS_UID round trips, median and minimum reported as `TSD-INFO ... rtt`.
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use hook_guest::{is_optee_uid, median_min, words_are, OPTEE_MSG_REVISION, OPTEE_OS_UUID};
use hook_mediator::{FID_TEST_CRASH, FID_TEST_EXECUTE, FID_TEST_NOTIFY, FID_TEST_PIN};
use kernel::xenif::abi::DOMID_SELF;
use kernel::xenif::hook::call::{smccc_hvc, tee_stubdom_op};
use kernel::xenif::hook::{op, DomainArg, Pin, Query, Register, Respond, SecureCall, Q_TEE_KNOWN};
use kernel::xenif::XenError;
use kernel::{println, Kernel};
use mediator::abi::{ret, smc};

use kernel::report::Report;

kernel::entry!(main);

/// A page of our RAM for the mediator to pin.
#[repr(C, align(4096))]
struct PinPage([u8; 4096]);
static PIN_PAGE: PinPage = PinPage([0; 4096]);

/// Notification interrupts taken (counted by the handler, in thread context).
static NOTIFS: AtomicU32 = AtomicU32::new(0);

/// Register a counting handler for the `/firmware/optee` interrupt, if the device tree names
/// one. Returns a description for check details.
fn watch_notifications(k: &mut Kernel) -> alloc::string::String {
    match k.dt().optee_interrupt {
        None => "no /firmware/optee interrupt".into(),
        Some(irq) => match k.on_spi(irq, |_, _| {
            NOTIFS.fetch_add(1, Ordering::Relaxed);
        }) {
            Ok(_) => alloc::format!("intid={} {:?}", irq.intid, irq.trigger),
            Err(e) => alloc::format!("intid={} on_spi: {e:?}", irq.intid),
        },
    }
}

/// `DOMID_INVALID` (`public/xen.h`): the query's "no mediator".
const DOMID_INVALID: u32 = 0x7FF4;

fn call(fid: u32, x1: u64) -> [u64; 8] {
    smccc_hvc([u64::from(fid), x1, 0, 0, 0, 0, 0, 0])
}

/// A call and how long it took.
fn timed(k: &Kernel, fid: u32, x1: u64) -> ([u64; 8], Duration) {
    let t = k.now();
    let r = call(fid, x1);
    (r, k.since(t))
}

fn is_perm(r: Result<u64, XenError>) -> bool {
    matches!(r, Err(XenError::EPERM) | Err(XenError::EACCES))
}

fn query() -> (Result<u64, XenError>, Query) {
    let mut q = Query {
        domid: DOMID_SELF,
        ..Query::default()
    };
    (tee_stubdom_op(op::QUERY, &mut q), q)
}

fn fast_calls(r: &mut Report, k: &Kernel) {
    let (x, t) = timed(k, smc::CALLS_UID, 0);
    r.check(
        "early-call-waits-then-succeeds",
        is_optee_uid(&x) && t >= Duration::from_millis(100),
        format_args!("waited_ms={} uid={:x?}", t.as_millis(), &x[..4]),
    );
    let x = call(smc::CALLS_UID, 0);
    r.check(
        "calls-uid",
        is_optee_uid(&x),
        format_args!("{:x?}", &x[..4]),
    );
    let x = call(smc::CALLS_REVISION, 0);
    r.check(
        "calls-revision",
        (x[0], x[1]) == OPTEE_MSG_REVISION,
        format_args!("{}.{}", x[0], x[1]),
    );
    let x = call(smc::GET_OS_UUID, 0);
    r.check(
        "os-uuid",
        words_are(&x, &OPTEE_OS_UUID),
        format_args!("{:x?}", &x[..4]),
    );
    let x = call(smc::GET_OS_REVISION, 0);
    r.check(
        "os-revision",
        x[0] == 4,
        format_args!("{}.{} build {:#x}", x[0], x[1], x[2]),
    );
    // hv-patches 0013: this vCPU makes the call on the mediator's word, with our own client ID
    // whatever the mediator claims in x7 (3: plain's, which it may not mediate); Xen refuses
    // VM_* and anything outside OP-TEE's function IDs there.
    let execute = |fid: u32| {
        smccc_hvc([
            u64::from(FID_TEST_EXECUTE),
            u64::from(fid),
            0,
            3,
            0,
            0,
            0,
            0,
        ])
    };
    let x = execute(smc::CALLS_UID);
    r.check(
        "execute-on-caller",
        is_optee_uid(&x),
        format_args!("{:x?}", &x[..4]),
    );
    let v = execute(smc::VM_CREATED);
    let p = execute(0x8400_0000);
    r.check(
        "execute-refused-for-vm-and-non-optee",
        v[..2] == [ret::EBADCMD, 1] && p[..2] == [ret::EBADCMD, 1],
        format_args!("VM_CREATED {:x?} PSCI_VERSION {:x?}", &v[..2], &p[..2]),
    );
}

fn not_mediator(r: &mut Report) {
    let mut reg = Register {
        ring_gfn: 0x40000,
        ..Register::default()
    };
    let a = tee_stubdom_op(op::REGISTER, &mut reg);
    let mut pin = Pin {
        domid: DOMID_SELF,
        gfn: 0x40000,
        ..Pin::default()
    };
    let b = tee_stubdom_op(op::PIN, &mut pin);
    let mut rsp = Respond::default();
    let c = tee_stubdom_op(op::RESPOND, &mut rsp);
    let mut sc = SecureCall {
        x: [u64::from(smc::CALLS_UID), 0, 0, 0, 0, 0, 0, 0],
    };
    let d = tee_stubdom_op(op::SECURE_CALL, &mut sc);
    let mut dom = DomainArg::default();
    let e = tee_stubdom_op(op::RELEASE, &mut dom);
    r.check(
        "non-mediator-ops-refused",
        is_perm(a) && is_perm(b) && is_perm(c) && is_perm(d) && is_perm(e),
        format_args!("register {a:?} pin {b:?} respond {c:?} secure-call {d:?} release {e:?}"),
    );
}

/// (median, min, max, total) in ns of `n` CALLS_UID round trips.
fn bench(k: &Kernel, n: usize) -> (u64, u64, u64, u64) {
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let (_, t) = timed(k, smc::CALLS_UID, 0);
        ns.push(t.as_nanos() as u64);
    }
    let total = ns.iter().sum();
    let (med, min) = median_min(&mut ns);
    (med, min, ns.last().copied().unwrap_or(0), total)
}

fn crash_phase(r: &mut Report, k: &Kernel, timeout: Duration) {
    let gfn = (&PIN_PAGE as *const PinPage as usize as u64) >> 12;
    let x = call(FID_TEST_PIN, gfn);
    let (q, qv) = query();
    r.check(
        "pin-counted-by-xen",
        x[0] == ret::OK && q.is_ok() && qv.nr_pinned == 1,
        format_args!("pin {:x?} nr_pinned={} {q:?}", &x[..2], qv.nr_pinned),
    );
    // The mediator crashes with this call pending; Xen's watchdog notices within 50 ms and fails
    // the calls the dead mediator had taken at once (hv-patches 0005: never replayed to a new
    // mediator). The bound is the pre-registration timeout plus a margin, an upper bound only.
    let bound = timeout + Duration::from_millis(1000);
    let (x, t) = timed(k, FID_TEST_CRASH, 0);
    r.check(
        "pending-call-fails-when-mediator-crashes",
        x[0] == ret::ENOTAVAIL && t < bound,
        format_args!("x0={:#x} after_ms={}", x[0], t.as_millis()),
    );
    let (x, t) = timed(k, smc::CALLS_UID, 0);
    r.check(
        "new-call-fails-without-mediator",
        x[0] == ret::ENOTAVAIL && t < bound,
        format_args!("x0={:#x} after_ms={}", x[0], t.as_millis()),
    );
    let (q, qv) = query();
    r.check(
        "pins-released-after-crash",
        q.is_ok() && qv.nr_pinned == 0 && qv.mediator == DOMID_INVALID,
        format_args!(
            "nr_pinned={} mediator={:#x} {q:?}",
            qv.nr_pinned, qv.mediator
        ),
    );
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let role = args.get("role").unwrap_or("tee");
    let n = args.get_u64("bench").unwrap_or(0) as usize;
    let crash = args.get("crash") == Some("1");
    let timeout = Duration::from_millis(args.get_u64("timeout-ms").unwrap_or(1500));
    let mut r = Report {
        name,
        passed: 0,
        failed: 0,
    };

    // Before any call: the mediator may raise the interrupt early (its own checks do); such an
    // interrupt is taken by the first loop turn and counted before the request below.
    let watch = watch_notifications(k);
    match role {
        "plain" => {
            let x = call(smc::CALLS_UID, 0);
            r.check(
                "unlabelled-gets-unknown-function",
                x[0] == mediator::abi::SMCCC_UNKNOWN_FUNCTION,
                format_args!("x0={:#x}", x[0]),
            );
        }
        "bench" => {
            // Any mediator (tee=optee or tee=stubdom): only OP-TEE's answer and the timing.
            let x = call(smc::CALLS_UID, 0);
            r.check(
                "calls-uid",
                is_optee_uid(&x),
                format_args!("{:x?}", &x[..4]),
            );
        }
        _ => {
            fast_calls(&mut r, k);
            not_mediator(&mut r);
            let (q, qv) = query();
            r.check(
                "query-self",
                q.is_ok() && qv.nr_pinned == 0 && qv.flags & Q_TEE_KNOWN != 0,
                format_args!(
                    "{q:?} flags={:#x} nr_pinned={} mediator={}",
                    qv.flags, qv.nr_pinned, qv.mediator
                ),
            );
        }
    }
    if n > 0 {
        let (med, min, max, total) = bench(k, n);
        println!(
            "TSD-INFO {name} rtt fast-call CALLS_UID median_us={} min_us={} max_us={} mean_us={} n={n}",
            med / 1000,
            min / 1000,
            max / 1000,
            total / 1000 / n as u64
        );
    }
    if role == "tee" {
        k.sleep(Duration::from_millis(20));
        let before = NOTIFS.load(Ordering::Relaxed);
        let t = k.now();
        let x = call(FID_TEST_NOTIFY, 0);
        r.check(
            "mediator-raises-notification",
            x[0] == ret::OK,
            format_args!("x0={:#x} x1={}", x[0], x[1]),
        );
        let got = k.run_until(k.after(Duration::from_secs(2)), |_| {
            NOTIFS.load(Ordering::Relaxed) > before
        });
        r.check(
            "notification-irq-received",
            got && k.dt().optee_interrupt.is_some(),
            format_args!(
                "{watch} after_us={} taken={} before_request={before}",
                k.since(t).as_micros(),
                NOTIFS.load(Ordering::Relaxed)
            ),
        );
    }
    if let (Some(ms), "plain") = (args.get_u64("notify-wait-ms"), role) {
        let end = k
            .boot_stats()
            .t_entry
            .add(k.freq(), Duration::from_millis(ms));
        k.run_until(end, |_| false);
        let n = NOTIFS.load(Ordering::Relaxed);
        r.check(
            "notification-irq-not-received",
            n == 0,
            format_args!("{watch} taken={n} in the first {ms} ms"),
        );
    }
    if role == "tee" && crash {
        // `crash-after-ms`: give the mediator's own checks time to finish (its OP-TEE
        // notification check waits for OP-TEE's watchdog, about a second) before it crashes.
        let start = Duration::from_millis(args.get_u64("crash-after-ms").unwrap_or(0));
        let end = k.boot_stats().t_entry.add(k.freq(), start);
        k.run_until(end, |_| false);
        crash_phase(&mut r, k, timeout);
    }
    println!(
        "TSD-RESULT {name} passed={} failed={} status={}",
        r.passed,
        r.failed,
        if r.failed == 0 { "PASS" } else { "FAIL" }
    );
}
