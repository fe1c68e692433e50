//! tee-mediator: the mediator domain image (kernel + mediator core + the Xen hook).
//!
//! Boots as the dom0less domain marked `xen,tee-mediator` (created and unpaused before every
//! other domain, FLASK type `tee_mediator_t`), registers its ring with Xen's OP-TEE forwarder
//! (`tee=stubdom`), probes OP-TEE through the secure-call hypercall, then serves the ring
//! forever: see [`stubdom::service`]. Statistics: `TSD-STATS` lines every `stats-ms` when they
//! changed (see [`stubdom::config`]).
//!
//! Command line: `name=mediator guests=DOMID:NAME:LABEL,... stats-ms=N notif=0|1`.
#![no_std]
#![no_main]

extern crate alloc;

use core::time::Duration;
use kernel::xenif::abi::{DomId, DOMID_SELF};
use kernel::xenif::hook::call::{tee_stubdom_op, Arg};
use kernel::xenif::hook::{op, DomainArg, Pin, Register, Respond, SecureCall};
use kernel::xenif::XenResult;
use kernel::{println, ForeignPage, Kernel};
use stubdom::config::parse_guests;
use stubdom::ring::{RingMem, Shared};
use stubdom::{Hook, Server, ShadowStore};

kernel::entry!(main);

/// The ring page shared with Xen.
static RING: RingMem = RingMem::new();

/// Shadow pages at most (the core needs one per in-flight call plus page lists and RPC
/// arguments; OP-TEE has a handful of threads).
const MAX_SHADOW_PAGES: usize = 1024;

fn hc<T: Arg>(cmd: u32, mut arg: T) -> (XenResult<u64>, T) {
    let r = tee_stubdom_op(cmd, &mut arg);
    (r, arg)
}

/// Xen through hypercalls and the kernel's foreign window.
struct Xen<'k> {
    k: &'k mut Kernel,
}

fn dom_arg(domid: DomId) -> DomainArg {
    DomainArg {
        domid,
        ..DomainArg::default()
    }
}

impl Hook for Xen<'_> {
    type Page = ForeignPage;

    fn respond(&mut self, seq: u64, domid: DomId, vcpu: u32, x: [u64; 8]) -> XenResult<()> {
        let a = Respond {
            seq,
            domid,
            pad: 0,
            vcpu,
            x,
        };
        hc(op::RESPOND, a).0.map(|_| ())
    }
    fn pin(&mut self, domid: DomId, gfn: u64) -> XenResult<u64> {
        let (r, a) = hc(
            op::PIN,
            Pin {
                domid,
                gfn,
                ..Pin::default()
            },
        );
        r.map(|_| a.maddr)
    }
    fn unpin(&mut self, domid: DomId, gfn: u64) -> XenResult<()> {
        let a = Pin {
            domid,
            gfn,
            ..Pin::default()
        };
        hc(op::UNPIN, a).0.map(|_| ())
    }
    fn secure_call(&mut self, x: [u64; 8]) -> XenResult<[u64; 8]> {
        let (r, a) = hc(op::SECURE_CALL, SecureCall { x });
        r.map(|_| a.x)
    }
    fn release(&mut self, domid: DomId) -> XenResult<()> {
        hc(op::RELEASE, dom_arg(domid)).0.map(|_| ())
    }
    fn notify(&mut self, domid: DomId) -> XenResult<()> {
        hc(op::NOTIFY, dom_arg(domid)).0.map(|_| ())
    }
    fn map(&mut self, domid: DomId, gfn: u64) -> XenResult<ForeignPage> {
        self.k
            .map_foreign(domid, gfn)
            .map_err(|_| kernel::xenif::XenError::EFAULT)
    }
    fn read_page(&self, page: &ForeignPage, off: usize, buf: &mut [u8]) {
        page.read(off, buf);
    }
    fn write_page(&self, page: &ForeignPage, off: usize, data: &[u8]) {
        page.write(off, data);
    }
    fn unmap(&mut self, page: ForeignPage) {
        let _ = self.k.unmap_foreign(page);
    }
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let guests = parse_guests(args.get("guests").unwrap_or(""));
    let stats_ms = args.get_u64("stats-ms").unwrap_or(2000);
    let notif = args.get_u64("notif").unwrap_or(0) != 0;

    let gfn = RING.gfn();
    let (res, reg) = hc(
        op::REGISTER,
        Register {
            ring_gfn: gfn,
            ..Register::default()
        },
    );
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
    let server = Server::probe(
        name,
        &mut Xen { k },
        &mut shadow,
        mediator::Config::default(),
        guests,
        notif,
    );
    let mut server = match server {
        Ok(s) => s,
        Err(e) => {
            println!("TSD-RESULT {name} passed=0 failed=1 reason=probe:{e:?} status=FAIL");
            return;
        }
    };
    println!(
        "TSD-INFO {name} OP-TEE probed: {} threads; serving (stats every {stats_ms} ms, async notifications {})",
        server.mediator().threads(),
        if notif { "on" } else { "off" }
    );
    println!("TSD-RESULT {name} passed=1 failed=0 status=PASS");

    let mut out = |a: core::fmt::Arguments<'_>| println!("{a}");
    let mut next_stats = k.after(Duration::from_millis(stats_ms.max(100)));
    loop {
        server.serve(&mut Xen { k }, &mut shadow, Shared(&RING), &mut out);
        if stats_ms > 0 && k.now() >= next_stats {
            server.print_stats(false, &mut out);
            next_stats = k.after(Duration::from_millis(stats_ms));
        }
        // Look at the ring at least every 100 ms besides the event, in case a notification was
        // lost (Xen also re-notifies while requests stay unacknowledged).
        let t = k.after(Duration::from_millis(100));
        k.poll(Some(t));
    }
}
