//! kernel-selftest-peer: the second domain of the kernel-selftest scenario. It writes a pattern
//! into a reserved page (for the selftest's foreign mapping), announces itself on the static event
//! channel, echoes every event it gets, and checks that the policy denies *it* a foreign mapping
//! of the selftest domain.
//!
//! Command line: `name=peer reserve=ADDR peer-port=N grant-ref=R` (the self-test domain is the
//! remote end of the static channel on port N and grants us a page as ref R).
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

extern crate alloc;

use alloc::rc::Rc;
use core::cell::Cell;
use core::time::Duration;
use kernel::xenif::foreign::ForeignMapError;
use kernel::xenif::XenError;
use kernel::{println, Kernel};

kernel::entry!(main);

fn main(k: &mut Kernel) {
    let name = k.name();
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut check = |c: &str, ok: bool, d: core::fmt::Arguments<'_>| {
        if ok {
            passed += 1
        } else {
            failed += 1
        }
        println!(
            "TSD-CHECK {name} {c} {} {d}",
            if ok { "PASS" } else { "FAIL" }
        );
    };
    check(
        "console",
        true,
        format_args!("backend={}", kernel::console::backend()),
    );

    // The shared page: pattern + its own frame number, which the selftest verifies.
    let page_addr = k
        .bootargs()
        .get("reserve")
        .and_then(kernel::parse_reserve)
        .map(|r| r.base);
    match page_addr.and_then(|a| k.take_reserved(a).map(|p| (a, p))) {
        Some((a, page)) => {
            let text = alloc::format!("TSD-PEER-PATTERN{:#x}", a >> 12);
            page[..text.len()].copy_from_slice(text.as_bytes());
            check(
                "shared-page",
                true,
                format_args!("wrote {text:?} at {a:#x}"),
            );
        }
        None => check(
            "shared-page",
            false,
            format_args!("no usable reserve= page"),
        ),
    }

    // Echo server on the static channel.
    let port = k.bootargs().get_u64("peer-port").map(|p| p as u32);
    let echoes = Rc::new(Cell::new(0u32));
    if let Some(port) = port {
        let e = echoes.clone();
        let reg = k.on_event(port, move |k, p| {
            e.set(e.get() + 1);
            let _ = k.evtchn_send(p);
        });
        let hello = k.evtchn_send(port);
        check(
            "evtchn-announce",
            reg.is_ok() && hello.is_ok(),
            format_args!("port={port} unmask={reg:?} send={hello:?}"),
        );
    } else {
        check(
            "evtchn-announce",
            false,
            format_args!("no peer-port= on the command line"),
        );
    }

    // Denial: the policy lets the selftest map our pages, not us its pages.
    match port.and_then(|p| k.evtchn_remote(p).ok()).map(|(d, _)| d) {
        Some(dom) => match k.map_foreign(dom, 0x40000) {
            Err(
                e @ (ForeignMapError::Page {
                    err: XenError::EACCES,
                    ..
                }
                | ForeignMapError::Batch(XenError::EACCES)),
            ) => check(
                "foreign-map-denied",
                true,
                format_args!("dom={dom} gfn=0x40000: {e}"),
            ),
            Err(e) => check(
                "foreign-map-denied",
                false,
                format_args!("dom={dom}: wrong error {e}"),
            ),
            Ok(p) => {
                let _ = k.unmap_foreign(p);
                check(
                    "foreign-map-denied",
                    false,
                    format_args!("dom={dom}: mapping was allowed"),
                )
            }
        },
        None => check(
            "foreign-map-denied",
            false,
            format_args!("no peer domain (peer-port= and its channel status)"),
        ),
    }

    // Wait for the selftest's first ping, so the interdomain path is checked from this side too.
    let ok = k.run_until(k.after(Duration::from_secs(90)), |_| echoes.get() >= 1);
    check(
        "evtchn-interdomain",
        ok,
        format_args!("echoed={}", echoes.get()),
    );

    // The selftest granted us a page before its first ping: map it read-only, read, unmap.
    let gref = k.bootargs().get_u64("grant-ref").map(|g| g as u32);
    match (
        port.and_then(|p| k.evtchn_remote(p).ok()).map(|(d, _)| d),
        gref,
    ) {
        (Some(dom), Some(gref)) => match k.map_grant(dom, gref, true) {
            Ok(p) => {
                let mut b = [0u8; 18];
                p.read(0, &mut b);
                let un = k.unmap_foreign(p);
                check(
                    "grant-map",
                    &b == b"TSD-SELFTEST-GRANT" && un.is_ok(),
                    format_args!(
                        "dom={dom} ref={gref} read={:?} unmap={un:?}",
                        core::str::from_utf8(&b).unwrap_or("<binary>")
                    ),
                );
            }
            Err(e) => check(
                "grant-map",
                false,
                format_args!("dom={dom} ref={gref}: {e}"),
            ),
        },
        _ => check(
            "grant-map",
            false,
            format_args!("no grant-ref= or peer domain"),
        ),
    }
    println!(
        "TSD-RESULT {name} passed={passed} failed={failed} status={}",
        if failed == 0 { "PASS" } else { "FAIL" }
    );
    // Returning runs the event loop: keep echoing.
}
