//! Property tests: random guest action sequences (the same interpreter as
//! the fuzz target) never panic, never leak pins, never let one guest's
//! data reach OP-TEE on behalf of another, and give the guests the same
//! answers and statistics whether driven through the synchronous API or
//! the step API.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_guest_actions_keep_invariants(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        crate::sim::script::run(&data);
    }

    #[test]
    fn the_step_api_answers_as_the_synchronous_one(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let sync = crate::sim::script::run_with(&data, false);
        let steps = crate::sim::script::run_with(&data, true);
        prop_assert_eq!(sync, steps);
    }
}
