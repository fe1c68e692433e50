//! The mediator domain's command line (`/chosen/bootargs`).
//!
//! `name=mediator guests=0:dom0:dom0_t,2:domu1:tee_guest_t stats-ms=2000 poll-us=0 notif=1`
//!
//! - `guests=`: what Xen does not tell the mediator about a TEE domain: a display name (the
//!   domain's name in the run's markers) and its security label (the FLASK type, which selects
//!   the core's per-label policy). Unlisted domains are `domN` with an empty label (default
//!   limits).
//! - `stats-ms=`: print the `TSD-STATS` lines of guests whose counters changed, at most this
//!   often (0: only at teardown and on request).
//! - `poll-us=`: after serving, poll the ring this long before blocking (0: block at once; default 200). A
//!   busy guest's next call then finds the mediator running (saves a vCPU block and wake-up:
//!   ~110 µs of a ~200 µs round trip under TCG) at the price of a busy pCPU.
//! - `notif=`: offer OP-TEE's asynchronous notifications to guests (`1`, the default: the
//!   mediator takes OP-TEE's notification SPI that Xen routes to it, fetches the values per guest
//!   with each guest's client ID and raises that guest's interrupt) or mask
//!   `OPTEE_SMC_SEC_CAP_ASYNC_NOTIF` in EXCHANGE_CAPABILITIES (`0`).
//! - `max-buffers=`, `max-pages=`, `max-pinned=`: the core's per-guest limits (Xen's by
//!   default: 16 buffers, 129 pages per buffer, 16384 pinned pages).
//! - `execute=`: who makes the secure calls of a guest's call: the guest's own vCPU, on its
//!   pCPU, on the mediator's word (`1`, the default; hv-patches 0013: OP-TEE's time is the
//!   guest's and guests run in parallel), or the mediator's vCPU, one call at a time (`0`).
//! - `direct-intr=`: with `execute=1`, let OP-TEE's foreign interrupts go straight to the guest
//!   and its resumes from them be Xen's (`1`, the default; hv-patches 0015), or make each one a
//!   round trip through the mediator (`0`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A TEE domain as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestName {
    /// Xen domain ID.
    pub domid: u16,
    /// Name in markers.
    pub name: String,
    /// Security label.
    pub label: String,
}

/// Parses `guests=` (`DOMID:NAME[:LABEL],...`); malformed entries are skipped.
pub fn parse_guests(v: &str) -> Vec<GuestName> {
    v.split(',')
        .filter_map(|e| {
            let mut it = e.split(':');
            let domid = it.next()?.trim().parse::<u16>().ok()?;
            let name = it.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let label = it.next().unwrap_or("").trim();
            Some(GuestName {
                domid,
                name: name.to_string(),
                label: label.to_string(),
            })
        })
        .collect()
}

/// The name and label of `domid` from `guests`.
pub fn lookup(guests: &[GuestName], domid: u16) -> (String, String) {
    match guests.iter().find(|g| g.domid == domid) {
        Some(g) => (g.name.clone(), g.label.clone()),
        None => (alloc::format!("dom{domid}"), String::new()),
    }
}
