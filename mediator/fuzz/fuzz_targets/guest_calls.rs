//! Fuzzes the guest-facing entry point (`Mediator::handle_call`) with
//! sequences of guest actions decoded from the input: raw and structured
//! calls from two guests, arguments, page lists and RPC answers in guest
//! memory, memory changed between reads, faults, notifications, teardown
//! and recreation. The interpreter panics when an invariant breaks
//! (protocol violation seen by the simulated OP-TEE, pin leak, pin
//! accounting mismatch, VM_CREATED/VM_DESTROYED imbalance).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mediator::sim::script::run(data);
});
