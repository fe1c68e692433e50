//! An interpreter that turns arbitrary bytes into a sequence of guest
//! actions against the mediator (two guests, small limits, faults and
//! mutations), checking the mediator's invariants after every step. Shared
//! by the property tests and the cargo-fuzz target; any invariant failure
//! panics.
//!
//! Invariants checked:
//! - the simulated OP-TEE records no protocol violation (arguments, page
//!   lists and RPC buffers in mediator memory, no contiguous tmem, no memref
//!   page belonging to another guest, no call for an unknown client);
//! - no page is unpinned that was not pinned;
//! - the platform's pin count for each guest equals the mediator's own
//!   accounting, and the shared-buffer pages stay within the limit;
//! - after every guest is destroyed: nothing pinned, every shadow page back
//!   in the mediator's cache, exactly one VM_DESTROYED per VM_CREATED.
//!
//! [`run_with`] drives the calls through the step API instead (as the stub
//! domain does, [`World::drive`]) and returns what the guests saw, so that
//! the property tests can compare both ways.

use alloc::vec::Vec;

use super::world::World;
use super::SIM_TA;
use crate::abi::{msg, ret, smc, split, Param};
use crate::config::{Config, Limits};
use crate::stats::GuestStats;
use crate::types::{DomId, Regs};
use crate::{Progress, Reply};

const GUESTS: [DomId; 2] = [DomId::new(1).unwrap(), DomId::new(2).unwrap()];
const RAM: u64 = 0x4000_0000;
const PAGES: u64 = 96;
const ARG: u64 = RAM;
const LIST: u64 = RAM + 8 * 4096;
const DATA: u64 = RAM + 16 * 4096;
const DRV: u64 = RAM + 48 * 4096;

struct Bytes<'a> {
    d: &'a [u8],
    i: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.i >= self.d.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.d.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        b
    }
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n.max(1)
    }
    fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = (v << 8) | u64::from(self.u8());
        }
        v
    }
}

/// Every function ID of `optee_smc.h` the ABI module names (the guest's and the hypervisor's).
pub(crate) const FIDS: [u32; 18] = [
    smc::CALLS_COUNT,
    smc::CALLS_UID,
    smc::CALLS_REVISION,
    smc::GET_OS_UUID,
    smc::GET_OS_REVISION,
    smc::RETURN_FROM_RPC,
    smc::CALL_WITH_ARG,
    smc::GET_SHM_CONFIG,
    smc::EXCHANGE_CAPABILITIES,
    smc::DISABLE_SHM_CACHE,
    smc::ENABLE_SHM_CACHE,
    smc::VM_CREATED,
    smc::VM_DESTROYED,
    smc::GET_THREAD_COUNT,
    smc::ENABLE_ASYNC_NOTIF,
    smc::GET_ASYNC_NOTIF_VALUE,
    smc::CALL_WITH_RPC_ARG,
    smc::CALL_WITH_REGD_ARG,
];

const ATTRS: [u64; 14] = [
    msg::ATTR_TYPE_NONE,
    msg::ATTR_TYPE_VALUE_INPUT,
    msg::ATTR_TYPE_VALUE_OUTPUT,
    msg::ATTR_TYPE_VALUE_INOUT,
    msg::ATTR_TYPE_RMEM_INPUT,
    msg::ATTR_TYPE_RMEM_OUTPUT,
    msg::ATTR_TYPE_RMEM_INOUT,
    msg::ATTR_TYPE_TMEM_INPUT | msg::ATTR_NONCONTIG,
    msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
    msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
    msg::ATTR_TYPE_TMEM_INPUT,
    0x4,
    msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META,
    msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG | msg::ATTR_META,
];

struct State {
    w: World,
    last: [Regs; 2],
    alive: [bool; 2],
    created: [u32; 2],
    /// The guest's (single) vCPU waits for an OP-TEE thread.
    held: [bool; 2],
    /// What the guests saw.
    trace: Trace,
}

/// What the guests of one run saw: every answer (a call kept waiting is
/// `None`), and each guest's statistics and OP-TEE's SMC count after every
/// step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The answers, in order.
    pub answers: Vec<Option<Regs>>,
    /// Statistics of both guests and OP-TEE's SMC count, after every step.
    pub after_steps: Vec<([Option<GuestStats>; 2], u64)>,
}

/// Guest `gi` traps `regs`, as the product submits it. A vCPU whose call
/// waits makes no call (it is paused); its answer arrives in [`deliver`].
/// Checks that a guest holding no OP-TEE thread is never answered
/// ETHREAD_LIMIT (Linux would wait for a call of its own that does not exist).
fn call(s: &mut State, gi: usize, regs: Regs) -> Regs {
    let g = GUESTS[gi];
    if s.held[gi] {
        return s.last[gi];
    }
    let reply = s.w.submit(g, gi as u64, regs);
    s.trace.answers.push(match reply {
        Reply::Now(r) => Some(r),
        Reply::Held => None,
    });
    match reply {
        Reply::Now(r) => {
            let std_start = matches!(
                u32::try_from(regs[0] & 0xFFFF_FFFF),
                Ok(smc::CALL_WITH_ARG | smc::CALL_WITH_RPC_ARG | smc::CALL_WITH_REGD_ARG)
            );
            if std_start && r[0] == ret::ETHREAD_LIMIT {
                assert!(
                    s.w.m.suspended_calls(g) > 0,
                    "ETHREAD_LIMIT for a guest that holds no OP-TEE thread"
                );
            }
            r
        }
        Reply::Held => {
            s.held[gi] = true;
            s.last[gi]
        }
    }
}

/// The answers of waiting calls that are due.
fn deliver(s: &mut State) {
    for (g, tag, r) in s.w.answers() {
        let gi = usize::try_from(tag).unwrap_or(0) % 2;
        assert_eq!(GUESTS[gi], g, "an answer for the wrong guest");
        assert!(s.held[gi], "an answer for a vCPU that does not wait");
        s.held[gi] = false;
        s.last[gi] = r;
        s.trace.answers.push(Some(r));
    }
}

fn config() -> Config {
    Config {
        default_limits: Limits {
            max_pages_per_buffer: 8,
            max_buffers: 4,
            max_pinned_pages: 16,
            ..Limits::default()
        },
        labels: Vec::new(),
        ..Config::default()
    }
}

/// Runs the action sequence encoded by `data`, panicking if an invariant
/// breaks.
pub fn run(data: &[u8]) {
    run_with(data, false);
}

/// [`run`], through the step API when `steps` ([`World::steps`]); returns
/// what the guests saw.
pub fn run_with(data: &[u8], steps: bool) -> Trace {
    let mut w = World::new(2, config(), &[]);
    w.steps = steps;
    w.p.optee.record = false;
    for (i, g) in GUESTS.iter().enumerate() {
        w.p.mem.add_guest(*g, RAM, PAGES);
        let pattern = [0x11u8.wrapping_mul(i as u8 + 1); 4096];
        for p in 0..32 {
            w.p.mem.poke(*g, DATA + p * 4096, &pattern);
        }
        w.add(*g, "default");
        if let Some(d) = w.drivers.get_mut(g) {
            d.next_page = DRV + 32 * 4096;
        }
    }
    let mut s = State {
        w,
        last: [[0; 8]; 2],
        alive: [true; 2],
        created: [1; 2],
        held: [false; 2],
        trace: Trace::default(),
    };
    let mut b = Bytes { d: data, i: 0 };
    let mut steps = 0;
    while !b.done() && steps < 512 {
        steps += 1;
        let gi = b.pick(2);
        step(&mut s, &mut b, gi);
        deliver(&mut s);
        check(&s);
        let stats = GUESTS.map(|g| s.w.m.stats(g));
        s.trace.after_steps.push((stats, s.w.p.optee.smc_count));
    }
    // Teardown of everything.
    for (gi, g) in GUESTS.iter().enumerate() {
        if s.alive[gi] {
            let mut n = 0;
            while s.w.m.guest_destroying(&mut s.w.p, *g, 3) == Progress::Pending {
                n += 1;
                assert!(n < 100_000, "teardown does not terminate");
            }
        }
        assert_eq!(s.w.p.mem.pins(*g), 0, "pins left after teardown");
        let client = crate::types::ClientId::of(*g).raw();
        let c = s.w.p.optee.vm_created.get(&client).copied().unwrap_or(0);
        let d = s.w.p.optee.vm_destroyed.get(&client).copied().unwrap_or(0);
        assert_eq!(c, d, "VM_CREATED/VM_DESTROYED mismatch");
        assert_eq!(c, s.created[gi]);
    }
    assert_eq!(s.w.p.mem.total_pins(), 0);
    assert_eq!(s.w.p.mem.shadow_outstanding(), s.w.m.cached_shadow_pages());
    check(&s);
    s.trace
}

fn check(s: &State) {
    assert!(
        s.w.p.optee.violations.is_empty(),
        "OP-TEE saw a violation: {:?}",
        s.w.p.optee.violations
    );
    assert_eq!(s.w.p.mem.bad_unpins, 0, "unpin of an unpinned page");
    // OP-TEE's threads are global: no two suspended calls (of any guests) name the same one.
    let mut threads: Vec<u32> = GUESTS
        .iter()
        .flat_map(|g| s.w.m.suspended(*g).map(|c| c.thread))
        .collect();
    let n = threads.len();
    threads.sort_unstable();
    threads.dedup();
    assert_eq!(
        threads.len(),
        n,
        "two suspended calls name one OP-TEE thread"
    );
    for g in GUESTS {
        if let Some(st) = s.w.m.stats(g) {
            assert_eq!(
                s.w.p.mem.pins(g) as u64,
                st.pinned_pages,
                "platform and mediator disagree on pins"
            );
            assert!(s.w.m.shm_pages(g) <= 16, "pinned-page limit exceeded");
        }
    }
}

fn step(s: &mut State, b: &mut Bytes<'_>, gi: usize) {
    let g = GUESTS[gi];
    match b.u8() % 12 {
        0 => {
            let fid = FIDS[b.pick(FIDS.len())];
            let regs = [
                u64::from(fid),
                b.u64(),
                b.u64(),
                u64::from(b.u8()),
                0,
                0,
                0,
                0,
            ];
            let r = call(s, gi, regs);
            s.last[gi] = r;
        }
        1 => write_arg(s, b, g),
        2 => write_list(s, b, g),
        3 => {
            let r = match b.pick(3) {
                0 => {
                    let ipa = ARG + b.pick(8) as u64 * 4096 + if b.pick(8) == 0 { 8 } else { 0 };
                    let (hi, lo) = split(ipa);
                    call(
                        s,
                        gi,
                        [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0],
                    )
                }
                1 => {
                    let ipa = ARG + b.pick(8) as u64 * 4096 + b.pick(4) as u64 * 64;
                    let (hi, lo) = split(ipa);
                    call(
                        s,
                        gi,
                        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
                    )
                }
                _ => {
                    let off = u64::from(b.u8()) * 64;
                    call(
                        s,
                        gi,
                        [
                            u64::from(smc::CALL_WITH_REGD_ARG),
                            0,
                            b.pick(6) as u64,
                            off,
                            0,
                            0,
                            0,
                            0,
                        ],
                    )
                }
            };
            s.last[gi] = r;
        }
        4 => {
            let last = s.last[gi];
            let t = if b.pick(4) == 0 {
                u64::from(b.u8())
            } else {
                last[3]
            };
            let page = DRV + b.pick(48) as u64 * 4096 + if b.pick(8) == 0 { 8 } else { 0 };
            let (hi, lo) = split(page);
            let cookie = b.pick(6) as u64;
            let r = call(
                s,
                gi,
                [u64::from(smc::RETURN_FROM_RPC), hi, lo, t, 0, cookie, 0, 0],
            );
            s.last[gi] = r;
        }
        5 => {
            // Answer an RPC command in an RPC page like (or unlike) a driver.
            let page = DRV + b.pick(48) as u64 * 4096;
            let mut a = [0u8; 64];
            crate::abi::write_u32(&mut a, 0, u32::from(b.u8() % 8));
            crate::abi::write_u32(&mut a, 20, if b.pick(4) == 0 { 0xFFFF_0000 } else { 0 });
            let np = if b.pick(8) == 0 {
                u32::from(b.u8()) * 40
            } else {
                1
            };
            crate::abi::write_u32(&mut a, 28, np);
            crate::abi::write_u64(&mut a, 32, ATTRS[b.pick(ATTRS.len())]);
            crate::abi::write_u64(&mut a, 40, buf_ptr(b));
            crate::abi::write_u64(&mut a, 48, size(b));
            crate::abi::write_u64(&mut a, 56, b.pick(6) as u64);
            s.w.p.mem.poke(g, page, &a);
            let t = s.last[gi][3];
            let r = call(
                s,
                gi,
                [u64::from(smc::RETURN_FROM_RPC), 0, 0, t, 0, 0, 0, 0],
            );
            s.last[gi] = r;
        }
        6 => {
            let ipa = if b.pick(2) == 0 {
                ARG + b.pick(8) as u64 * 4096 + b.pick(16) as u64 * 8
            } else {
                LIST + b.pick(8) as u64 * 4096 + b.pick(16) as u64 * 8
            };
            let v = b.u64().to_le_bytes();
            let after = u64::from(b.u8() % 6);
            s.w.p.mem.mutate_after_reads(g, after, ipa, &v);
        }
        7 => {
            let regs = [b.u64(), b.u64(), b.u64(), b.u64(), b.u64(), b.u64(), 0, 0];
            let r = call(s, gi, regs);
            s.last[gi] = r;
        }
        8 => {
            s.w.fast(g, smc::ENABLE_ASYNC_NOTIF);
            s.w.p
                .optee
                .post_notif(crate::types::ClientId::of(g).raw(), u32::from(b.u8()));
            let mut n = 0;
            s.w.m.async_notification(&mut s.w.p, |_| n += 1);
            s.w.fast(g, smc::GET_ASYNC_NOTIF_VALUE);
        }
        9 => {
            // Partial or complete teardown, then recreation.
            if !s.alive[gi] {
                if s.w.add(g, "default") {
                    s.created[gi] += 1;
                }
                if let Some(d) = s.w.drivers.get_mut(&g) {
                    d.next_page = DRV + 32 * 4096;
                }
                s.alive[gi] = true;
                return;
            }
            let budget = b.pick(8) + 1;
            let complete = b.pick(3) == 0;
            // A dying guest's vCPUs no longer run: a waiting call is dropped.
            s.held[gi] = false;
            loop {
                let p = s.w.m.guest_destroying(&mut s.w.p, g, budget);
                if p == Progress::Done {
                    assert_eq!(s.w.p.mem.pins(g), 0, "pins left after teardown");
                    s.alive[gi] = false;
                    break;
                }
                if !complete {
                    break;
                }
            }
        }
        10 => {
            let page = RAM + b.pick(PAGES as usize) as u64 * 4096;
            match b.pick(4) {
                0 => s.w.p.mem.inject_fault(g, page),
                1 => s.w.p.mem.inject_write_fault(g, page),
                2 => s.w.p.mem.inject_pin_failure(g, page),
                // Time passes: waiting calls may run out of their bound.
                _ => s.w.now_ms += u64::from(b.u8()) * 500,
            }
        }
        _ => {
            // A well-behaved driver finishes whatever RPC is pending.
            let mut r = s.last[gi];
            let mut n = 0;
            while ret::is_rpc(r[0]) && n < 16 {
                n += 1;
                let a = s.w.answer_rpc(g, &r);
                r = call(s, gi, a);
            }
            s.last[gi] = r;
        }
    }
}

fn buf_ptr(b: &mut Bytes<'_>) -> u64 {
    match b.pick(4) {
        0 => 0,
        1 => b.u64(),
        _ => LIST + b.pick(8) as u64 * 4096 + u64::from(b.u8() % 4) * 0x400,
    }
}

fn size(b: &mut Bytes<'_>) -> u64 {
    match b.pick(4) {
        0 => b.u64(),
        1 => 0,
        _ => u64::from(b.u8()) * 97,
    }
}

fn write_arg(s: &mut State, b: &mut Bytes<'_>, g: DomId) {
    let ipa = ARG + b.pick(8) as u64 * 4096 + b.pick(4) as u64 * 64;
    let cmd = [0, 1, 2, 3, 4, 5, 6, 99][b.pick(8)];
    let func = b.pick(7) as u32;
    let session = b.pick(4) as u32;
    let n = if b.pick(16) == 0 { 130 } else { b.pick(5) };
    let mut params = Vec::new();
    let (ua, ub) = SIM_TA.to_words();
    for i in 0..n.min(8) {
        let attr = ATTRS[b.pick(ATTRS.len())];
        let p = if cmd == msg::CMD_OPEN_SESSION && i < 2 && b.pick(4) != 0 {
            Param {
                attr: msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META,
                a: ua,
                b: ub,
                c: 0,
            }
        } else {
            Param {
                attr,
                a: buf_ptr(b),
                b: size(b),
                c: b.pick(6) as u64,
            }
        };
        params.push(p);
    }
    s.w.write_arg(g, ipa, cmd, func, session, &params);
    if n > 8 {
        s.w.p.mem.poke(g, ipa + 28, &(n as u32).to_le_bytes());
    }
}

fn write_list(s: &mut State, b: &mut Bytes<'_>, g: DomId) {
    let lp = LIST + b.pick(8) as u64 * 4096;
    let k = b.pick(10);
    let mut page = [0u8; 4096];
    for j in 0..k {
        let e = match b.pick(8) {
            0 => b.u64(),
            1 => DATA + b.pick(32) as u64 * 4096 + 4,
            2 => DRV + b.pick(48) as u64 * 4096,
            _ => DATA + b.pick(32) as u64 * 4096,
        };
        crate::abi::write_u64(&mut page, j * 8, e);
    }
    if b.pick(4) == 0 {
        crate::abi::write_u64(&mut page, 511 * 8, LIST + b.pick(8) as u64 * 4096);
    }
    s.w.p.mem.poke(g, lp, &page);
}
