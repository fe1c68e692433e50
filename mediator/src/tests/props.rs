//! Property tests: random guest action sequences (the same interpreter as
//! the fuzz target) never panic, never leak pins, never let one guest's
//! data reach OP-TEE on behalf of another.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_guest_actions_keep_invariants(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        crate::sim::script::run(&data);
    }
}
