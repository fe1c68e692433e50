//! The claim of `src/guest.rs` and `README.md` ("Measured"): after warm-up, a call through the
//! mediator core makes no heap allocation. Checked on the allocation-free platform of `flat/`
//! with a counting global allocator, for the synchronous driver (`Mediator::handle_call`) and
//! for the step API the stub domain drives (`Mediator::start` → `Step::Execute` → the caller's
//! secure call → `Mediator::result`). `benches/null_invoke.rs` measures the same path's time.

mod flat;

use flat::{allocs, call_regs, setup_arg, Flat, G};
use mediator::{Config, Mediator, SecureWorld, Step};

/// Calls before counting: the guest's spare calls, buffers and page lists and the mediator's
/// shadow-page pool fill on the first calls.
const WARM_UP: usize = 100;
/// Calls counted.
const COUNTED: usize = 1000;

fn warm_guest() -> (Mediator, Flat) {
    let mut p = Flat::new();
    let mut m = Mediator::new(Config::default(), 8);
    m.guest_created(&mut p, G, "warm").unwrap();
    setup_arg(&mut p, G, 1);
    (m, p)
}

/// Allocations made by `n` runs of `call`, which must answer x0 = OK.
fn allocations(n: usize, mut call: impl FnMut() -> u64) -> u64 {
    let before = allocs();
    for _ in 0..n {
        let x0 = call();
        // Checked after counting: a failed assertion's message allocates.
        if x0 != 0 {
            panic!("call answered x0 = {x0:#x}");
        }
    }
    allocs() - before
}

/// Warms `call` up, then counts the allocations of [`COUNTED`] more: none.
fn assert_warm_calls_allocate_nothing(mut call: impl FnMut() -> u64) {
    allocations(WARM_UP, &mut call);
    let n = allocations(COUNTED, &mut call);
    assert_eq!(n, 0, "allocations in {COUNTED} warm calls");
}

#[test]
fn a_warm_call_allocates_nothing() {
    let (mut m, mut p) = warm_guest();
    let regs = call_regs();
    let mut call = || m.handle_call(&mut p, G, std::hint::black_box(regs))[0];
    assert_warm_calls_allocate_nothing(&mut call);
    assert!(p.pins.iter().all(|c| *c == 0), "pins left after the calls");
}

#[test]
fn a_warm_call_through_the_steps_allocates_nothing() {
    let (mut m, mut p) = warm_guest();
    let regs = call_regs();
    let mut call = || {
        let mut step = m.start(&mut p, G, 7, std::hint::black_box(regs), 0);
        loop {
            match step {
                Step::Return(x) => return x[0],
                // Nothing else holds an OP-TEE thread: a call never waits here.
                Step::Held => return u64::MAX,
                Step::Execute(r) => {
                    let res = p.smc(r);
                    step = m.result(&mut p, G, 7, res, 0).unwrap_or(Step::Held);
                }
            }
        }
    };
    assert_warm_calls_allocate_nothing(&mut call);
    assert!(p.pins.iter().all(|c| *c == 0), "pins left after the calls");
}

/// The counter sees the allocations it is meant to find, so a zero above means none.
#[test]
fn the_counter_counts() {
    let before = allocs();
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(4));
    assert_eq!(allocs() - before, 1);
    drop(v);
}
