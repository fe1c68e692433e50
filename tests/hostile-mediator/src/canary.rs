//! hostile-canary: an ordinary guest next to the hostile mediator (scenario `hostile-mediator`).
//!
//! Fills a page with [`hostile_mediator::canary_byte`], grants it read-only to the mediator (the
//! remote end of its static event channel) as ref 8, so that the mediator learns the page's
//! machine address from the grant map (`dev_bus_addr`), and announces itself with an event. It
//! then waits for the mediator's "attacks done" event and checks that the page is unchanged, also
//! looking at it on every wake-up in between.
//!
//! Command line: `name=canary peer-port=N wait-ms=MS`.
#![no_std]
#![no_main]
// STYLE.md rule 1: an image uses the kernel's and xenif's safe APIs only.
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use hostile_mediator::canary_byte;
use kernel::report::Report;
use kernel::{println, Kernel, SharedPage};

kernel::entry!(main);

/// Events from the mediator.
static EVENTS: AtomicU32 = AtomicU32::new(0);

/// The first differing byte, if any.
fn first_change(page: &SharedPage) -> Option<(usize, u8)> {
    let mut buf = [0u8; 4096];
    page.read(0, &mut buf);
    buf.iter()
        .enumerate()
        .find(|(i, b)| **b != canary_byte(*i))
        .map(|(i, b)| (i, *b))
}

fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let mut r = Report::new(name);
    let wait = Duration::from_millis(args.get_u64("wait-ms").unwrap_or(50_000));
    let port = args.get_u64("peer-port").map(|p| p as u32);
    let Some(page) = SharedPage::new() else {
        r.check("canary-page", false, format_args!("no heap page"));
        return finish(&r);
    };
    let mut pattern = [0u8; 4096];
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = canary_byte(i);
    }
    page.write(0, &pattern);
    let remote = port.and_then(|p| k.evtchn_remote(p).ok());
    let (Some(port), Some((mediator, _))) = (port, remote) else {
        r.check(
            "canary-channel",
            false,
            format_args!("no peer-port= or no static channel"),
        );
        return finish(&r);
    };
    let _ = k.on_event(port, |_, _| {
        EVENTS.fetch_add(1, Ordering::Relaxed);
    });
    let gref = k.grant_access(mediator, &page, true);
    r.check(
        "canary-granted",
        gref == Ok(8),
        format_args!(
            "page gfn={:#x} read-only to dom{mediator}: {gref:?}",
            page.gfn()
        ),
    );
    let sent = k.evtchn_send(port);
    println!("TSD-INFO {name} canary filled and granted, told dom{mediator}: {sent:?}");
    let mut seen = None;
    let done = k.run_until(k.after(wait), |_| {
        if seen.is_none() {
            seen = first_change(&page);
        }
        EVENTS.load(Ordering::Relaxed) > 0
    });
    let now = first_change(&page);
    r.check(
        "canary-unchanged",
        done && seen.is_none() && now.is_none(),
        format_args!(
            "mediator done={done}; first change while waiting {seen:?}, at the end {now:?} (offset, byte)"
        ),
    );
    finish(&r)
}

fn finish(r: &Report) {
    println!(
        "TSD-RESULT {} passed={} failed={} status={}",
        r.name,
        r.passed,
        r.failed,
        if r.failed == 0 { "PASS" } else { "FAIL" }
    );
}
