//! Host cost of a null INVOKE with one 4-page memref through the mediator
//! core, and heap allocations per call after warm-up.
//!
//! Two platforms:
//! - `flat`: a minimal allocation-free platform (guest RAM in one array,
//!   pin counters per page, a fixed pool of shadow pages, a secure world
//!   that reads the shadowed argument and page list and answers OK;
//!   `tests/flat/`, shared with `tests/warm_path.rs`, which asserts that a
//!   warm call allocates nothing). This measures the mediator itself.
//! - `sim`: the full simulators (OP-TEE state machine, BTreeMap-based
//!   memory), for an end-to-end figure; the simulators allocate, so only
//!   time is meaningful there.
//!
//! Run: `cargo bench -p mediator --features sim --bench null_invoke`.

#[path = "../tests/flat/mod.rs"]
mod flat;

use std::time::Instant;

use flat::{allocs, call_regs, setup_arg, Flat, G, RAM};
use mediator::{Config, Mediator};

fn measure<P: mediator::Platform>(name: &str, m: &mut Mediator, p: &mut P, n: u64) {
    let regs = call_regs();
    for _ in 0..1000 {
        let r = m.handle_call(p, G, regs);
        assert_eq!(r[0], 0);
    }
    let a0 = allocs();
    let t0 = Instant::now();
    for _ in 0..n {
        let r = m.handle_call(p, G, std::hint::black_box(regs));
        std::hint::black_box(r);
    }
    let dt = t0.elapsed();
    let allocs = allocs() - a0;
    println!(
        "{name}: {:.0} ns per null INVOKE with a 4-page memref, {:.3} heap allocations per call ({n} calls)",
        dt.as_nanos() as f64 / n as f64,
        allocs as f64 / n as f64
    );
}

fn main() {
    let n: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200_000);

    let mut flat = Flat::new();
    let mut m = Mediator::new(Config::default(), 8);
    m.guest_created(&mut flat, G, "bench").unwrap();
    setup_arg(&mut flat, G, 1);
    measure("flat platform (mediator only)", &mut m, &mut flat, n);
    assert!(flat.pins.iter().all(|c| *c == 0));

    let mut w = mediator::sim::World::new(8, Config::default(), &[G]);
    w.p.optee.record = false;
    w.exchange(G);
    let s = w.open(G, RAM + 16 * 4096, mediator::sim::SIM_TA).session;
    setup_arg(&mut w.p, G, s);
    measure(
        "full simulators (OP-TEE model included)",
        &mut w.m,
        &mut w.p,
        n / 4,
    );
    assert_eq!(w.p.mem.pins(G), 0);
}
