//! The test mediator's decisions, separate from its image so that they test on the host.
//!
//! The image (`src/main.rs`) registers with Xen's OP-TEE forwarder (`tee=stubdom`, the hook of
//! `hv-patches/0005`) and serves the ring: for each forwarded call [`decide`] says whether to
//! forward it to OP-TEE (with the guest's client ID in x7, Arm DEN 0028 / OP-TEE
//! `optee_smc.h`), answer it itself, or run one of the test-only functions the hook self-test
//! uses. It is no mediator core: only OP-TEE's fast calls that carry no memory are served.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use mediator::abi::{caps, ret, smc};

/// Test-only function (Trusted OS owner, fast, SMC32): "pin my page x1 and tell me its machine
/// address". OP-TEE does not implement it; only this test mediator does.
pub const FID_TEST_PIN: u32 = 0xB200_FF10;
/// Test-only function: "crash now, without answering": the pending-call-on-crash check.
pub const FID_TEST_CRASH: u32 = 0xB200_FF11;
/// Test-only function: "raise my TEE notification interrupt, then answer".
pub const FID_TEST_NOTIFY: u32 = 0xB200_FF12;
/// Test-only function: "have my vCPU make OP-TEE fast call x1 with x2 (hv-patches 0013's
/// EXECUTE), claiming client x3 in x7, and answer with the outcome": x0–x3 of OP-TEE's answer,
/// or [`ret::EBADCMD`] and Xen's refusal (a positive errno) in x1. Xen must ignore the claimed
/// client and use the caller's.
pub const FID_TEST_EXECUTE: u32 = 0xB200_FF13;

/// SMCCC: bit 31 of the function ID marks a fast call (DEN 0028 §2.5).
pub const FAST_CALL: u32 = 1 << 31;

/// What to do with a forwarded call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Issue this SMC to OP-TEE (x7 already holds the client ID) and answer with its result.
    Forward([u64; 8]),
    /// Answer the guest with these registers.
    Answer([u64; 8]),
    /// Pin the guest's page `gfn`.
    TestPin(u64),
    /// Raise the guest's notification interrupt.
    TestNotify,
    /// Crash the mediator.
    TestCrash,
    /// Have the caller's vCPU make this secure call (`RESPOND_EXECUTE`); answer the guest
    /// with [`execute_answer`] of its outcome.
    TestExecute([u64; 8]),
}

/// The guest's answer to [`FID_TEST_EXECUTE`] from the RESULT's `x` and `status`.
pub fn execute_answer(x: &[u64; 8], status: i32) -> [u64; 8] {
    if status == 0 {
        [x[0], x[1], x[2], x[3], 0, 0, 0, 0]
    } else {
        [
            ret::EBADCMD,
            u64::from(status.unsigned_abs()),
            0,
            0,
            0,
            0,
            0,
            0,
        ]
    }
}

/// OP-TEE's client ID of a guest: domid + 1 (0 is the hypervisor; Xen's optee.c does the same).
pub fn client_id(domid: u16) -> u64 {
    u64::from(domid) + 1
}

/// Decide on a guest's call `x` (x0–x7 as trapped) from `domid`.
pub fn decide(domid: u16, x: &[u64; 8]) -> Action {
    // SMCCC: the function ID is w0; the upper half of x0 is ignored (DEN 0028 §2.5).
    let fid = x[0] as u32;
    match fid {
        FID_TEST_PIN => Action::TestPin(x[1]),
        FID_TEST_NOTIFY => Action::TestNotify,
        FID_TEST_CRASH => Action::TestCrash,
        FID_TEST_EXECUTE => Action::TestExecute([x[1] & 0xFFFF_FFFF, x[2], 0, 0, 0, 0, 0, x[3]]),
        // Only the hypervisor's client may announce clients.
        smc::VM_CREATED | smc::VM_DESTROYED => {
            Action::Answer([ret::UNKNOWN_FUNCTION, 0, 0, 0, 0, 0, 0, 0])
        }
        // OP-TEE's fast calls carry no memory reference (UID, revisions, capabilities, thread
        // count, shm cache, async notification): forward them as they are, with the guest's
        // client ID. Yielding calls (messages in guest memory) need the mediator core.
        _ if fid & FAST_CALL != 0 => {
            let mut f = [0; 8];
            f[0] = u64::from(fid);
            f[1..7].copy_from_slice(&x[1..7]);
            f[7] = client_id(domid);
            Action::Forward(f)
        }
        _ => Action::Answer([ret::UNKNOWN_FUNCTION, 0, 0, 0, 0, 0, 0, 0]),
    }
}

/// OP-TEE's answer `a` to a forwarded call `fid`, as the guest may see it. EXCHANGE_CAPABILITIES
/// loses ASYNC_NOTIF (this mediator does not keep per-guest notification values, and a guest
/// whose `/firmware/optee` names no interrupt would refuse to probe) and HAVE_RESERVED_SHM (the
/// static shared memory belongs to no guest), as Xen's optee.c does for the latter.
pub fn filter_answer(fid: u32, mut a: [u64; 8]) -> [u64; 8] {
    if fid == smc::EXCHANGE_CAPABILITIES && a[0] == ret::OK {
        a[1] &= !(caps::SEC_ASYNC_NOTIF | caps::SEC_HAVE_RESERVED_SHM);
    }
    a
}

/// The SMC that tells OP-TEE a client appeared (`VM_CREATED`) or went away (`VM_DESTROYED`):
/// x1 the client, x7 = 0 because only the hypervisor's client ID may issue them.
pub fn vm_call(created: bool, domid: u16) -> [u64; 8] {
    let fid = if created {
        smc::VM_CREATED
    } else {
        smc::VM_DESTROYED
    };
    [u64::from(fid), client_id(domid), 0, 0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_asks_for_the_named_call_and_answers_its_outcome() {
        let x = [
            u64::from(FID_TEST_EXECUTE),
            1 << 32 | u64::from(smc::CALLS_UID),
            7,
            3,
            0,
            0,
            0,
            0,
        ];
        assert_eq!(
            decide(2, &x),
            Action::TestExecute([u64::from(smc::CALLS_UID), 7, 0, 0, 0, 0, 0, 3])
        );
        let x = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(execute_answer(&x, 0), [1, 2, 3, 4, 0, 0, 0, 0]);
        assert_eq!(execute_answer(&x, -1), [ret::EBADCMD, 1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn fast_calls_are_forwarded_with_the_guests_client_id() {
        let x = [u64::from(smc::CALLS_UID), 1, 2, 3, 4, 5, 6, 0xdead];
        assert_eq!(
            decide(4, &x),
            Action::Forward([u64::from(smc::CALLS_UID), 1, 2, 3, 4, 5, 6, 5])
        );
        // A guest cannot choose its client ID, nor hide the function ID in the upper half.
        let x = [
            0xFFFF_FFFF_0000_0000 | u64::from(smc::GET_OS_UUID),
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        assert!(
            matches!(decide(1, &x), Action::Forward(f) if f[0] == u64::from(smc::GET_OS_UUID) && f[7] == 2)
        );
    }

    #[test]
    fn every_fast_call_but_vm_announcements_is_forwarded() {
        let x = [u64::from(smc::EXCHANGE_CAPABILITIES), 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(decide(7, &x), Action::Forward(f) if f[7] == 8));
    }

    #[test]
    fn everything_else_is_unknown_or_a_test_function() {
        let unknown = Action::Answer([ret::UNKNOWN_FUNCTION, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decide(1, &[u64::from(smc::CALL_WITH_ARG), 0, 0, 0, 0, 0, 0, 0]),
            unknown
        );
        assert_eq!(
            decide(1, &[u64::from(smc::VM_CREATED), 0, 0, 0, 0, 0, 0, 0]),
            unknown
        );
        assert_eq!(
            decide(1, &[u64::from(FID_TEST_PIN), 0x40001, 0, 0, 0, 0, 0, 0]),
            Action::TestPin(0x40001)
        );
        assert_eq!(
            decide(1, &[u64::from(FID_TEST_CRASH), 0, 0, 0, 0, 0, 0, 0]),
            Action::TestCrash
        );
    }

    #[test]
    fn capabilities_lose_async_notif_and_reserved_shm() {
        let a = [
            ret::OK,
            caps::SEC_ASYNC_NOTIF | caps::SEC_DYNAMIC_SHM | 1,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        let f = filter_answer(smc::EXCHANGE_CAPABILITIES, a);
        assert_eq!(f[1], caps::SEC_DYNAMIC_SHM);
        assert_eq!(filter_answer(smc::CALLS_UID, a), a);
    }

    #[test]
    fn vm_calls_come_from_the_hypervisor_client() {
        assert_eq!(
            vm_call(true, 2),
            [u64::from(smc::VM_CREATED), 3, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(vm_call(false, 2)[0], u64::from(smc::VM_DESTROYED));
    }
}
