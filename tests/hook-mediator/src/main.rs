//! hook-mediator: the minimal mediator of the Xen hook self-test (scenario `hook-selftest`).
//!
//! Registers with Xen's OP-TEE forwarder after `delay-ms` (so that a guest's early call has to
//! wait), serves the ring (VM_CREATED / VM_DESTROYED on lifecycle requests, OP-TEE fast calls
//! forwarded with the guest's client ID, the test-only functions of [`hook_mediator`], among
//! them a fast call the guest's own vCPU makes on our word, hv-patches 0013's EXECUTE, whose
//! RESULT we pass on), and checks the hook's refusals towards itself: no pin or map of a non-TEE
//! guest, no answer to a call that is not pending nor with an unknown flag, no secure call
//! outside the Trusted OS range, no second VM_CREATED.
//!
//! OP-TEE's notification interrupt (the SPI that registration names, 219 on QEMU virt) gets a
//! handler that fetches the pending value (`OPTEE_SMC_GET_ASYNC_NOTIF_VALUE`) of the guest for
//! which the self-checks enabled asynchronous notifications (`OPTEE_SMC_ENABLE_ASYNC_NOTIF` with
//! its client ID): OP-TEE's embedded test watchdog (`core/tests/notif_test_wd.c`, built into
//! Debian's OP-TEE) then raises the interrupt once a second with `NOTIF_VALUE_DO_BOTTOM_HALF`.
//! The bottom half itself (a yielding `OPTEE_MSG_CMD_DO_BOTTOM_HALF`) is not run, so OP-TEE
//! counts timeouts on its secure console.
//!
//! Command line: `name=mediator delay-ms=N guest=DOMID plain=DOMID` (the labelled TEE guest and
//! the unlabelled one); `checks=0` skips the self-checks; `release=0` plays a hung mediator that
//! never answers DESTROYED.
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use hook_mediator::{decide, execute_answer, filter_answer, vm_call, Action};
use kernel::xenif::abi::{DomId, DOMID_SELF};
use kernel::xenif::hook::call::{op as hc, pin, secure_call};
use kernel::xenif::hook::shared::{RingMem, Shared};
use kernel::xenif::hook::{
    op, req, BackRing, DomainArg, Register, Request, Respond, F_TEE_KNOWN, RESPOND_DIRECT_INTR,
    RESPOND_EXECUTE, RESPOND_WAIT,
};
use kernel::xenif::XenError;
use kernel::{println, GicIrq, Kernel, Trigger};
use mediator::abi::{ret, smc};

use kernel::report::Report;

kernel::entry!(main);

/// The ring page shared with Xen (`xenif::hook::shared`).
static RING: RingMem = RingMem::new();

/// OP-TEE notification interrupts taken.
static OPTEE_IRQS: AtomicU32 = AtomicU32::new(0);
/// Client ID whose notification values the handler fetches (0: none).
static ASYNC_CLIENT: AtomicU64 = AtomicU64::new(0);
/// The last GET_ASYNC_NOTIF_VALUE answer: value (a1) << 32 | flags (a2); `u64::MAX` if none.
static ASYNC_VALUE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Take OP-TEE's notification interrupt: fetch the notified client's value.
fn watch_optee_notifications(k: &mut Kernel, notif_irq: u32) {
    if notif_irq == 0 {
        return;
    }
    // OP-TEE names it edge rising (its /firmware/optee node); Xen configured the physical one.
    let irq = GicIrq {
        intid: notif_irq,
        trigger: Trigger::Edge,
    };
    let r = k.on_spi(irq, |_, _| {
        OPTEE_IRQS.fetch_add(1, Ordering::Relaxed);
        let client = ASYNC_CLIENT.load(Ordering::Relaxed);
        if client != 0 {
            let mut x = [0; 8];
            x[0] = u64::from(smc::GET_ASYNC_NOTIF_VALUE);
            x[7] = client;
            if let Ok(a) = secure_call(x) {
                if a[0] == ret::OK {
                    ASYNC_VALUE.store((a[1] << 32) | (a[2] & 0xffff_ffff), Ordering::Relaxed);
                }
            }
        }
    });
    if let Err(e) = r {
        println!(
            "TSD-INFO {} notification interrupt {notif_irq}: {e:?}",
            k.name()
        );
    }
}

struct State {
    name: &'static str,
    ring: BackRing,
    page: Shared<'static>,
    calls: u64,
    /// `release=0`: ignore DESTROYED (a hung mediator), so that Xen must finish on its own.
    release: bool,
}

/// Drain the ring until it is empty after the final check (`RING_FINAL_CHECK_FOR_REQUESTS`).
fn serve(st: &mut State) {
    loop {
        while let Some(rq) = st.ring.next_request(&st.page) {
            handle(st, &rq);
        }
        st.ring.push_responses(&st.page);
        if !st.ring.final_check(&st.page) {
            return;
        }
    }
}

fn handle(st: &mut State, rq: &Request) {
    let name = st.name;
    match rq.kind {
        req::CREATED => {
            if rq.flags & F_TEE_KNOWN != 0 {
                println!("TSD-INFO {name} dom{} is known to OP-TEE already", rq.domid);
                return;
            }
            let r = secure_call(vm_call(true, rq.domid));
            println!(
                "TSD-INFO {name} VM_CREATED dom{}: {:x?}",
                rq.domid,
                r.map(|x| x[0])
            );
        }
        req::DESTROYED if !st.release => {
            println!(
                "TSD-INFO {name} ignoring DESTROYED of dom{} (release=0)",
                rq.domid
            );
        }
        req::DESTROYED => {
            let r = secure_call(vm_call(false, rq.domid));
            let (rel, _) = hc(
                op::RELEASE,
                DomainArg {
                    domid: rq.domid,
                    ..DomainArg::default()
                },
            );
            println!(
                "TSD-INFO {name} VM_DESTROYED dom{}: {:x?}, release {rel:?}",
                rq.domid,
                r.map(|x| x[0])
            );
        }
        req::RESULT => respond(st, rq, 0, execute_answer(&rq.x, rq.status)),
        req::CALL => {
            st.calls += 1;
            let answer = match decide(rq.domid, &rq.x) {
                Action::Forward(f) => secure_call(f)
                    .map_or([ret::ENOTAVAIL, 0, 0, 0, 0, 0, 0, 0], |a| {
                        filter_answer(f[0] as u32, a)
                    }),
                Action::Answer(a) => a,
                Action::TestPin(gfn) => match pin(op::PIN, rq.domid, gfn) {
                    Ok(maddr) => [ret::OK, maddr, 0, 0, 0, 0, 0, 0],
                    Err(e) => [ret::EBADADDR, e.0 as u64, 0, 0, 0, 0, 0, 0],
                },
                Action::TestNotify => {
                    let (r, _) = hc(
                        op::NOTIFY,
                        DomainArg {
                            domid: rq.domid,
                            ..DomainArg::default()
                        },
                    );
                    match r {
                        Ok(_) => [ret::OK, 0, 0, 0, 0, 0, 0, 0],
                        Err(e) => [ret::EBADCMD, e.0 as u64, 0, 0, 0, 0, 0, 0],
                    }
                }
                Action::TestCrash => {
                    println!(
                        "TSD-INFO {name} crashing on purpose with dom{}'s call pending",
                        rq.domid
                    );
                    kernel::crash::data_abort();
                }
                Action::TestExecute(x) => return respond(st, rq, RESPOND_EXECUTE, x),
            };
            respond(st, rq, 0, answer);
        }
        k => println!("TSD-INFO {name} unknown request type {k}"),
    }
}

/// Answers the call of `rq` with `x` (`flags` 0) or has its vCPU execute `x` (`RESPOND_EXECUTE`).
fn respond(st: &State, rq: &Request, flags: u16, x: [u64; 8]) {
    let (r, _) = hc(
        op::RESPOND,
        Respond {
            seq: rq.seq,
            domid: rq.domid,
            flags,
            vcpu: rq.vcpu,
            x,
        },
    );
    if let Err(e) = r {
        println!(
            "TSD-INFO {} respond to dom{} seq {}: {e:?}",
            st.name, rq.domid, rq.seq
        );
    }
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let delay = args.get_u64("delay-ms").unwrap_or(0);
    let guest = args.get_u64("guest").unwrap_or(2) as DomId;
    let plain = args.get_u64("plain").unwrap_or(3) as DomId;
    let mut r = Report {
        name,
        passed: 0,
        failed: 0,
    };

    println!("TSD-INFO {name} registering with the forwarder in {delay} ms");
    k.sleep(Duration::from_millis(delay));
    let gfn = RING.gfn();
    let (res, reg) = hc(
        op::REGISTER,
        Register {
            ring_gfn: gfn,
            ..Register::default()
        },
    );
    r.check(
        "register",
        res.is_ok(),
        format_args!(
            "{res:?} ring_gfn={gfn:#x} port={} replayed={} notif_irq={}",
            reg.port, reg.nr_replayed, reg.notif_irq
        ),
    );
    let bound = res.and_then(|_| k.evtchn_bind_interdomain(DOMID_SELF, reg.port));
    if let Ok(local) = bound {
        let _ = k.on_event(local, |_, _| {});
    }
    r.check(
        "bind-event-channel",
        bound.is_ok(),
        format_args!("{bound:?}"),
    );
    let mut st = State {
        name,
        ring: BackRing::new(),
        page: Shared(&RING),
        calls: 0,
        release: args.get("release") != Some("0"),
    };
    watch_optee_notifications(k, reg.notif_irq);
    // The replayed CREATED requests and the calls that waited for us.
    serve(&mut st);
    if args.get("checks") != Some("0") {
        // Start OP-TEE's notifications first: its watchdog fires a second later.
        let t = k.now();
        let client = hook_mediator::client_id(guest);
        let mut x = [0; 8];
        x[0] = u64::from(smc::ENABLE_ASYNC_NOTIF);
        x[7] = client;
        let enabled = secure_call(x);
        ASYNC_CLIENT.store(client, Ordering::Relaxed);
        checks(k, &mut r, gfn, guest, plain, reg.notif_irq);
        let got = k.run_until(k.after(Duration::from_secs(3)), |_| {
            serve(&mut st);
            OPTEE_IRQS.load(Ordering::Relaxed) > 0
        });
        let v = ASYNC_VALUE.load(Ordering::Relaxed);
        r.check(
            "optee-notification-irq-received",
            got && enabled.as_ref().is_ok_and(|a| a[0] == ret::OK) && v != u64::MAX,
            format_args!(
                "enable dom{guest}: {:x?}; SPI {} taken={} after_ms={}; value={} flags={:#x}",
                enabled.map(|a| a[0]),
                reg.notif_irq,
                OPTEE_IRQS.load(Ordering::Relaxed),
                k.since(t).as_millis(),
                v >> 32,
                v & 0xffff_ffff
            ),
        );
    }
    println!(
        "TSD-RESULT {name} passed={} failed={} status={}",
        r.passed,
        r.failed,
        if r.failed == 0 { "PASS" } else { "FAIL" }
    );
    serve_forever(k, st)
}

/// The hook's refusals towards the mediator itself, and its notification plumbing.
fn checks(k: &mut Kernel, r: &mut Report, gfn: u64, guest: DomId, plain: DomId, notif_irq: u32) {
    r.check(
        "notification-irq-routed",
        notif_irq == 219,
        format_args!("OP-TEE's SPI {} (219 on QEMU virt)", notif_irq),
    );
    let p = pin(op::PIN, plain, 0x40000);
    r.check(
        "pin-non-tee-guest-denied",
        matches!(p, Err(XenError::EACCES) | Err(XenError::EPERM)),
        format_args!("dom{plain}: {p:x?}"),
    );
    let m = k.map_foreign(plain, 0x40000);
    let denied = m.is_err();
    let detail = alloc::format!("dom{plain}: {:?}", m.as_ref().err());
    if let Ok(page) = m {
        let _ = k.unmap_foreign(page);
    }
    r.check("map-non-tee-guest-denied", denied, format_args!("{detail}"));
    let m = k.map_foreign(guest, 0x40000);
    let mapped = m.is_ok();
    let detail = alloc::format!("dom{guest}: {:?}", m.as_ref().err());
    if let Ok(page) = m {
        let _ = k.unmap_foreign(page);
    }
    r.check("map-tee-guest", mapped, format_args!("{detail}"));
    let p = pin(op::PIN, guest, 0x40000);
    let u1 = pin(op::UNPIN, guest, 0x40000);
    let u2 = pin(op::UNPIN, guest, 0x40000);
    r.check(
        "pin-unpin-tee-guest",
        matches!(p, Ok(m) if m != 0) && u1.is_ok() && u2 == Err(XenError::ENOENT),
        format_args!("pin {p:x?} unpin {u1:?} unpin-again {u2:?}"),
    );
    let p = pin(op::PIN, DOMID_SELF, gfn);
    let u = pin(op::UNPIN, DOMID_SELF, gfn);
    r.check(
        "pin-own-page",
        p.is_ok() && u.is_ok(),
        format_args!("{p:x?} {u:?}"),
    );
    let (res, _) = hc(
        op::RESPOND,
        Respond {
            seq: u64::MAX,
            domid: guest,
            flags: 0,
            vcpu: 0,
            x: [0; 8],
        },
    );
    r.check(
        "respond-unmatched-rejected",
        res == Err(XenError::ENOENT),
        format_args!("{res:?}"),
    );
    // An unknown flag, and the straight path for foreign interrupts without an EXECUTE.
    let flagged = |flags: u16| {
        hc(
            op::RESPOND,
            Respond {
                seq: u64::MAX,
                domid: guest,
                flags,
                vcpu: 0,
                x: [0; 8],
            },
        )
        .0
    };
    let unknown = flagged(RESPOND_WAIT << 1);
    let alone = flagged(RESPOND_DIRECT_INTR);
    let waiting = flagged(RESPOND_DIRECT_INTR | RESPOND_WAIT);
    r.check(
        "respond-unknown-flag-rejected",
        unknown == Err(XenError::EINVAL)
            && alone == Err(XenError::EINVAL)
            && waiting == Err(XenError::EINVAL),
        format_args!("unknown {unknown:?}, DIRECT_INTR alone {alone:?}, with WAIT {waiting:?}"),
    );
    // A refused answer does not wait (were it to block, no event would come to end it).
    let refused = flagged(RESPOND_WAIT);
    r.check(
        "respond-wait-refused-returns",
        refused == Err(XenError::ENOENT),
        format_args!("{refused:?}"),
    );
    let res = secure_call([0x8400_0000, 0, 0, 0, 0, 0, 0, 0]);
    r.check(
        "secure-call-non-trusted-os-rejected",
        res == Err(XenError::EPERM),
        format_args!("PSCI_VERSION: {res:x?}"),
    );
    let res = secure_call(vm_call(true, guest));
    r.check(
        "second-vm-created-rejected",
        res == Err(XenError::EEXIST),
        format_args!("{res:x?}"),
    );
    let res = secure_call([
        u64::from(mediator::abi::smc::CALLS_UID),
        0,
        0,
        0,
        0,
        0,
        0,
        0x7000,
    ]);
    r.check(
        "secure-call-unknown-client-rejected",
        res == Err(XenError::ESRCH),
        format_args!("{res:x?}"),
    );
    let notify = |domid: DomId| {
        hc(
            op::NOTIFY,
            DomainArg {
                domid,
                ..DomainArg::default()
            },
        )
        .0
    };
    let a = notify(guest);
    let b = notify(plain);
    r.check(
        "notify-tee-guest",
        a.is_ok() && matches!(b, Err(XenError::EACCES) | Err(XenError::EPERM)),
        format_args!("dom{guest} (its /firmware/optee interrupt): {a:?}, dom{plain}: {b:?}"),
    );
}

fn serve_forever(k: &mut Kernel, mut st: State) -> ! {
    // Serve on every wake-up; look at the ring at least every 100 ms besides, in case a
    // notification was lost (Xen also re-notifies while requests stay unacknowledged).
    loop {
        serve(&mut st);
        let t = k.after(Duration::from_millis(100));
        k.poll(Some(t));
    }
}
